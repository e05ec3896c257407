"""Cold start: loading the app (and the ingest / processing paths) loads no SDK of a feature that is off."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = ("databricks.sdk", "openai", "azure.mgmt.datafactory", "azure.identity")


def test_the_app_and_its_alert_path_load_no_optional_sdk() -> None:
    probe = ("import sys, function_app\n"
             "from orchestration import api, ingest, processing, stages\n"
             f"print(','.join(m for m in {OPTIONAL!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                            timeout=120).stdout.strip()
    assert loaded == ""
