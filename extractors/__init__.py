"""Extractors, one per source, looked up by the source name the ingest endpoint records."""

from __future__ import annotations

from extractors.airflow import AirflowExtractor
from extractors.azure_monitor import AzureMonitorExtractor
from extractors.base import Extractor
from extractors.databricks import DatabricksExtractor
from extractors.sweep import SweepExtractor

EXTRACTORS: dict[str, Extractor] = {
    e.source: e
    for e in (AzureMonitorExtractor(), DatabricksExtractor(), AirflowExtractor(), SweepExtractor())
}


def extractor_for(source: str) -> Extractor:
    try:
        return EXTRACTORS[source]
    except KeyError:
        raise KeyError(f"no extractor for source {source!r}") from None


__all__ = ["EXTRACTORS", "Extractor", "extractor_for"]
