// Role of the app's identity on one monitored Data Factory. main.bicep deploys this module once per
// factory with `scope: resourceGroup(<subscription>, <resource group>)` parsed from the factory's
// resource id, because a factory may live in another resource group or subscription.
//
// Data Factory Contributor lets the app read pipeline and activity runs (queryPipelineRuns,
// queryActivityRuns are POST actions that Reader does not include) and, when REMEDIATION_MODE is `on`,
// rerun a failed pipeline (createRun). With remediation off, a custom role holding only
// Microsoft.DataFactory/factories/read, .../factories/querypipelineruns/action,
// .../factories/pipelineruns/read and .../factories/pipelineruns/queryactivityruns/action is enough:
// pass its id as roleDefinitionId.

@description('Name of the Data Factory (in this module\'s resource group).')
param factoryName string

@description('Principal (object) id of the app\'s user-assigned identity.')
param principalId string

@description('Role definition (GUID) to grant on the factory.')
param roleDefinitionId string

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: factoryName
}

resource factoryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(factory.id, principalId, roleDefinitionId)
  scope: factory
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
