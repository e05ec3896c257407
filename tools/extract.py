"""What the app makes of one alert body, without the queue or storage.

    python -m tools.extract --source {azure-monitor|databricks|airflow|sweep} FILE [--enrich]

Prints JSON {"failures": [...normalized fields...], "ignored": null | "reason", "resolved", "alert_key",
"enrichment_errors"}. Without --enrich nothing goes over the network; with it, the platform APIs
named by the settings (shared.config.load_settings(): environment, then local.settings.json) are
asked for the exact error. Exit 0 when the body was understood (ignored included), 2 when the
input cannot be read (missing file, not JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from extractors import EXTRACTORS
from shared.config import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.extract", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, choices=sorted(EXTRACTORS), help="which endpoint it came in on")
    parser.add_argument("file", help="the alert body (JSON); '-' reads stdin")
    parser.add_argument("--enrich", action="store_true", help="ask the platform APIs for the exact error")
    args = parser.parse_args(argv)
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        print(f"error: {args.file} is not UTF-8 text: {exc}", file=sys.stderr)
        return 2
    try:
        payload = json.loads(text)
    except ValueError as exc:
        print(f"error: {args.file} is not JSON: {exc}", file=sys.stderr)
        return 2
    extractor = EXTRACTORS[args.source]
    extraction = extractor.parse(payload)
    if args.enrich and extraction.failures and not extraction.ignored_reason and not extraction.resolved:
        try:
            extraction = extractor.enrich(extraction, load_settings())
        except Exception as exc:  # as the processor does: keep the failures, say what went wrong
            extraction.enrichment_errors.append(f"{type(exc).__name__}: {exc}")
    json.dump(extraction.to_dict(), sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
