"""Wiring only: each trigger hands its input to a package function. Logic lives in orchestration/
and the packages below it."""

import azure.functions as func

from orchestration import actions, agent_api, api, dashboard_http, notifications, notify_edge
from orchestration import remediation as remediation_api
from orchestration.runtime import services
from orchestration.sweep_trigger import run_sweep

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="azure-monitor", methods=["POST"])
def azure_monitor(req: func.HttpRequest) -> func.HttpResponse:
    return api.receive_alert("azure-monitor", req)


@app.route(route="databricks-monitor", methods=["POST"])
def databricks_monitor(req: func.HttpRequest) -> func.HttpResponse:
    return api.receive_alert("databricks", req)


@app.route(route="airflow-monitor", methods=["POST"])
def airflow_monitor(req: func.HttpRequest) -> func.HttpResponse:
    return api.receive_alert("airflow", req)


@app.route(route="incidents", methods=["GET"])
def list_incidents(req: func.HttpRequest) -> func.HttpResponse:
    return api.list_incidents(req)


@app.route(route="incidents/{id}", methods=["GET"])
def get_incident(req: func.HttpRequest) -> func.HttpResponse:
    return api.get_incident(req)


@app.route(route="incidents/{id}/acknowledge", methods=["POST"])
def acknowledge_incident(req: func.HttpRequest) -> func.HttpResponse:
    return actions.acknowledge(req)


@app.route(route="incidents/{id}/resolve", methods=["POST"])
def resolve_incident(req: func.HttpRequest) -> func.HttpResponse:
    return actions.resolve(req)


@app.route(route="alerts/{id}", methods=["GET"])
def get_alert(req: func.HttpRequest) -> func.HttpResponse:
    return api.get_alert(req)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return api.health(req)


# --- remediation (issue 8) ---
@app.route(route="incidents/{id}/approve", methods=["POST"])
def approve_remediation(req: func.HttpRequest) -> func.HttpResponse:
    return remediation_api.approve(req)


@app.route(route="incidents/{id}/reject", methods=["POST"])
def reject_remediation(req: func.HttpRequest) -> func.HttpResponse:
    return remediation_api.reject(req)


@app.route(route="remediation/approval", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def remediation_approval_link(req: func.HttpRequest) -> func.HttpResponse:
    return remediation_api.approval_link(req)


@app.route(route="remediation/stats", methods=["GET"])
def remediation_stats(req: func.HttpRequest) -> func.HttpResponse:
    return remediation_api.stats(req)


@app.queue_trigger(arg_name="msg", queue_name="%REMEDIATION_QUEUE%", connection="AzureWebJobsStorage")
def remediation_step(msg: func.QueueMessage) -> None:
    remediation_api.process_step(msg)
# --- end remediation ---

# --- notifications (issue 10) ---
@app.route(route="jira-webhook", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def jira_webhook(req: func.HttpRequest) -> func.HttpResponse:
    return notify_edge.jira_webhook(req)


@app.route(route="sla", methods=["GET"])
def sla_report(req: func.HttpRequest) -> func.HttpResponse:
    return notify_edge.sla_report(req)


@app.queue_trigger(arg_name="msg", queue_name="%EVENTS_QUEUE%", connection="AzureWebJobsStorage")
def notify_fan_out(msg: func.QueueMessage) -> None:
    notifications.handle_event(services(), msg.get_body())


@app.queue_trigger(arg_name="msg", queue_name="%NOTIFY_QUEUE%", connection="AzureWebJobsStorage")
def notify_deliver(msg: func.QueueMessage) -> None:
    notifications.handle_delivery(services(), msg.get_body())


@app.timer_trigger(arg_name="timer", schedule="%SLA_SCHEDULE%", run_on_startup=False)
def sla_check(timer: func.TimerRequest) -> None:
    notify_edge.run_sla_check()
# --- end notifications ---

# --- dashboard (issue 11) ---
@app.route(route="dashboard", methods=["GET"])
def dashboard_list(req: func.HttpRequest) -> func.HttpResponse:
    return dashboard_http.list_page(req)


@app.route(route="dashboard/incidents/{id}", methods=["GET"])
def dashboard_incident(req: func.HttpRequest) -> func.HttpResponse:
    return dashboard_http.incident_page(req)


@app.route(route="dashboard/incidents/{id}/{action}", methods=["POST"])
def dashboard_action(req: func.HttpRequest) -> func.HttpResponse:
    return dashboard_http.action(req)


@app.route(route="dashboard/trends", methods=["GET"])
def dashboard_trends(req: func.HttpRequest) -> func.HttpResponse:
    return dashboard_http.trends_page(req)


@app.route(route="dashboard/health", methods=["GET"])
def dashboard_health(req: func.HttpRequest) -> func.HttpResponse:
    return dashboard_http.health_page(req)


@app.route(route="dashboard/assets/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def dashboard_asset(req: func.HttpRequest) -> func.HttpResponse:
    return dashboard_http.asset(req)


# --- end dashboard ---

# --- agent (issue 12) ---
@app.route(route="agent/ask", methods=["POST"])
def agent_ask(req: func.HttpRequest) -> func.HttpResponse:
    return agent_api.ask(req)
# --- end agent ---


@app.queue_trigger(arg_name="msg", queue_name="%ALERTS_QUEUE%", connection="AzureWebJobsStorage")
def process(msg: func.QueueMessage) -> None:
    api.process_message(msg)


@app.timer_trigger(arg_name="timer", schedule="%SWEEP_SCHEDULE%", run_on_startup=False)
def sweep(timer: func.TimerRequest) -> None:
    run_sweep(past_due=timer.past_due)
