"""Azure Functions failures from Application Insights log alerts (pure).

Rows come from log v1 SearchResults or a simple log alert's `event` pairs. Understood tables:
  exceptions: type, outerMessage / innermostMessage / message, problemId, operation_Name,
              operation_Id, cloud_RoleName, customDimensions (InvocationId, FunctionName)
  requests:   name, resultCode, success, url, operation_Id, cloud_RoleName
  traces:     message, severityLevel
The function name is the pipeline, the invocation (else operation) id the run id. Rows that say
nothing about a failure collapse into one failure for the alert, summarised from the query.
"""

from __future__ import annotations

import json
from typing import Any

from extractors import alert_context as ac
from shared.models import Failure

_MESSAGE_KEYS = ("outerMessage", "innermostMessage", "message", "ErrorMessage", "Message")
_CODE_KEYS = ("type", "innermostType", "outerType", "exceptionType", "problemId", "resultCode", "ErrorCode")
_NAME_KEYS = ("FunctionName", "operation_Name", "name", "OperationName")


def _custom(row: dict[str, str]) -> dict[str, Any]:
    raw = ac.first(row, ("customDimensions",))
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _message(row: dict[str, str]) -> str | None:
    outer = ac.first(row, ("outerMessage", "message", "ErrorMessage", "Message"))
    inner = ac.first(row, ("innermostMessage",))
    if outer and inner and inner not in outer:
        return f"{outer}\n(innermost) {inner}"
    details = ac.first(row, ("details",))
    return outer or inner or details


def _is_failure_row(row: dict[str, str]) -> bool:
    if ac.first(row, _MESSAGE_KEYS) or ac.first(row, ("type", "problemId")):
        return True
    code = ac.first(row, ("resultCode",))
    return bool(code and not code.startswith(("1", "2", "3"))) or ac.first(row, ("success",)) == "False"


def app_insights_failures(template: Failure, rows: list[dict[str, str]], dimensions: dict[str, str]) -> list[Failure]:
    failures: list[Failure] = []
    seen: set[tuple[str | None, ...]] = set()
    for row in rows:
        if not _is_failure_row(row):
            continue
        custom = _custom(row)
        name = ac.text(custom.get("FunctionName")) or ac.first(row, _NAME_KEYS)
        run_id = ac.text(custom.get("InvocationId")) or ac.first(row, ("InvocationId", "operation_Id"))
        message = _message(row)
        code = ac.first(row, _CODE_KEYS)
        key = (run_id,) if run_id else (name, code, message)
        if key in seen:
            continue
        seen.add(key)
        failure = _copy(template, row)
        failure.pipeline, failure.run_id, failure.error_code, failure.message = name, run_id, code, message
        failure.activity = ac.first(row, ("cloud_RoleName",))
        failure.start = failure.end = ac.when(ac.first(row, ("timestamp", "TimeGenerated"))) or template.end
        if ac.first(row, ("url",)):
            failure.links["request"] = str(ac.first(row, ("url",)))
        failures.append(failure)
    if failures:
        return failures
    # Nothing row-level: one failure for the alert, so it is not lost.
    failure = _copy(template, None)
    failure.pipeline = ac.first(dimensions, _NAME_KEYS)
    count = template.origin.get("result_count") or len(rows) or template.origin.get("metric_value")
    query = template.origin.get("search_query")
    failure.message = (f"Application Insights alert {template.origin.get('alert_rule') or ''!s} fired"
                       f"{f' with {count} result(s)' if count not in (None, '') else ''}"
                       f"{f' for query: {query}' if query else ''}").replace("  ", " ")
    return [failure]


def _copy(template: Failure, row: dict[str, str] | None) -> Failure:
    data = template.to_dict()
    data["origin"] = dict(template.origin)
    data["links"] = dict(template.links)
    data["fingerprint_parts"] = {**template.fingerprint_parts, **({"row": row} if row else {})}
    return Failure.from_dict(data)
