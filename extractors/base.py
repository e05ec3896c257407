"""The one small interface every source implements.

`parse` is pure: payload in, `Extraction` out, no network. `enrich` may call the platform's
API (through an adapter) to fill in what a thin payload lacks; it must never lose a failure --
on any API error it returns the failures it had and adds the problem to `enrichment_errors`.
Adding a source is one module with one `Extractor` subclass, registered in `extractors/__init__.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from shared.config import Settings
from shared.models import Extraction


class Extractor(ABC):
    source: ClassVar[str]

    @abstractmethod
    def parse(self, payload: Any) -> Extraction:
        """Turn a received body into failures, or say why it is ignored. No I/O."""

    def enrich(self, extraction: Extraction, settings: Settings) -> Extraction:
        """Fetch what the payload lacks from the platform API. Default: nothing to fetch."""
        return extraction
