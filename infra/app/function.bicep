// Flex Consumption plan (FC1) and the Python 3.11 function app.
// The app runs as the user-assigned identity: host storage (AzureWebJobsStorage__*), the deployment
// package, Key Vault references and Application Insights all authenticate with it; no keys or
// connection strings with secrets are stored.
//
// App settings: `appSettings` (from main.bicep, one entry per setting the code reads, see
// shared/config.py) plus the host/identity settings below. tests/infra checks both against
// shared.config.SETTINGS. Flex Consumption sets the runtime in functionAppConfig, so
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE and the content share
// settings must not be set (they are deprecated on this plan).

@description('Name of the function app (globally unique; also the host name <name>.azurewebsites.net).')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region (must offer Flex Consumption).')
param location string

@description('Tags for the resources.')
param tags object

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

@description('Name of the storage account used as AzureWebJobsStorage.')
param storageAccountName string

@description('Blob endpoint of the storage account.')
param blobEndpoint string

@description('Queue endpoint of the storage account.')
param queueEndpoint string

@description('Table endpoint of the storage account.')
param tableEndpoint string

@description('URL of the blob container for the deployment package.')
param deploymentContainerUrl string

@description('Application Insights connection string (holds no secret; local auth is disabled).')
param applicationInsightsConnectionString string

@description('Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('The app\'s own settings (name -> value), as read by shared/config.py.')
param appSettings object

// Settings the Functions host and the Azure SDKs read, derived from the identity and the resources.
var hostSettings = {
  // Identity-based host storage. accountName is enough for the host; the explicit service URIs are
  // what shared/storage.py prefers and keep both in agreement.
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsStorage__tableServiceUri: tableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // DefaultAzureCredential picks the user-assigned identity from AZURE_CLIENT_ID (ARM, Synapse,
  // Databricks and Azure OpenAI calls).
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy needs a region with availability zones and zone-redundant storage; alerts wait in the queue and Action Groups retry, so a zone outage delays incidents rather than losing them. Set properties.zoneRedundant where available.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Action Group webhooks, Databricks and Airflow call the ingest routes over the public internet (Action Groups support only public endpoints); every route except /api/health needs a function key.
  // checkov:skip=CKV_AZURE_17: Action Group webhooks cannot present client certificates; callers authenticate with the function key.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales per function from zero on demand; a minimum instance count (always-ready) would bill around the clock for a bursty alert workload.
  // checkov:skip=CKV_AZURE_213: App Service health check (instance replacement) is not used on Flex Consumption, whose instances the platform manages; /api/health exists for external probes.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [for setting in items(union(hostSettings, appSettings)): {
        name: setting.key
        value: setting.value
      }]
    }
  }
}

output id string = functionApp.id
output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
