// Key Vault for the app's secrets. The function app reads them through Key Vault references
// (`@Microsoft.KeyVault(SecretUri=...)`) resolved with its user-assigned identity, which has
// Key Vault Secrets User on the vault (rbac.bicep). Nobody gets access policies: RBAC only.
//
// A secret is created only when its value is given. main.bicep points an app setting at its secret when
// the value is given or the setting is listed in `secretsInVault` (secrets you put into the vault
// yourself); otherwise the setting stays empty, because an unresolvable reference would reach the code
// as the literal "@Microsoft.KeyVault(...)" text. References carry no version, so a new version
// (`az keyvault secret set`) is picked up on the next restart or within a day.

@description('Key Vault name (3-24 characters, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for the resources.')
param tags object

@description('Days a deleted vault or secret stays recoverable (soft delete).')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

// A secret is a loop over zero or one value rather than a conditional resource (`= if (...)`):
// checkov 3.3.30 does not see the properties of conditional resources.

@secure()
@description('OPENAI_API_KEY; empty creates no secret.')
param openAiApiKey string

@secure()
@description('TEAMS_WEBHOOK_URL; empty creates no secret.')
param teamsWebhookUrl string

@secure()
@description('SLACK_WEBHOOK_URL; empty creates no secret.')
param slackWebhookUrl string

@secure()
@description('DATABRICKS_TOKEN; empty creates no secret.')
param databricksToken string

@secure()
@description('AIRFLOW_TOKEN; empty creates no secret.')
param airflowToken string

@secure()
@description('REMEDIATION_APPROVAL_SECRET; empty creates no secret.')
param remediationApprovalSecret string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Without VNet integration the App Service platform resolves Key Vault references over the public endpoint and is not a trusted service for the firewall; access is RBAC only. Add VNet integration and a private endpoint to deny public traffic.
  // checkov:skip=CKV_AZURE_189: Same reason as CKV_AZURE_109: public network access is needed without VNet integration.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource openAiApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for value in (empty(openAiApiKey) ? [] : [openAiApiKey]): {
  // checkov:skip=CKV_AZURE_41: The issuer (OpenAI / Azure OpenAI) controls the key's lifetime; an expiry on this copy would only break the Key Vault reference. Rotate by setting a new version.
  parent: vault
  name: 'openai-api-key'
  properties: {
    value: value
    contentType: 'text/plain'
  }
}]

resource teamsWebhookUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for value in (empty(teamsWebhookUrl) ? [] : [teamsWebhookUrl]): {
  // checkov:skip=CKV_AZURE_41: A Teams webhook URL does not expire on a schedule; an expiry on this copy would only break the Key Vault reference.
  parent: vault
  name: 'teams-webhook-url'
  properties: {
    value: value
    contentType: 'text/uri'
  }
}]

resource slackWebhookUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for value in (empty(slackWebhookUrl) ? [] : [slackWebhookUrl]): {
  // checkov:skip=CKV_AZURE_41: A Slack webhook URL does not expire on a schedule; an expiry on this copy would only break the Key Vault reference.
  parent: vault
  name: 'slack-webhook-url'
  properties: {
    value: value
    contentType: 'text/uri'
  }
}]

resource databricksTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for value in (empty(databricksToken) ? [] : [databricksToken]): {
  // checkov:skip=CKV_AZURE_41: The token's lifetime is set where it is issued (Databricks); an expiry on this copy would only break the Key Vault reference. Prefer Entra ID (leave the token empty).
  parent: vault
  name: 'databricks-token'
  properties: {
    value: value
    contentType: 'text/plain'
  }
}]

resource airflowTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for value in (empty(airflowToken) ? [] : [airflowToken]): {
  // checkov:skip=CKV_AZURE_41: The token's lifetime is set where it is issued (Airflow); an expiry on this copy would only break the Key Vault reference.
  parent: vault
  name: 'airflow-token'
  properties: {
    value: value
    contentType: 'text/plain'
  }
}]

resource remediationApprovalSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for value in (empty(remediationApprovalSecret) ? [] : [remediationApprovalSecret]): {
  // checkov:skip=CKV_AZURE_41: An HMAC key for approval links is rotated by setting a new version; an expiry on it would only break the Key Vault reference.
  parent: vault
  name: 'remediation-approval-secret'
  properties: {
    value: value
    contentType: 'text/plain'
  }
}]

output id string = vault.id
output name string = vault.name
output vaultUri string = vault.properties.vaultUri

// Versionless secret URIs, for Key Vault references. They are built from the vault URI, so they also name
// secrets put into the vault by hand; main.bicep decides which app settings use them.
output openAiApiKeyUri string = '${vault.properties.vaultUri}secrets/openai-api-key'
output teamsWebhookUrlUri string = '${vault.properties.vaultUri}secrets/teams-webhook-url'
output slackWebhookUrlUri string = '${vault.properties.vaultUri}secrets/slack-webhook-url'
output databricksTokenUri string = '${vault.properties.vaultUri}secrets/databricks-token'
output airflowTokenUri string = '${vault.properties.vaultUri}secrets/airflow-token'
output remediationApprovalSecretUri string = '${vault.properties.vaultUri}secrets/remediation-approval-secret'
