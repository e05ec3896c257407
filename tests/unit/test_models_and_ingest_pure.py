import base64
import json

import pytest

from orchestration.ingest import QUEUE_MESSAGE_LIMIT, base64_length, raw_blob_name
from shared.config import SETTINGS, Settings, load_settings
from shared.models import Envelope
from shared.timeutil import parse_iso, to_iso


def test_envelope_round_trip_inline_and_claim_checked() -> None:
    inline = Envelope("a1", "azure-monitor", "2026-01-01T00:00:00Z", payload={"x": 1})
    assert Envelope.from_dict(json.loads(json.dumps(inline.to_dict()))) == inline
    ref = Envelope("a2", "databricks", "2026-01-01T00:00:00Z", payload_ref="alerts-raw/b.json")
    data = ref.to_dict()
    assert "payload" not in data and data["payload_ref"] == "alerts-raw/b.json"
    assert Envelope.from_dict(data) == ref


@pytest.mark.parametrize("bad", [[], "x", {"id": "a"}, {"id": "a", "source": "s", "received_at": "t"}])
def test_envelope_rejects_what_is_not_one(bad: object) -> None:
    with pytest.raises(ValueError):
        Envelope.from_dict(bad)


def test_base64_length_matches_real_encoding() -> None:
    for n in (0, 1, 2, 3, 100, 49_151, 49_152, 49_153):
        assert base64_length(n) == len(base64.b64encode(b"x" * n))
    assert base64_length(49_152) == QUEUE_MESSAGE_LIMIT


def test_raw_blob_name_is_dated_by_receipt() -> None:
    assert raw_blob_name("airflow", "abc", "2026-03-04T05:06:07Z") == "2026-03-04/airflow/abc.json"


def test_environment_overrides_local_settings(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "local.settings.json"
    path.write_text(json.dumps({"Values": {"ALERTS_QUEUE": "fromfile", "INCIDENTS_TABLE": "filetable"}}))
    settings = load_settings({"ALERTS_QUEUE": "fromenv"}, path)
    assert settings.alerts_queue == "fromenv"
    assert settings.incidents_table == "filetable"
    assert settings.poison_queue == "fromenv-poison"


def test_defaults_cover_every_declared_setting() -> None:
    settings = Settings.from_mapping({})
    for setting in SETTINGS:
        assert settings.get(setting.name) == setting.default
    with pytest.raises(KeyError):
        settings.get("NOT_A_SETTING")


def test_parse_iso_handles_azure_seven_digit_fractions() -> None:
    moment = parse_iso("2019-03-22T13:58:24.3713213Z")
    assert to_iso(moment) == "2019-03-22T13:58:24.371321Z"
