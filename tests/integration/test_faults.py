"""Issue 9 item 11 in CI: the fault and fuzz suite, bounded (the full run is `python -m tools.faults`)."""

from __future__ import annotations

import pytest

from orchestration.runtime import Services
from tools.faults.fuzz import fuzz_edge
from tools.faults.storm import run_storm
from tools.faults.texts import EXTRA_UNITS, TextFigures, run_bodies, run_texts


@pytest.mark.e2e
def test_storage_and_host_faults_under_load_lose_nothing_and_count_nothing_twice() -> None:
    figures = run_storm(duration_s=20, rate_per_s=5, settle_timeout_s=90, verbose=False)
    assert figures.accepted > 40
    assert figures.lost == 0, figures.lost_ids
    assert figures.duplicates == 0
    assert figures.accounted == figures.accepted
    assert figures.server_errors_5xx_other_than_503 == 0 and figures.rejected_4xx == 0
    assert figures.slowest_503_s < 8  # fast 503s while storage is paused or stopped


def test_fuzzed_requests_get_only_2xx_or_4xx_and_accepted_bodies_process(services: Services,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import orchestration.runtime as runtime

    monkeypatch.setattr(runtime, "_services", services)  # test wiring: the handlers' process-wide services
    figures = fuzz_edge(services, examples=250, process_every=1, seed=9)
    assert figures.inputs >= 240
    assert figures.server_errors == 0 and figures.exceptions == 0, figures.problems[:5]
    assert figures.processing_errors == 0, figures.problems[:5]
    assert figures.slowest_s < 10


def test_adversarial_texts_and_1mib_bodies_stay_within_their_budget(services: Services) -> None:
    texts = run_texts(size=1_000_000, limit=len(EXTRA_UNITS))
    assert not texts.problems and texts.slowest_text_s < 5, (texts.slowest_text, texts.problems)
    bodies = TextFigures()
    run_bodies(services, bodies, ["a-", "\ud800x"])
    assert bodies.bodies == 2 and not bodies.problems, bodies.problems
    assert bodies.slowest_body_s < 20
