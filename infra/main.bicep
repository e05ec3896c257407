// Pipeline incident service on Azure Functions Flex Consumption.
//
//   az deployment group create -g <rg> -f infra/main.bicep -p @infra/main.parameters.json
//   func azure functionapp publish <functionAppName output>
//
// Modules (infra/app): identity, storage, monitoring, keyvault, rbac (roles in this resource group),
// function (plan + app), factory-rbac and factory-diagnostics (per monitored factory, in the
// factory's own resource group), alerts (Action Group + alert rules). docs/deploy.md explains every
// parameter and role.
//
// App settings: every setting in shared/config.py SETTINGS that matters in Azure is set here (the app's
// own settings, in `appSettings`) or in app/function.bicep (host and identity settings).
// tests/infra/test_bicep_settings.py keeps the two in agreement. Secrets (secret=True) only ever
// reach the app as Key Vault references.
//
// Kept parseable by checkov's pycep-parser 0.5.1: no `string?` types, user functions, imports, or
// filtered loops (`[for x in y: if (...) {...}]` breaks pycep-parser 0.7.1).

@description('Short base name of the deployment; resource names derive from it (lowercase letters, digits, hyphens).')
@minLength(2)
@maxLength(20)
param name string

@description('Azure region of the resources; it must offer Flex Consumption.')
param location string = resourceGroup().location

@description('Tags applied to every resource.')
param tags object = {}

@description('Resource ids of the Data Factories to watch: alert rules, the sweep (SWEEP_FACTORIES) and a role for the app on each.')
param monitoredFactoryIds array = []

@description('Role granted to the app on each monitored factory (role definition GUID); default Data Factory Contributor.')
param factoryRoleDefinitionId string = '673868aa-7521-48a0-acc6-0f60742d39f5'

@description('Resource id of a Log Analytics workspace for the factories\' run logs; empty: no diagnostic settings and no log alert.')
param adfLogsWorkspaceId string = ''

@description('Create diagnostic settings on the factories that send ActivityRuns, PipelineRuns and TriggerRuns to adfLogsWorkspaceId. false when they already do (Dedicated tables), or a second setting would conflict.')
param adfDiagnosticSettings bool = true

@description('Resource ids of the Synapse workspaces the sweep watches (SWEEP_SYNAPSE_WORKSPACES). Grant Synapse RBAC yourself, see docs/deploy.md.')
param synapseWorkspaceIds array = []

@description('Severity of the alert rules (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param alertSeverity int = 1

@description('Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Replication of the storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSku string = 'Standard_LRS'

@description('Days the Log Analytics workspace and Application Insights keep data.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

// ---- The app's settings (shared/config.py); defaults equal the code's defaults. ----

@description('ALERTS_QUEUE: queue between ingest and processing; `<name>-poison` is created too.')
param alertsQueue string = 'alerts'

@description('EVENTS_QUEUE: incident lifecycle events (state changes) for the notification function; `<name>-poison` is created too.')
param eventsQueue string = 'incident-events'

@description('INCIDENTS_TABLE')
param incidentsTable string = 'incidents'

@description('ALERTS_TABLE')
param alertsTable string = 'alerts'

@description('AUDIT_TABLE')
param auditTable string = 'audit'

@description('STATE_TABLE')
param stateTable string = 'state'

@description('ANALYSIS_CACHE_TABLE')
param analysisCacheTable string = 'analysiscache'

@description('RAW_CONTAINER: blob container for raw bodies and claim-checked payloads.')
param rawContainer string = 'alerts-raw'

@description('PAYLOADS_CONTAINER: blob container for large incident data.')
param payloadsContainer string = 'incident-payloads'

@description('MAX_BODY_BYTES: largest accepted webhook body.')
param maxBodyBytes string = '1048576'

@description('SWEEP_SCHEDULE: six-field NCRONTAB (UTC) of the sweep for unreported failures.')
param sweepSchedule string = '0 */5 * * * *'

@description('SWEEP_DATABRICKS: sweep the Databricks workspace at DATABRICKS_HOST.')
@allowed([
  'true'
  'false'
])
param sweepDatabricks string = 'false'

@description('SWEEP_LOOKBACK_MINUTES')
param sweepLookbackMinutes string = '60'

@description('SWEEP_OVERLAP_MINUTES')
param sweepOverlapMinutes string = '10'

@description('SWEEP_MAX_ENQUEUE')
param sweepMaxEnqueue string = '200'

@description('ENRICHMENT_ENABLED: call platform APIs for the exact error.')
@allowed([
  'true'
  'false'
])
param enrichmentEnabled string = 'true'

@description('ENRICHMENT_WINDOW_SLACK_MINUTES')
param enrichmentWindowSlackMinutes string = '5'

@description('ENRICHMENT_TIMEOUT_SECONDS: read timeout of each platform API call.')
param enrichmentTimeoutSeconds string = '20'

@description('ENRICHMENT_MAX_RETRIES: retries on 408 / 429 / 5xx / timeout.')
param enrichmentMaxRetries string = '3'

@description('ENRICHMENT_MAX_RETRY_AFTER_SECONDS: longest Retry-After waited for.')
param enrichmentMaxRetryAfterSeconds string = '30'

@description('ENRICHMENT_MAX_RUNS: most failed runs per alert whose activity error is fetched.')
param enrichmentMaxRuns string = '25'

@description('ARM_ENDPOINT (sovereign clouds: their Resource Manager URL).')
param armEndpoint string = 'https://management.azure.com'

@description('ARM_SCOPE')
param armScope string = 'https://management.azure.com/.default'

@description('SYNAPSE_ENDPOINT: dev endpoint template, e.g. https://{workspace}.dev.azuresynapse.net')
param synapseEndpoint string = 'https://{workspace}.dev.azuresynapse.net'

@description('DATABRICKS_HOST: workspace URL, e.g. https://adb-123.4.azuredatabricks.net')
param databricksHost string = ''

@description('AIRFLOW_URL: Airflow webserver / API server base URL.')
param airflowUrl string = ''

@description('ANALYSIS_MODE')
@allowed([
  'rules'
  'llm'
])
param analysisMode string = 'rules'

@description('OPENAI_BASE_URL (OpenAI flavour).')
param openAiBaseUrl string = ''

@description('OPENAI_MODEL: model (OpenAI) or deployment name (Azure OpenAI).')
param openAiModel string = 'gpt-4o-mini'

@description('AZURE_OPENAI_ENDPOINT: set it to use Azure OpenAI (with Entra ID when OPENAI_API_KEY is empty).')
param azureOpenAiEndpoint string = ''

@description('AZURE_OPENAI_API_VERSION')
param azureOpenAiApiVersion string = '2024-10-21'

@description('LLM_TIMEOUT_SECONDS')
param llmTimeoutSeconds string = '20'

@description('LLM_MAX_RETRIES')
param llmMaxRetries string = '2'

@description('LLM_CACHE_TTL_HOURS: how long a cached analysis is reused per error signature.')
param llmCacheTtlHours string = '168'

@description('LLM_FAILURE_BACKOFF_SECONDS: after a failed LLM call, the same signature waits this long.')
param llmFailureBackoffSeconds string = '300'

@description('LLM_UNKNOWN_MIN_CONFIDENCE')
param llmUnknownMinConfidence string = '80'

@description('REMEDIATION_MODE: off, dry-run (plans and audits only), approve (every action waits for approval) or auto.')
@allowed([
  'off'
  'dry-run'
  'approve'
  'auto'
])
param remediationMode string = 'dry-run'

@description('NOTIFY_CHANNELS: comma-separated, of console, teams, teams_legacy, slack, email, pagerduty, jira.')
param notifyChannels string = 'console'

// ---- remediation params (issue 8) ----
@description('REMEDIATION_KILL_SWITCH: true stops every remediation action at once.')
param remediationKillSwitch string = 'false'

@description('REMEDIATION_POLICY_FILE: path of the policy TOML; empty means the packaged remediation/policy.toml.')
param remediationPolicyFile string = ''

@description('REMEDIATION_QUEUE: queue of delayed remediation steps.')
param remediationQueue string = 'remediation'

@description('REMEDIATION_TABLE: attempt claims, breaker counters and learning figures.')
param remediationTable string = 'remediation'

@description('REMEDIATION_VERIFY_INTERVAL_SECONDS')
param remediationVerifyIntervalSeconds string = '60'

@description('REMEDIATION_VERIFY_DEADLINE_MINUTES')
param remediationVerifyDeadlineMinutes string = '180'

@description('REMEDIATION_BREAKER_PIPELINE_MAX')
param remediationBreakerPipelineMax string = '3'

@description('REMEDIATION_BREAKER_WINDOW_MINUTES')
param remediationBreakerWindowMinutes string = '60'

@description('REMEDIATION_BREAKER_RESOURCE_PER_HOUR')
param remediationBreakerResourcePerHour string = '100'

@description('REMEDIATION_LEARN_MIN_FAILURES')
param remediationLearnMinFailures string = '5'

@description('REMEDIATION_LEARN_MIN_SUCCESS_RATE')
param remediationLearnMinSuccessRate string = '0.5'

@description('REMEDIATION_APPROVAL_EXPIRY_MINUTES')
param remediationApprovalExpiryMinutes string = '240'

@description('PUBLIC_BASE_URL: public base URL of the app, for approval links; empty means the function app\'s default host name.')
param publicBaseUrl string = ''

@secure()
@description('REMEDIATION_APPROVAL_SECRET: HMAC key of approval links; empty disables approval links.')
param remediationApprovalSecret string = ''
// ---- end remediation params ----

// ---- notifications params (issue 10) ----
@description('NOTIFY_ROUTING_FILE: Routing and ownership rules (TOML); empty means the shipped `notify/routing.toml`.')
param notifyRoutingFile string = ''

@description('NOTIFY_QUEUE: Queue of single-channel deliveries (fanned out from EVENTS_QUEUE); poison queue is `<name>-poison`.')
param notifyQueue string = 'notifications'

@description('NOTIFICATIONS_TABLE: Table of notification claims (at most once per incident, event and channel), the attempt log, bursts and SLA breach markers.')
param notificationsTable string = 'notifications'

@description('NOTIFY_QUIET_SECONDS: Quiet period: incidents opened on one platform resource (factory, workspace) within this window are announced in one message, sent this long after the first; 0 disables folding.')
param notifyQuietSeconds string = '30'

@description('NOTIFY_MAX_ATTEMPTS: Attempts per notification and channel before it is logged as failed.')
param notifyMaxAttempts string = '5'

@description('NOTIFY_RETRY_BASE_SECONDS: First retry delay of a failed notification when the service named none (Retry-After); doubles per attempt.')
param notifyRetryBaseSeconds string = '10'

@description('NOTIFY_MAX_RETRY_AFTER_SECONDS: Longest delay before a retry; a longer Retry-After is capped to it.')
param notifyMaxRetryAfterSeconds string = '600'

@description('NOTIFY_TIMEOUT_SECONDS: Timeout of one outbound notification call.')
param notifyTimeoutSeconds string = '10'

@description('NOTIFY_INCIDENT_URL: Link to an incident in messages; `{id}` is replaced by the incident id (e.g. `https://<app>.azurewebsites.net/api/incidents/{id}`). Empty: no link.')
param notifyIncidentUrl string = ''

@description('EMAIL_SENDER: Sender address of notification emails (ACS: a verified MailFrom address).')
param emailSender string = ''

@description('EMAIL_TO: Comma-separated default email recipients (routing may name others).')
param emailTo string = ''

@description('ACS_EMAIL_ENDPOINT: Azure Communication Services endpoint (`https://<resource>.communication.azure.com`), used with the managed identity.')
param acsEmailEndpoint string = ''

@description('SMTP_HOST: SMTP relay for email when no ACS endpoint is set.')
param smtpHost string = ''

@description('SMTP_PORT: SMTP port (587 with STARTTLS; Azure blocks outbound 25).')
param smtpPort string = '587'

@description('SMTP_STARTTLS: `false` only for a local relay without TLS.')
param smtpStarttls string = 'true'

@description('SMTP_USERNAME: SMTP login user; empty: no login.')
param smtpUsername string = ''

@description('PAGERDUTY_EVENTS_URL: PagerDuty Events API v2 endpoint.')
param pagerdutyEventsUrl string = 'https://events.pagerduty.com/v2/enqueue'

@description('JIRA_BASE_URL: Jira Cloud site, e.g. `https://<site>.atlassian.net`.')
param jiraBaseUrl string = ''

@description('JIRA_EMAIL: Account email for the Jira API token.')
param jiraEmail string = ''

@description('JIRA_PROJECT: Project key new issues go into.')
param jiraProject string = ''

@description('JIRA_ISSUE_TYPE: Issue type of new issues.')
param jiraIssueType string = 'Bug'

@description('JIRA_DONE: Name of the transition (or target status) used when the incident resolves; an inbound issue reaching it (or any status in the done category) resolves the incident.')
param jiraDone string = 'Done'

@description('SLA_SCHEDULE: Six-field NCRONTAB schedule of the SLA check (breaches, unpublished events).')
param slaSchedule string = '0 */5 * * * *'

@description('SLA_ACK_MINUTES: Time-to-acknowledge targets per priority, in minutes.')
param slaAckMinutes string = 'P1=15,P2=30,P3=120,P4=480'

@description('SLA_RESOLVE_MINUTES: Time-to-resolve targets per priority, in minutes.')
param slaResolveMinutes string = 'P1=240,P2=480,P3=1440,P4=4320'

@description('SLA_MAX_INCIDENTS: Most unresolved incidents one SLA check looks at (bounded work).')
param slaMaxIncidents string = '500'

// Secrets of the notification channels: put them into the Key Vault yourself (secret name = the setting in
// kebab case, e.g. pagerduty-routing-key) and list the setting in `secretsInVault`.
var notifyKeyVaultRefs = {
  TEAMS_LEGACY_WEBHOOK_URL: contains(secretsInVault, 'TEAMS_LEGACY_WEBHOOK_URL') ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/teams-legacy-webhook-url)' : ''
  ACS_EMAIL_CONNECTION_STRING: contains(secretsInVault, 'ACS_EMAIL_CONNECTION_STRING') ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/acs-email-connection-string)' : ''
  SMTP_PASSWORD: contains(secretsInVault, 'SMTP_PASSWORD') ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/smtp-password)' : ''
  PAGERDUTY_ROUTING_KEY: contains(secretsInVault, 'PAGERDUTY_ROUTING_KEY') ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/pagerduty-routing-key)' : ''
  JIRA_API_TOKEN: contains(secretsInVault, 'JIRA_API_TOKEN') ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/jira-api-token)' : ''
  JIRA_WEBHOOK_SECRET: contains(secretsInVault, 'JIRA_WEBHOOK_SECRET') ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/jira-webhook-secret)' : ''
}
// ---- end notifications params ----

// ---- dashboard params (issue 11) ----
@description('INCIDENT_INDEX_TABLE: newest-first incident index read by the dashboard and GET /api/incidents.')
param incidentIndexTable string = 'incidentindex'

@description('STATS_TABLE: counters behind the dashboard trends.')
param statsTable string = 'incidentstats'

@description('DASHBOARD_REFRESH_SECONDS: auto-refresh of the dashboard list and health pages; 0 turns it off.')
param dashboardRefreshSeconds string = '30'

@description('DASHBOARD_TREND_DAYS: days shown on the trends page.')
param dashboardTrendDays string = '14'
// ---- end dashboard params ----

// ---- agent params (issue 12) ----
@description('AGENT_SESSIONS_TABLE: conversations of the operations agent.')
param agentSessionsTable string = 'agentsessions'

@description('AGENT_MAX_STEPS: most model calls per question.')
param agentMaxSteps string = '8'

@description('AGENT_MAX_TOKENS: most tokens spent per question.')
param agentMaxTokens string = '40000'

@description('AGENT_MAX_ANSWER_TOKENS: max_tokens of each agent model call.')
param agentMaxAnswerTokens string = '1500'

@description('AGENT_MAX_TOOL_RESULT_CHARS: longest tool result sent to the model.')
param agentMaxToolResultChars string = '12000'

@description('AGENT_HISTORY_MESSAGES: earlier messages of a session sent with a question.')
param agentHistoryMessages string = '30'
// ---- end agent params ----

// ---- hardening params (issue 9) ----
@description('ALLOWED_RESOURCES: ARM id prefixes the app may query or act on; empty means the monitored factories and Synapse workspaces.')
param allowedResources string = ''

@description('REQUEST_STORAGE_TIMEOUT_SECONDS: per-try timeout of storage calls made while answering an HTTP request.')
param requestStorageTimeoutSeconds string = '2'

@description('REQUEST_STORAGE_RETRIES: retries of a storage call made while answering an HTTP request.')
param requestStorageRetries string = '1'

@description('MAX_FAILURES_PER_ALERT: most failures one alert turns into incidents; the rest are counted and named in one incident.')
param maxFailuresPerAlert string = '25'

@description('PROCESSING_DEADLINE_SECONDS: processing of one alert stops starting new failures after this long (under functionTimeout).')
param processingDeadlineSeconds string = '420'

@description('Whether the code (and so the ingest function) is deployed: the Action Group\'s function-scoped key needs the function. azd: set INGEST_FUNCTION_DEPLOYED=true after the first deploy, then provision again.')
param ingestFunctionDeployed bool = false

@description('Key of the ingest function put in the Action Group URL; a new one on each deployment unless given.')
@secure()
param actionGroupIngestKey string = newGuid() // checkov:skip=CKV_AZURE_131: newGuid() is a fresh random key per deployment, not a value in the template
// ---- end hardening params ----

// ---- performance params (issue 13) ----
// ---- end performance params ----

// ---- Secrets: stored in Key Vault, referenced from the app settings. Empty: no secret. ----

@secure()
@description('OPENAI_API_KEY')
param openAiApiKey string = ''

@secure()
@description('TEAMS_WEBHOOK_URL')
param teamsWebhookUrl string = ''

@secure()
@description('SLACK_WEBHOOK_URL')
param slackWebhookUrl string = ''

@secure()
@description('DATABRICKS_TOKEN (leave empty to use Entra ID)')
param databricksToken string = ''

@secure()
@description('AIRFLOW_TOKEN')
param airflowToken string = ''

@description('Secret settings whose secret you put into the Key Vault yourself (e.g. ["TEAMS_WEBHOOK_URL"]); they get a Key Vault reference without a value being passed here.')
param secretsInVault array = []

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, name))
var functionAppName = 'func-${name}-${resourceToken}'
var deploymentContainerName = 'deployment-package'

module identity 'app/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${name}-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'st${toLower(take(replace(name, '-', ''), 9))}${resourceToken}'
    location: location
    tags: tags
    skuName: storageSku
    queueNames: [
      alertsQueue
      '${alertsQueue}-poison'
      eventsQueue
      '${eventsQueue}-poison'
      remediationQueue
      '${remediationQueue}-poison'
      notifyQueue
      '${notifyQueue}-poison'
    ]
    tableNames: [
      incidentsTable
      alertsTable
      auditTable
      stateTable
      analysisCacheTable
      remediationTable
      agentSessionsTable
      incidentIndexTable
      statsTable
      notificationsTable
    ]
    containerNames: [
      rawContainer
      payloadsContainer
    ]
    deploymentContainerName: deploymentContainerName
    deleteRetentionDays: 7
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${name}-${resourceToken}'
    applicationInsightsName: 'appi-${name}-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    softDeleteRetentionInDays: 90
    openAiApiKey: openAiApiKey
    teamsWebhookUrl: teamsWebhookUrl
    slackWebhookUrl: slackWebhookUrl
    databricksToken: databricksToken
    airflowToken: airflowToken
    remediationApprovalSecret: remediationApprovalSecret
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

// A factory may be in another resource group or subscription: deploy into the factory's own
// resource group, parsed from its id /subscriptions/<sub>/resourceGroups/<rg>/providers/.../<name>.
module factoryRbac 'app/factory-rbac.bicep' = [for (factoryId, i) in monitoredFactoryIds: {
  name: 'factory-rbac-${i}-${uniqueString(factoryId)}'
  scope: resourceGroup(split(factoryId, '/')[2], split(factoryId, '/')[4])
  params: {
    factoryName: last(split(factoryId, '/'))
    principalId: identity.outputs.principalId
    roleDefinitionId: factoryRoleDefinitionId
  }
}]

module factoryDiagnostics 'app/factory-diagnostics.bicep' = [for (factoryId, i) in ((empty(adfLogsWorkspaceId) || !adfDiagnosticSettings) ? [] : monitoredFactoryIds): {
  name: 'factory-diag-${i}-${uniqueString(factoryId)}'
  scope: resourceGroup(split(factoryId, '/')[2], split(factoryId, '/')[4])
  params: {
    factoryName: last(split(factoryId, '/'))
    workspaceId: adfLogsWorkspaceId
    settingName: 'incidents-${name}'
  }
}]

// Key Vault reference of a secret setting when its secret exists (given now or put there by hand),
// else an empty setting. `(!empty(x))` is parenthesized because pycep-parser reads `!a || b` as `!(a || b)`.
var keyVaultRefs = {
  OPENAI_API_KEY: ((!empty(openAiApiKey)) || contains(secretsInVault, 'OPENAI_API_KEY')) ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.openAiApiKeyUri})' : ''
  TEAMS_WEBHOOK_URL: ((!empty(teamsWebhookUrl)) || contains(secretsInVault, 'TEAMS_WEBHOOK_URL')) ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.teamsWebhookUrlUri})' : ''
  SLACK_WEBHOOK_URL: ((!empty(slackWebhookUrl)) || contains(secretsInVault, 'SLACK_WEBHOOK_URL')) ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.slackWebhookUrlUri})' : ''
  DATABRICKS_TOKEN: ((!empty(databricksToken)) || contains(secretsInVault, 'DATABRICKS_TOKEN')) ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.databricksTokenUri})' : ''
  AIRFLOW_TOKEN: ((!empty(airflowToken)) || contains(secretsInVault, 'AIRFLOW_TOKEN')) ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.airflowTokenUri})' : ''
  REMEDIATION_APPROVAL_SECRET: ((!empty(remediationApprovalSecret)) || contains(secretsInVault, 'REMEDIATION_APPROVAL_SECRET')) ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.remediationApprovalSecretUri})' : ''
}

// The app's own settings, by the names shared/config.py reads.
var appSettings = {
  ALERTS_QUEUE: alertsQueue
  EVENTS_QUEUE: eventsQueue
  INCIDENTS_TABLE: incidentsTable
  ALERTS_TABLE: alertsTable
  AUDIT_TABLE: auditTable
  STATE_TABLE: stateTable
  ANALYSIS_CACHE_TABLE: analysisCacheTable
  RAW_CONTAINER: rawContainer
  PAYLOADS_CONTAINER: payloadsContainer
  MAX_BODY_BYTES: maxBodyBytes
  INCIDENT_INDEX_TABLE: incidentIndexTable
  STATS_TABLE: statsTable
  DASHBOARD_REFRESH_SECONDS: dashboardRefreshSeconds
  DASHBOARD_TREND_DAYS: dashboardTrendDays
  SWEEP_SCHEDULE: sweepSchedule
  SWEEP_FACTORIES: join(monitoredFactoryIds, ',')
  SWEEP_SYNAPSE_WORKSPACES: join(synapseWorkspaceIds, ',')
  SWEEP_DATABRICKS: sweepDatabricks
  SWEEP_LOOKBACK_MINUTES: sweepLookbackMinutes
  SWEEP_OVERLAP_MINUTES: sweepOverlapMinutes
  SWEEP_MAX_ENQUEUE: sweepMaxEnqueue
  ENRICHMENT_ENABLED: enrichmentEnabled
  ENRICHMENT_WINDOW_SLACK_MINUTES: enrichmentWindowSlackMinutes
  ENRICHMENT_TIMEOUT_SECONDS: enrichmentTimeoutSeconds
  ENRICHMENT_MAX_RETRIES: enrichmentMaxRetries
  ENRICHMENT_MAX_RETRY_AFTER_SECONDS: enrichmentMaxRetryAfterSeconds
  ENRICHMENT_MAX_RUNS: enrichmentMaxRuns
  ARM_ENDPOINT: armEndpoint
  ARM_SCOPE: armScope
  SYNAPSE_ENDPOINT: synapseEndpoint
  DATABRICKS_HOST: databricksHost
  DATABRICKS_TOKEN: keyVaultRefs.DATABRICKS_TOKEN
  AIRFLOW_URL: airflowUrl
  AIRFLOW_TOKEN: keyVaultRefs.AIRFLOW_TOKEN
  ANALYSIS_MODE: analysisMode
  OPENAI_BASE_URL: openAiBaseUrl
  OPENAI_API_KEY: keyVaultRefs.OPENAI_API_KEY
  OPENAI_MODEL: openAiModel
  AZURE_OPENAI_ENDPOINT: azureOpenAiEndpoint
  AZURE_OPENAI_API_VERSION: azureOpenAiApiVersion
  LLM_TIMEOUT_SECONDS: llmTimeoutSeconds
  LLM_MAX_RETRIES: llmMaxRetries
  LLM_CACHE_TTL_HOURS: llmCacheTtlHours
  LLM_FAILURE_BACKOFF_SECONDS: llmFailureBackoffSeconds
  LLM_UNKNOWN_MIN_CONFIDENCE: llmUnknownMinConfidence
  AGENT_SESSIONS_TABLE: agentSessionsTable
  AGENT_MAX_STEPS: agentMaxSteps
  AGENT_MAX_TOKENS: agentMaxTokens
  AGENT_MAX_ANSWER_TOKENS: agentMaxAnswerTokens
  AGENT_MAX_TOOL_RESULT_CHARS: agentMaxToolResultChars
  AGENT_HISTORY_MESSAGES: agentHistoryMessages
  REMEDIATION_MODE: remediationMode
  REMEDIATION_KILL_SWITCH: remediationKillSwitch
  REMEDIATION_POLICY_FILE: remediationPolicyFile
  REMEDIATION_QUEUE: remediationQueue
  REMEDIATION_TABLE: remediationTable
  REMEDIATION_VERIFY_INTERVAL_SECONDS: remediationVerifyIntervalSeconds
  REMEDIATION_VERIFY_DEADLINE_MINUTES: remediationVerifyDeadlineMinutes
  REMEDIATION_BREAKER_PIPELINE_MAX: remediationBreakerPipelineMax
  REMEDIATION_BREAKER_WINDOW_MINUTES: remediationBreakerWindowMinutes
  REMEDIATION_BREAKER_RESOURCE_PER_HOUR: remediationBreakerResourcePerHour
  REMEDIATION_LEARN_MIN_FAILURES: remediationLearnMinFailures
  REMEDIATION_LEARN_MIN_SUCCESS_RATE: remediationLearnMinSuccessRate
  REMEDIATION_APPROVAL_SECRET: keyVaultRefs.REMEDIATION_APPROVAL_SECRET
  REMEDIATION_APPROVAL_EXPIRY_MINUTES: remediationApprovalExpiryMinutes
  PUBLIC_BASE_URL: empty(publicBaseUrl) ? 'https://${functionAppName}.azurewebsites.net' : publicBaseUrl
  NOTIFY_CHANNELS: notifyChannels
  TEAMS_WEBHOOK_URL: keyVaultRefs.TEAMS_WEBHOOK_URL
  SLACK_WEBHOOK_URL: keyVaultRefs.SLACK_WEBHOOK_URL
  NOTIFY_ROUTING_FILE: notifyRoutingFile
  NOTIFY_QUEUE: notifyQueue
  NOTIFICATIONS_TABLE: notificationsTable
  NOTIFY_QUIET_SECONDS: notifyQuietSeconds
  NOTIFY_MAX_ATTEMPTS: notifyMaxAttempts
  NOTIFY_RETRY_BASE_SECONDS: notifyRetryBaseSeconds
  NOTIFY_MAX_RETRY_AFTER_SECONDS: notifyMaxRetryAfterSeconds
  NOTIFY_TIMEOUT_SECONDS: notifyTimeoutSeconds
  NOTIFY_INCIDENT_URL: notifyIncidentUrl
  TEAMS_LEGACY_WEBHOOK_URL: notifyKeyVaultRefs.TEAMS_LEGACY_WEBHOOK_URL
  EMAIL_SENDER: emailSender
  EMAIL_TO: emailTo
  ACS_EMAIL_ENDPOINT: acsEmailEndpoint
  ACS_EMAIL_CONNECTION_STRING: notifyKeyVaultRefs.ACS_EMAIL_CONNECTION_STRING
  SMTP_HOST: smtpHost
  SMTP_PORT: smtpPort
  SMTP_STARTTLS: smtpStarttls
  SMTP_USERNAME: smtpUsername
  SMTP_PASSWORD: notifyKeyVaultRefs.SMTP_PASSWORD
  PAGERDUTY_EVENTS_URL: pagerdutyEventsUrl
  PAGERDUTY_ROUTING_KEY: notifyKeyVaultRefs.PAGERDUTY_ROUTING_KEY
  JIRA_BASE_URL: jiraBaseUrl
  JIRA_EMAIL: jiraEmail
  JIRA_API_TOKEN: notifyKeyVaultRefs.JIRA_API_TOKEN
  JIRA_PROJECT: jiraProject
  JIRA_ISSUE_TYPE: jiraIssueType
  JIRA_DONE: jiraDone
  JIRA_WEBHOOK_SECRET: notifyKeyVaultRefs.JIRA_WEBHOOK_SECRET
  SLA_SCHEDULE: slaSchedule
  SLA_ACK_MINUTES: slaAckMinutes
  SLA_RESOLVE_MINUTES: slaResolveMinutes
  SLA_MAX_INCIDENTS: slaMaxIncidents
  ALLOWED_RESOURCES: allowedResources
  REQUEST_STORAGE_TIMEOUT_SECONDS: requestStorageTimeoutSeconds
  REQUEST_STORAGE_RETRIES: requestStorageRetries
  MAX_FAILURES_PER_ALERT: maxFailuresPerAlert
  PROCESSING_DEADLINE_SECONDS: processingDeadlineSeconds
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  params: {
    name: functionAppName
    planName: 'plan-${name}-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: appSettings
  }
  // The host must find its roles in place when it first starts.
  dependsOn: [
    rbac
  ]
}

module alerts 'app/alerts.bicep' = if (ingestFunctionDeployed) {
  name: 'alerts'
  params: {
    ingestKey: actionGroupIngestKey
    location: location
    tags: tags
    functionAppName: functionApp.outputs.name
    actionGroupName: 'ag-${name}-${resourceToken}'
    actionGroupShortName: take(replace(name, '-', ''), 12)
    factoryIds: monitoredFactoryIds
    adfLogsWorkspaceId: adfLogsWorkspaceId
    severity: alertSeverity
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output ingestUrl string = 'https://${functionApp.outputs.defaultHostName}/api/azure-monitor'
output identityClientId string = identity.outputs.clientId
output identityPrincipalId string = identity.outputs.principalId
output storageAccountName string = storage.outputs.name
output keyVaultName string = keyVault.outputs.name
output actionGroupId string = ingestFunctionDeployed ? alerts.outputs.actionGroupId : ''
