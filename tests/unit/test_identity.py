from shared.identity import alert_key_digest, incident_identity
from shared.models import Failure


def failure(**kw: object) -> Failure:
    base: dict[str, object] = {"source": "azure-monitor", "platform": "adf", "resource": "/subscriptions/s/rg/f"}
    base.update(kw)
    return Failure(**base)  # type: ignore[arg-type]


def test_run_identity_ignores_source_and_case_of_resource() -> None:
    a, basis = incident_identity(failure(run_id="r-1", source="azure-monitor"))
    b, _ = incident_identity(failure(run_id="r-1", source="sweep", resource="/SUBSCRIPTIONS/S/RG/F"))
    assert basis == "run"
    assert a == b


def test_different_runs_are_different_incidents() -> None:
    assert incident_identity(failure(run_id="r-1"))[0] != incident_identity(failure(run_id="r-2"))[0]


def test_same_run_id_on_another_platform_or_resource_differs() -> None:
    base = incident_identity(failure(run_id="r-1"))[0]
    assert incident_identity(failure(run_id="r-1", platform="synapse"))[0] != base
    assert incident_identity(failure(run_id="r-1", resource="/subscriptions/s/rg/other"))[0] != base


def test_fingerprint_uses_alert_instance_not_rule_name() -> None:
    parts = {"alert_id": "/alerts/1", "rule_id": "rule", "targets": ["t"], "dimensions": {"Name": "p"}}
    first, basis = incident_identity(failure(fingerprint_parts=parts, origin={"alert_rule": "same rule"}))
    other_instance = {**parts, "alert_id": "/alerts/2"}
    second, _ = incident_identity(failure(fingerprint_parts=other_instance, origin={"alert_rule": "same rule"}))
    assert basis == "fingerprint"
    assert first != second


def test_fingerprint_is_stable_under_dimension_order_and_case() -> None:
    a = {"alert_id": "/A/1", "targets": ["x", "y"], "dimensions": {"Name": "P", "FailureType": "UserError"}}
    b = {"alert_id": "/a/1", "targets": ["y", "x"], "dimensions": {"FailureType": "UserError", "Name": "P"}}
    assert incident_identity(failure(fingerprint_parts=a))[0] == incident_identity(failure(fingerprint_parts=b))[0]


def test_no_fingerprint_parts_never_collapses_different_failures() -> None:
    one = incident_identity(failure(message="disk full"))[0]
    two = incident_identity(failure(message="login failed"))[0]
    assert one != two


def test_alert_key_digest_is_case_insensitive() -> None:
    assert alert_key_digest("/Subscriptions/X/alerts/1") == alert_key_digest("/subscriptions/x/alerts/1")
