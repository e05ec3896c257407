// Alerting: an Action Group that posts to the app's ingest function, ADF metric alerts per monitored
// factory and, when a Log Analytics workspace receives the factories' logs, a log search alert with
// the failed run's id.
//
// Receiver choice: a webhook receiver (not azureFunctionReceivers). Both post the same common-schema
// body to the same URL with the function key in `?code=`, and neither can use a managed identity. The
// webhook form needs only the URL, and it is the same URL form that Databricks and Airflow callers use.
// The key in the URL is a function key of the ingest function only (`azure_monitor`, key `action-group`,
// created here from the ingestKey parameter): it opens /api/azure-monitor and nothing else, so a leaked
// Action Group URL cannot read incidents or alerts (the read routes need a host key or their own function
// key). A function key can only be created once the function exists: main.bicep deploys this module after
// the code is deployed (ingestFunctionDeployed, see docs/deploy.md). Redeploying rotates the key.
//
// Metric alerts are stateless (autoMitigate false), so every evaluation that still counts a failure in
// its 5-minute window fires again (up to 5 notifications for one failure); the metric carries only the
// pipeline name (dimension Name), so the app looks the run up and folds the repeats by run id.

@description('Azure region for the log alert rule.')
param location string

@description('Tags for the resources.')
param tags object

@description('Name of the function app that receives the alerts.')
param functionAppName string

@description('Name of the Action Group.')
param actionGroupName string

@description('Short name of the Action Group (at most 12 characters, shown in notifications).')
@maxLength(12)
param actionGroupShortName string

@description('Resource ids of the monitored Data Factories.')
param factoryIds array

@description('Resource id of the Log Analytics workspace with the factories\' logs; empty: no log alert.')
param adfLogsWorkspaceId string

@description('Function name of the Azure Monitor ingest route (function_app.py).')
param ingestFunctionName string = 'azure_monitor'

@description('Value of the ingest function\'s `action-group` key, put in the Action Group URL.')
@secure()
param ingestKey string

@description('Severity of the alerts (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param severity int

var failedRunMetrics = [
  'PipelineFailedRuns'
  'ActivityFailedRuns'
]

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource ingestFunction 'Microsoft.Web/sites/functions@2024-04-01' existing = {
  parent: functionApp
  name: ingestFunctionName
}

// A key scoped to the ingest function: the host default key would also open every read route.
resource ingestFunctionKey 'Microsoft.Web/sites/functions/keys@2024-04-01' = {
  parent: ingestFunction
  name: 'action-group'
  properties: {
    name: 'action-group'
    value: ingestKey
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: actionGroupShortName
    enabled: true
    webhookReceivers: [
      {
        name: 'incident-ingest'
        serviceUri: 'https://${functionApp.properties.defaultHostName}/api/azure-monitor?code=${ingestKey}'
        useCommonAlertSchema: true
        useAadAuth: false
      }
    ]
  }
  dependsOn: [
    ingestFunctionKey
  ]
}

// One rule per factory and metric (a rule that splits by a dimension can target only one resource):
// rule i watches metric i % 2 of factory i / 2.
resource failedRunAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [for i in range(0, length(factoryIds) * length(failedRunMetrics)): {
  name: 'adf-${failedRunMetrics[i % 2]}-${last(split(factoryIds[i / 2], '/'))}-${uniqueString(factoryIds[i / 2])}'
  location: 'global'
  tags: tags
  properties: {
    description: '${failedRunMetrics[i % 2]} of Data Factory ${last(split(factoryIds[i / 2], '/'))}, one time series per pipeline (dimension Name).'
    severity: severity
    enabled: true
    scopes: [
      factoryIds[i / 2]
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: false
    targetResourceType: 'Microsoft.DataFactory/factories'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: failedRunMetrics[i % 2]
          metricNamespace: 'Microsoft.DataFactory/factories'
          metricName: failedRunMetrics[i % 2]
          dimensions: [
            {
              name: 'Name'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}]

// Log Alerts V2 over the factories' ADFActivityRun table: one alert per failed pipeline run, with
// PipelineName and PipelineRunId in the alert's dimensions and the factory as configuration item
// (_ResourceId). skipQueryValidation: the table appears only after the first log arrives.
// The 15-minute window over a 5-minute schedule re-reads rows that were ingested late; the repeats carry
// the same PipelineRunId, which the app folds into the same incident.
// Zero or one rule: a loop, not a conditional resource, so checkov sees its properties.
resource failedActivityLogAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for workspaceId in (empty(adfLogsWorkspaceId) ? [] : [adfLogsWorkspaceId]): {
  name: 'adf-failed-activity-runs'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'ADF failed activity runs'
    description: 'Failed Data Factory activity runs, one alert per pipeline run.'
    severity: severity
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: false
    skipQueryValidation: true
    criteria: {
      allOf: [
        {
          query: 'ADFActivityRun | where Status == "Failed"'
          timeAggregation: 'Count'
          resourceIdColumn: '_ResourceId'
          dimensions: [
            {
              name: 'PipelineName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'PipelineRunId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

output actionGroupId string = actionGroup.id
