"""Classify error messages from JSONL on stdin; or measure the catalog against a labeled file.

    python -m tools.classify < errors.jsonl            # rules only
    python -m tools.classify --llm < errors.jsonl      # plus the LLM (settings from env / local.settings.json)
    python -m tools.classify --eval corpus.jsonl       # retry precision / recall, category accuracy, confusion

Input lines need `platform` and `message`; `id`, `error_code`, `failure_type` are optional.
Output: one JSON line per input: id, category, retryable, retry_delay_s, confidence, matched_rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from analysis.classifier import Verdict
from analysis.evaluation import confusion_table, evaluate, verdict_for


def read_jsonl(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError(f"line {number} is not a JSON object")
        yield data


def _row_out(row: dict[str, Any], verdict: Verdict) -> dict[str, Any]:
    return {"id": row.get("id"), "category": verdict.category, "retryable": verdict.retryable,
            "retry_delay_s": verdict.retry_delay_s, "confidence": verdict.confidence,
            "matched_rule": verdict.matched_rule}


def classify_stream(stdin: TextIO, stdout: TextIO, use_llm: bool) -> int:
    analyzer = None
    min_conf = 80
    if use_llm:
        from analysis.llm import LlmAnalyzer
        from shared.config import load_settings

        settings = load_settings()
        analyzer = LlmAnalyzer.from_settings(settings)
        min_conf = int(settings.get("LLM_UNKNOWN_MIN_CONFIDENCE"))
    for row in read_jsonl(stdin):
        verdict = verdict_for(row)
        out = _row_out(row, verdict)
        if analyzer is not None:
            from analysis.guardrail import guard

            outcome = analyzer.analyze({"failure": {k: row.get(k) for k in ("platform", "error_code", "failure_type",
                                                                            "message")},
                                        "rule_verdict": verdict.to_dict()})
            decision = guard(verdict, outcome.answer, min_conf)
            out.update({"category": decision.category, "retryable": decision.retryable,
                        "retry_delay_s": decision.retry_delay_s,
                        "source": "llm" if outcome.answer else "rules", "fallback_reason": outcome.fallback_reason})
        stdout.write(json.dumps(out) + "\n")
    return 0


def run_eval(path: Path, stdout: TextIO) -> int:
    rows = list(read_jsonl(path.read_text(encoding="utf-8").splitlines()))
    result = evaluate(rows)
    s = result.summary()
    stdout.write(f"messages:          {s['total']}\n")
    stdout.write(f"retry precision:   {s['retry_precision']:.3f}  ({result.true_retry}/{result.predicted_retry})\n")
    stdout.write(f"retry recall:      {s['retry_recall']:.3f}  ({result.true_retry}/{result.labeled_retry})\n")
    stdout.write(f"category accuracy: {s['category_accuracy']:.3f}  ({result.category_correct}/{result.total})\n\n")
    stdout.write("confusion (rows: label, columns: predicted)\n" + confusion_table(result) + "\n")
    if result.misses:
        stdout.write("\nmisses:\n")
        for miss in result.misses:
            stdout.write(json.dumps(miss) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.classify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", action="store_true", help="ask the configured LLM too (guardrail applies)")
    parser.add_argument("--eval", type=Path, metavar="FILE", help="labeled JSONL (corpus format) to measure")
    args = parser.parse_args(argv)
    if args.eval:
        return run_eval(args.eval, sys.stdout)
    return classify_stream(sys.stdin, sys.stdout, args.llm)


if __name__ == "__main__":
    raise SystemExit(main())
