"""Run tools: list pipeline / job runs in a time window, and the activity / task runs of one run with their errors.

Data Factory and Synapse go through shared.platforms (the same REST shapes), Databricks and Airflow through
their adapters.
Every ARM resource is checked against the allow-list (shared.scope) before any call; with no resource given,
the tools look at the factories / workspaces the app is configured for. Windows reach back 45 days, which is
how long Data Factory keeps run history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agent.airflow_runs import dag_run_tasks, list_dag_runs
from agent.tooling import Tool, ToolContext, ToolProblem, problem_of, schema
from shared.platforms.adf import FACTORY_TYPE, AdfFactory
from shared.platforms.common import parse_arm_id
from shared.platforms.runs import PipelineRunsApi, activity_runs, iter_run_pages, moment
from shared.platforms.synapse import SynapseWorkspace
from shared.timeutil import parse_iso, to_iso, utc_now

MAX_WINDOW_HOURS = 45 * 24
WORKSPACE_TYPE = "microsoft.synapse/workspaces"
MESSAGE_CHARS = 600
MAX_TASK_OUTPUTS = 10  # failed Databricks tasks whose output (error) is fetched, one call each
PIPELINE_PLATFORMS = ("adf", "synapse")


def window(args: dict[str, Any]) -> tuple[datetime, datetime]:
    """[from, to] from `since` / `until` (ISO-8601) or the last `hours` (default 24)."""
    try:
        until = parse_iso(args["until"]) if args.get("until") else utc_now()
        since = parse_iso(args["since"]) if args.get("since") else until - timedelta(hours=args.get("hours", 24))
    except ValueError as exc:
        raise ToolProblem("invalid_arguments", f"since / until must be ISO-8601 times: {exc}") from exc
    if since >= until:
        raise ToolProblem("invalid_arguments", "since must be before until")
    if until - since > timedelta(hours=MAX_WINDOW_HOURS):
        raise ToolProblem("invalid_arguments", f"the window is limited to {MAX_WINDOW_HOURS} hours (45 days)")
    return since, until


def configured_resources(ctx: ToolContext, platform: str) -> list[str]:
    """The factories (adf) or workspaces (synapse) the app is set up for, allow-listed ones only."""
    kind = FACTORY_TYPE if platform == "adf" else WORKSPACE_TYPE
    candidates = [*ctx.settings.sweep_factories, *ctx.settings.sweep_synapse_workspaces,
                  *ctx.settings.csv_setting("ALLOWED_RESOURCES")]
    found: dict[str, str] = {}
    for rid in candidates:
        ref = parse_arm_id(rid)
        if ref is not None and ref.type == kind and ref.resource_id == rid.rstrip("/"):
            found.setdefault(ref.resource_id.lower(), ref.resource_id)
    return list(found.values())


def pipeline_api(ctx: ToolContext, platform: str, resource_id: str) -> PipelineRunsApi:
    ctx.require_in_scope(resource_id)
    try:
        if platform == "synapse":
            return SynapseWorkspace(resource_id, ctx.settings)
        return AdfFactory(resource_id, ctx.settings)
    except ValueError as exc:
        raise ToolProblem("invalid_arguments", str(exc)) from exc


def run_row(platform: str, resource: str, run: dict[str, Any]) -> dict[str, Any]:
    start, end = moment(run.get("runStart")), moment(run.get("runEnd"))
    return {"platform": platform, "resource": resource, "pipeline": run.get("pipelineName"),
            "run_id": run.get("runId"), "status": run.get("status"), "start": run.get("runStart"),
            "end": run.get("runEnd"), "duration_s": int((end - start).total_seconds()) if start and end else None,
            "message": str(run.get("message") or "")[:MESSAGE_CHARS],
            "invoked_by": (run.get("invokedBy") or {}).get("invokedByType")}


def list_runs(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    platform = args.get("platform", "adf")
    since, until = window(args)
    status = args.get("status", "Failed")
    limit = args.get("limit", 50)
    runs: list[dict[str, Any]] = []
    errors: list[str] = []
    if platform in PIPELINE_PLATFORMS:
        resources = [args["resource"]] if args.get("resource") else configured_resources(ctx, platform)
        if not resources:
            raise ToolProblem("unavailable", f"no {platform} resource is configured: set SWEEP_FACTORIES / "
                                             "SWEEP_SYNAPSE_WORKSPACES or ALLOWED_RESOURCES, or pass resource")
        for rid in resources:
            api = pipeline_api(ctx, platform, rid)
            try:
                for page in iter_run_pages(api, since, until, pipeline=args.get("pipeline"),
                                           status=None if status == "any" else status):
                    runs += [run_row(platform, rid.rsplit("/", 1)[-1], r) for r in page]
                    if len(runs) > limit:
                        break
            except Exception as exc:
                if len(resources) == 1:
                    raise problem_of(exc, f"{platform} {rid.rsplit('/', 1)[-1]}") from exc
                errors.append(problem_of(exc, f"{platform} {rid.rsplit('/', 1)[-1]}").detail)
    elif platform == "airflow":
        runs = list_dag_runs(ctx, args.get("pipeline"), status, since, until, limit)
    else:
        if status != "Failed":
            raise ToolProblem("invalid_arguments", "for Databricks only failed job runs are listed (status Failed)")
        runs = databricks_runs(ctx, since, until, args.get("pipeline"), limit)
    runs.sort(key=lambda r: str(r.get("end") or r.get("start") or ""), reverse=True)
    result: dict[str, Any] = {"platform": platform, "window": {"from": to_iso(since), "to": to_iso(until)},
                              "status": status, "count": min(len(runs), limit), "more": len(runs) > limit,
                              "runs": runs[:limit]}
    if errors:
        result["errors"] = errors
    return result


def databricks_runs(ctx: ToolContext, since: datetime, until: datetime, job: str | None,
                    limit: int) -> list[dict[str, Any]]:
    if not ctx.settings.get("DATABRICKS_HOST").strip():
        raise ToolProblem("unavailable", "DATABRICKS_HOST is not set")
    rows: list[dict[str, Any]] = []
    try:
        from shared.platforms.databricks import DatabricksWorkspace  # databricks-sdk loads only when used

        workspace = DatabricksWorkspace(ctx.settings)
        for run in workspace.failed_runs(int(since.timestamp() * 1000), int(until.timestamp() * 1000)):
            name = str(run.get("run_name") or run.get("job_id") or "")
            if job and job.lower() not in (name.lower(), str(run.get("job_id"))):
                continue
            state = run.get("state") or {}
            rows.append({"platform": "databricks", "pipeline": name, "job_id": run.get("job_id"),
                         "run_id": run.get("run_id"), "status": state.get("result_state") or
                         state.get("life_cycle_state"), "start": run.get("start_time"), "end": run.get("end_time"),
                         "message": str(state.get("state_message") or "")[:MESSAGE_CHARS],
                         "link": run.get("run_page_url")})
            if len(rows) > limit:
                break
    except ToolProblem:
        raise
    except Exception as exc:
        raise problem_of(exc, "Databricks") from exc
    return rows


def run_details(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    platform = args.get("platform", "adf")
    run_id = str(args["run_id"])
    if platform == "databricks":
        return databricks_run(ctx, run_id)
    if platform == "airflow":
        return dag_run_tasks(ctx, args.get("pipeline"), run_id)
    resource = args.get("resource") or next(iter(configured_resources(ctx, platform)), None)
    if not resource:
        raise ToolProblem("invalid_arguments", "pass resource: the factory / workspace ARM id of the run")
    api = pipeline_api(ctx, platform, resource)
    what = f"{platform} {resource.rsplit('/', 1)[-1]}"
    try:
        run = api.get_pipeline_run(run_id)
        acts = activity_runs(api, run)
    except Exception as exc:
        raise problem_of(exc, what) from exc
    rows = []
    for a in acts:
        error = a.get("error") or {}
        rows.append({"activity": a.get("activityName"), "type": a.get("activityType"), "status": a.get("status"),
                     "start": a.get("activityRunStart"), "end": a.get("activityRunEnd"),
                     "error": {"code": error.get("errorCode"), "message": error.get("message"),
                               "failure_type": error.get("failureType")} if error.get("message") else None,
                     "child_run_id": (a.get("output") or {}).get("pipelineRunId")})
    return {"run": run_row(platform, resource.rsplit("/", 1)[-1], run), "activities": rows,
            "link": api.run_link(run_id)}


def databricks_run(ctx: ToolContext, run_id: str) -> dict[str, Any]:
    if not run_id.isdigit():
        raise ToolProblem("invalid_arguments", "a Databricks run id is a number")
    try:
        from shared.platforms.databricks import DatabricksWorkspace  # databricks-sdk loads only when used

        workspace = DatabricksWorkspace(ctx.settings)
        run = workspace.get_run(int(run_id))
        tasks: list[dict[str, Any]] = []
        outputs = 0
        for task in run.get("tasks") or []:
            state = task.get("state") or {}
            row = {"task": task.get("task_key"), "run_id": task.get("run_id"),
                   "status": state.get("result_state") or state.get("life_cycle_state"),
                   "message": str(state.get("state_message") or "")[:MESSAGE_CHARS]}
            failed = state.get("result_state") in ("FAILED", "TIMEDOUT", "INTERNAL_ERROR")
            if failed and task.get("run_id") and outputs < MAX_TASK_OUTPUTS:
                outputs += 1
                output = workspace.get_run_output(int(task["run_id"]))
                row["error"] = output.get("error")
            tasks.append(row)
    except Exception as exc:
        raise problem_of(exc, "Databricks") from exc
    state = run.get("state") or {}
    return {"run": {"platform": "databricks", "pipeline": run.get("run_name"), "run_id": run.get("run_id"),
                    "status": state.get("result_state") or state.get("life_cycle_state"),
                    "message": str(state.get("state_message") or "")[:MESSAGE_CHARS]},
            "tasks": tasks, "link": run.get("run_page_url")}


_PLATFORM = {"type": "string", "enum": ["adf", "synapse", "databricks", "airflow"],
             "description": "adf (Data Factory), synapse (Synapse pipelines), databricks (jobs) or airflow "
                            "(DAGs). Default adf."}
_RESOURCE = {"type": "string", "maxLength": 400,
             "description": "ARM id of the factory / workspace; default: the ones the app is configured for."}

LIST_RUNS = Tool(
    name="list_pipeline_runs",
    description=("List pipeline / job / DAG runs in a time window (default: failed runs of the last 24 hours). Use "
                 "`hours` for 'the last N hours' (up to 1080, 45 days) or since/until for a fixed window."),
    parameters=schema({
        "platform": _PLATFORM, "resource": _RESOURCE,
        "pipeline": {"type": "string", "maxLength": 260, "description": "Only this pipeline / job name."},
        "status": {"type": "string", "enum": ["Failed", "Succeeded", "InProgress", "Cancelled", "any"],
                   "description": "Run status; default Failed."},
        "hours": {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_HOURS,
                  "description": "Look back this many hours from now (default 24)."},
        "since": {"type": "string", "maxLength": 40, "description": "Window start, ISO-8601 UTC."},
        "until": {"type": "string", "maxLength": 40, "description": "Window end, ISO-8601 UTC (default now)."},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200, "description": "Most runs returned (50)."},
    }),
    handler=list_runs,
)

RUN_DETAILS = Tool(
    name="get_run_activities",
    description=("The activity runs (Data Factory / Synapse), task runs (Databricks) or task instances "
                 "(Airflow: pass the DAG id as pipeline) of one run, with each failed activity's exact error."),
    parameters=schema({"platform": _PLATFORM, "resource": _RESOURCE,
                       "pipeline": {"type": "string", "maxLength": 260, "description": "The DAG id (Airflow)."},
                       "run_id": {"type": "string", "maxLength": 250, "description": "The run id."}},
                      ("run_id",)),
    handler=run_details,
)

TOOLS = (LIST_RUNS, RUN_DETAILS)
