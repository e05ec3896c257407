"""Incidents for the notification tests (pure data)."""

from __future__ import annotations

from typing import Any

from shared.models import Incident


def incident(**overrides: Any) -> Incident:
    base: dict[str, Any] = {
        "id": "inc-0001", "source": "azure-monitor", "platform": "adf",
        "resource": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataFactory/factories/contoso-adf",
        "pipeline": "sales_daily", "run_id": "run-42", "status": "open", "occurrences": 3,
        "first_seen": "2026-12-01T10:00:00.000000Z", "last_seen": "2026-12-01T10:05:00.000000Z",
        "activity": "CopySales",
        "error_code": "2200", "error_message": "ErrorCode=UserErrorFileNotFound, the source file is missing",
        "verdict": {"category": "missing_source_data", "severity": "high", "explanation": "Source file not there yet."},
        "analysis": {"summary": "The upstream export was late."},
        "remediation": {"state": "waiting_approval", "action": "rerun_from_failure",
                     "approval_url": "https://func.example/api/approve/inc-0001?sig=abc"},
        "links": {"run": "https://adf.azure.com/monitoring/pipelineruns/run-42"}, "team": "sales-data",
        "owner": "alice@contoso.example",
    }
    base.update(overrides)
    return Incident(**base)
