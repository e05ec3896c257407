"""Adversarial texts through redaction, signature and classification, and 1 MiB bodies through ingest and
processing, each against a time budget.

The texts are 1 MB repetitions of every character class a pattern applied to outside text uses (see
tools.faults.shapes), plus a few known troublemakers (the `a-` body that froze the app, lone surrogates,
emoji). The bodies are Airflow failure callbacks whose exception is such a text, near the 1 MiB body limit.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from analysis.classifier import classify_fields
from analysis.signature import normalize_message
from orchestration import ingest, processing
from orchestration.runtime import Services
from shared.redaction import redact_text
from tools.faults.shapes import all_text_patterns, catalog_patterns, repeat, worst_shapes

TEXT_BUDGET_S = 5.0  # redaction + signature + classification of one 1 MB text
BODY_BUDGET_S = 20.0  # ingest + processing of one 1 MiB body, storage included
EXTRA_UNITS = ["a-", "\ud800x", "\U0001F600", "a://b:c@", "-----BEGIN PGP PRIVATE KEY BLOCK-----", "0.", "x@y.",
               "9", "DELTA_", "Distribution_", "HTTPSConnectionPool", "No such file or directory: "]


@dataclass
class TextFigures:
    texts: int = 0
    slowest_text_s: float = 0.0
    slowest_text: str = ""
    bodies: int = 0
    slowest_body_s: float = 0.0
    slowest_body: str = ""
    body_size: int = 0
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not self.problems and self.slowest_text_s < TEXT_BUDGET_S and self.slowest_body_s < BODY_BUDGET_S


def all_units(limit: int | None = None, per_pattern: int = 2, catalog: bool = True) -> list[str]:
    """The known troublemakers, then for every pattern (the catalog's too) the shapes it is slowest on."""
    units: list[str] = list(EXTRA_UNITS)
    patterns = [*all_text_patterns(), *(catalog_patterns() if catalog else [])]
    for _, pattern in patterns:
        units += [unit for _, unit in worst_shapes(pattern, size=10_000, keep=per_pattern)]
    unique = list(dict.fromkeys(units))
    return unique[:limit] if limit else unique


def run_texts(size: int = 1_000_000, limit: int | None = None) -> TextFigures:
    figures = TextFigures()
    for unit in all_units(limit):
        text = repeat(unit, size)
        started = time.monotonic()
        try:
            redact_text(text)
            normalize_message(text)
            classify_fields("airflow", text, None)
        except Exception as exc:
            figures.problems.append(f"{type(exc).__name__} on {unit!r} x {size}: {exc}")
        elapsed = time.monotonic() - started
        figures.texts += 1
        if elapsed > figures.slowest_text_s:
            figures.slowest_text_s, figures.slowest_text = elapsed, f"{unit!r} repeated to {size} characters"
    return figures


def run_bodies(svc: Services, figures: TextFigures, units: list[str]) -> None:
    """Each unit as the exception of an Airflow callback just under MAX_BODY_BYTES, accepted and processed."""
    limit = svc.settings.max_body_bytes
    for i, unit in enumerate(units):
        shell = {"dag_id": "big_dag", "task_id": f"t{i}", "run_id": f"big-{i}-{time.time_ns()}", "state": "failed",
                 "exception": ""}
        room = limit - len(json.dumps(shell).encode()) - 64
        text = repeat(unit, room)
        while len(json.dumps({**shell, "exception": text}).encode()) > limit:  # escapes grow the body
            text = text[: int(len(text) * 0.9)]
        body = json.dumps({**shell, "exception": text}).encode()
        started = time.monotonic()
        result = ingest.accept(svc, "airflow", body)
        if result.status != 202:
            figures.problems.append(f"a {len(body)} byte body of {unit!r} was answered {result.status}")
            continue
        queue = svc.storage.queue(svc.settings.alerts_queue)
        for message in queue.receive_messages(max_messages=32):
            queue.delete_message(message)
            try:
                processing.process_envelope(svc, processing.decode_envelope(message.content))
            except Exception as exc:
                figures.problems.append(f"processing a body of {unit!r} raised {type(exc).__name__}: {exc}")
        elapsed = time.monotonic() - started
        figures.bodies += 1
        if elapsed > figures.slowest_body_s:
            figures.slowest_body_s, figures.slowest_body, figures.body_size = elapsed, repr(unit), len(body)
