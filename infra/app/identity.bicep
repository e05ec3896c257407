// The user-assigned managed identity the function app runs as.
// One identity for everything: host storage, the app's own storage clients, Key Vault references,
// Application Insights ingestion, the Flex deployment package and the platform APIs (ADF, Synapse,
// Databricks). A user-assigned identity exists before the app, so its role assignments can be made
// (and have propagated) before the host first starts.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
