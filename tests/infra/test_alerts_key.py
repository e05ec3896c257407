"""Issue 9 finding 9: the Action Group URL carries a key of the ingest function only, never the host key."""

from __future__ import annotations

import json
import re

from tests.infra.bicep_model import INFRA, resources, template

ALERTS = INFRA / "app" / "alerts.bicep"


def test_action_group_url_has_no_host_key() -> None:
    text = ALERTS.read_text(encoding="utf-8")
    assert "host/default" not in text and "functionKeys.default" not in text, "the host default key opens every route"
    (group,) = resources(template(ALERTS), "Microsoft.Insights/actionGroups")
    (receiver,) = group["config"]["properties"]["webhookReceivers"]
    uri = json.dumps(receiver["serviceUri"])
    assert "listKeys" not in uri and "ingestKey" in uri


def test_the_key_is_scoped_to_the_ingest_function() -> None:
    (key,) = resources(template(ALERTS), "Microsoft.Web/sites/functions/keys")
    assert json.dumps(key["config"]["properties"]["value"]) == json.dumps("ingestKey")
    # Its parent is the ingest function (function_app.py's azure_monitor), not the host.
    text = ALERTS.read_text(encoding="utf-8")
    assert re.search(r"param ingestFunctionName string = 'azure_monitor'", text)
    assert "def azure_monitor(" in (INFRA.parent / "function_app.py").read_text(encoding="utf-8")
