"""redact_text skips rules whose required literals a text lacks: the result must equal running every rule."""

from __future__ import annotations

import json
import random
from pathlib import Path

from shared.redaction import _RULES, redact_text
from tests.unit.analysis.secrets_corpus import text_with_all_secrets

ROOT = Path(__file__).resolve().parents[2]


def _every_rule(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_prefiltered_redaction_equals_every_rule() -> None:
    texts = [text_with_all_secrets(), text_with_all_secrets().upper(), text_with_all_secrets().lower()]
    for path in [*(ROOT / "samples").glob("*.json"), *(ROOT / "tests" / "corpus" / "payloads").rglob("*.json")]:
        texts += _strings(json.loads(path.read_text(encoding="utf-8")))
    for path in (ROOT / "tests" / "corpus").glob("*.jsonl"):
        texts += [json.loads(line)["message"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    rng = random.Random(7)
    secret_lines = text_with_all_secrets().splitlines()
    for _ in range(300):  # secrets spliced into ordinary texts, in odd case
        base, secret = rng.choice(texts), rng.choice(secret_lines)
        cut = rng.randrange(len(base) + 1)
        mixed = base[:cut] + " " + secret + " " + base[cut:]
        texts += [mixed, mixed.swapcase(), mixed.replace("k", "\u212a")]
    assert len(texts) > 1000
    for text in texts:
        assert redact_text(text) == _every_rule(text), text
