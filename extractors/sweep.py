"""Failures the sweep found itself: already normalized, enqueued as {"failures": [...]}."""

from __future__ import annotations

from typing import Any

from extractors.base import Extractor
from shared.models import Extraction, Failure, Source


class SweepExtractor(Extractor):
    source = Source.SWEEP.value

    def parse(self, payload: Any) -> Extraction:
        items = payload.get("failures") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return Extraction(ignored_reason="sweep message without a failures list")
        return Extraction(failures=[Failure.from_dict(i) for i in items])
