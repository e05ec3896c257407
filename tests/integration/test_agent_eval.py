"""The agent's evaluation suite (agent/evals/*.toml) in CI, with the scripted local model: per-case pass / fail."""

from __future__ import annotations

import pytest

from agent.evaluation import load_cases
from tests.support.azurite import Azurite
from tools.eval_agent import run_all

pytestmark = pytest.mark.integration


def test_every_eval_case_passes_with_the_scripted_model(azurite: Azurite, capsys: pytest.CaptureFixture[str]) -> None:
    cases = load_cases()
    scores = run_all(cases, azurite.connection_string, live=None)
    report = capsys.readouterr().out
    print(report)
    assert len(scores) == len(cases) >= 8
    assert all(s.checks for s in scores), "a case with no checks proves nothing"
    assert [s.case for s in scores if not s.passed] == [], report
    assert f"{len(cases)}/{len(cases)} cases passed" in report
