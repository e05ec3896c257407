// Diagnostic settings of one monitored Data Factory: send its activity, pipeline and trigger run logs
// to a Log Analytics workspace in resource-specific ("Dedicated") tables (ADFActivityRun,
// ADFPipelineRun, ADFTriggerRun), which the log alert in alerts.bicep queries. Deployed per factory
// in the factory's resource group, like factory-rbac.bicep. Only deployed when a workspace id is given.

@description('Name of the Data Factory (in this module\'s resource group).')
param factoryName string

@description('Resource id of the Log Analytics workspace that receives the logs.')
param workspaceId string

@description('Name of the diagnostic setting.')
param settingName string

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: factoryName
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: factory
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'ActivityRuns'
        enabled: true
      }
      {
        category: 'PipelineRuns'
        enabled: true
      }
      {
        category: 'TriggerRuns'
        enabled: true
      }
    ]
  }
}
