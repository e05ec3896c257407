"""Secret shapes in alerts never reach what the analysis stores, prompts or notifies (Azurite + LLM stub)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import pytest

from analysis.stages import AnalyzeStage, ClassifyStage
from orchestration.processing import process_envelope
from orchestration.runtime import Services
from shared.config import Settings
from shared.models import Envelope, Failure, Incident
from shared.timeutil import utc_now_iso
from tests.integration.notify_support import drain
from tests.unit.analysis.secrets_corpus import SECRETS, all_secret_values
from tools.simulators.openai_server import OpenAIStub

pytestmark = pytest.mark.integration


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub().start()
    yield server
    server.stop()


@pytest.fixture
def llm_services(app_values: dict[str, str], stub: OpenAIStub) -> Services:
    values = {**app_values, "ANALYSIS_MODE": "llm", "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "k",
              "LLM_MAX_RETRIES": "0"}
    services = Services.from_settings(Settings.from_mapping(values))
    services.ensure_ready()
    return services


def leaked(text: str) -> list[str]:
    return [secret for secret in all_secret_values() if secret in text]


def secret_alerts() -> list[Envelope]:
    """Each secret shape inside an otherwise ordinary error, one alert per shape, plus one with all of them."""
    texts = [f"Copy failed: {text}. Login failed for user 'etl'." for _, text, _ in SECRETS]
    texts.append("psycopg2.OperationalError: SSL SYSCALL error: EOF detected\n" + "\n".join(t for _, t, _ in SECRETS))
    return [Envelope(id=f"alert-{uuid.uuid4().hex}", source="airflow", received_at=utc_now_iso(),
                     payload={"dag_id": f"dag{i}", "task_id": "t", "run_id": f"r{i}", "state": "failed",
                              "exception": text}) for i, text in enumerate(texts)]


def table_dump(services: Services, table: str) -> list[dict[str, object]]:
    return [dict(e) for e in services.storage.table(table).list_entities()]


def test_no_secret_in_analysis_tables_prompts_or_stage_results(llm_services: Services, stub: OpenAIStub) -> None:
    ids = []
    for envelope in secret_alerts():
        ids.extend(process_envelope(llm_services, envelope).incident_ids)
    assert ids
    settings = llm_services.settings
    # the analysis cache, the audit trail and the alert records: every column
    for table in (settings.analysis_cache_table, settings.audit_table, settings.alerts_table):
        dump = json.dumps(table_dump(llm_services, table), default=str)
        assert not leaked(dump), table
    assert table_dump(llm_services, settings.analysis_cache_table)
    # the stage-owned columns of the incidents
    for entity in table_dump(llm_services, settings.incidents_table):
        owned = {k: v for k, v in entity.items() if k in ("verdict_json", "analysis_json", "notifications_json")}
        assert not leaked(json.dumps(owned, default=str))
    for incident_id in ids:
        incident = llm_services.incidents.get(incident_id)
        assert incident is not None and incident.analysis is not None
        assert not leaked(json.dumps([incident.verdict, incident.analysis, incident.notifications]))
    # prompts as the LLM received them
    assert stub.requests
    assert not leaked("\n".join(stub.prompts()))
    assert not leaked(json.dumps([r["body"] for r in stub.requests]))


def test_stage_results_carry_no_secret(llm_services: Services) -> None:
    message = "\n".join(text for _, text, _ in SECRETS)
    failure = Failure(source="airflow", platform="airflow", resource="af", pipeline="dag", run_id="r",
                      activity="t", message=message, error_code="AirflowException")
    now = utc_now_iso()
    incident = Incident(id="inc-secret", source="airflow", platform="airflow", resource="af", pipeline="dag",
                        run_id="r", status="open", occurrences=1, first_seen=now, last_seen=now, activity="t",
                        error_message=message)
    classified = ClassifyStage().run(incident, failure)
    incident.verdict = classified.fields["verdict"]
    analysed = AnalyzeStage(llm_services.settings, llm_services.storage).run(incident, failure)
    for result in (classified, analysed):
        assert not leaked(json.dumps([result.fields, [list(a) for a in result.audit]], default=str))


def test_whole_incidents_table_is_clean(llm_services: Services) -> None:
    for envelope in secret_alerts()[:3]:
        process_envelope(llm_services, envelope)
    assert not leaked(json.dumps(table_dump(llm_services, llm_services.settings.incidents_table), default=str))


def test_console_notification_is_clean(llm_services: Services, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    # Notifications follow the lifecycle events: drain the events and delivery queues (no quiet period).
    svc = Services.from_settings(Settings.from_mapping({**llm_services.settings.raw, "NOTIFY_QUIET_SECONDS": "0"}))
    for envelope in secret_alerts()[:3]:
        process_envelope(svc, envelope)
    outcomes = drain(svc)
    assert outcomes.get("sent") and any(r.name == "notify.console" for r in caplog.records)
    assert not leaked(caplog.text)
    assert not leaked(json.dumps(table_dump(svc, svc.settings.notifications_table), default=str))
