"""Offline checks of the bicep files, without the Bicep CLI.

    python -m tools.check_bicep [PATH...]      (default: infra/)

Two tools, each in its own venv (`make infra-tools`), because checkov pins an older pycep-parser:

1. pycep-parser 0.7.1 (`.venv-bicep`, or BICEP_PARSER_PYTHON) parses every file and raises on a
   syntax error. A conditional resource (`resource x '...' = if (...) {...}`) is reported too:
   checkov 3.3.30 does not see its properties, so its checks would pass or fail on nothing. Use a loop
   over `cond ? [item] : []` instead.
2. checkov 3.3.30 (`.venv-checkov`, or CHECKOV_BIN) runs `--framework bicep --skip-download` with
   the project policies in infra/checkov. checkov exits 0 on a file it cannot parse, so
   `parsing_errors` is read from the JSON report. Every failed check must be waived in the resource
   block with `// checkov:skip=<ID>: <reason>`; a waiver without a reason is itself a finding. checkov
   ignores skip comments for graph (YAML) checks, so this tool applies them with the same rule.

Exit status: 0 clean, 1 findings, 2 a tool is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = (REPO_ROOT / "infra",)
POLICIES_DIR = REPO_ROOT / "infra" / "checkov"
TOOL_TIMEOUT_SECONDS = 600
INSTALL_HINT = "run `make infra-tools`"

# The pattern checkov itself uses for skip comments (checkov.common.comment.enum.COMMENT_REGEX).
WAIVER_RE = re.compile(r"(checkov:skip=|bridgecrew:skip=|cortex:skip=) *([A-Za-z_\d-]+(?:,[A-Za-z_\d-]+)*)?(:[^\n]*)?")

# Runs inside the pycep-parser venv: parse each file named on the command line, print JSON.
_PARSER_SCRIPT = """
import json, pathlib, sys
from pycep import BicepParser
parser = BicepParser()
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = {"template": parser.parse(file_path=pathlib.Path(name))}
    except Exception as exc:
        out[name] = {"error": type(exc).__name__ + ": " + str(exc)}
json.dump(out, sys.stdout)
"""


class ToolMissing(RuntimeError):
    """A checking tool's venv is not installed."""


@dataclass(frozen=True)
class Finding:
    path: Path
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{_display(self.path)}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class Waiver:
    path: Path
    line: int
    check_id: str
    reason: str


@dataclass
class CheckReport:
    files: list[Path]
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    passed: int = 0
    waived: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parser_python() -> Path:
    return Path(os.environ.get("BICEP_PARSER_PYTHON") or REPO_ROOT / ".venv-bicep" / "bin" / "python")


def checkov_bin() -> Path:
    return Path(os.environ.get("CHECKOV_BIN") or REPO_ROOT / ".venv-checkov" / "bin" / "checkov")


def _require(tool: Path, what: str) -> None:
    if not (tool.is_file() and os.access(tool, os.X_OK)):
        raise ToolMissing(f"{what} not found at {tool}: {INSTALL_HINT}")


def bicep_files(paths: Iterable[Path | str]) -> list[Path]:
    """The .bicep files named or found (recursively) under the given paths, sorted."""
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_dir():
            found.update(p for p in path.rglob("*.bicep") if p.is_file())
        elif path.is_file():
            found.add(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {raw}")
    return sorted(found)


def parse_templates(files: Sequence[Path], python: Path | None = None) -> dict[Path, dict[str, Any]]:
    """pycep-parser JSON of each file: {"template": {...}} or {"error": "..."}."""
    python = python or parser_python()
    _require(python, "pycep-parser venv python")
    if not files:
        return {}
    proc = subprocess.run(
        [str(python), "-c", _PARSER_SCRIPT, *map(str, files)],
        capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pycep-parser failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    raw: dict[str, dict[str, Any]] = json.loads(proc.stdout)
    return {Path(name): outcome for name, outcome in raw.items()}


def _first_lines(text: str, count: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[:count])


def conditional_resources(template: dict[str, Any]) -> list[str]:
    """Names of resources declared `= if (...) {...}` (a loop has loop_type and is fine)."""
    names = []
    for name, resource in (template.get("resources") or {}).items():
        config = resource.get("config") if isinstance(resource, dict) else None
        if (isinstance(config, dict) and "loop_type" not in config and "config" in config
                and config.get("condition") is not None):
            names.append(str(name))
    return names


def parse_findings(parsed: dict[Path, dict[str, Any]]) -> list[Finding]:
    findings = []
    for path, outcome in parsed.items():
        if "error" in outcome:
            findings.append(Finding(path, "parse error (pycep-parser 0.7.1)", _first_lines(str(outcome["error"]))))
            continue
        for name in conditional_resources(outcome["template"]):
            findings.append(Finding(
                path, "conditional resource",
                f"resource {name!r} uses `= if (...)`; checkov 3.3.30 does not see its properties. "
                "Declare it as a loop over `cond ? [item] : []`."))
    return findings


def waivers(path: Path) -> list[Waiver]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = WAIVER_RE.search(line)
        if match:
            reason = (match.group(3) or "")[1:].strip()
            for check_id in (match.group(2) or "").split(","):
                found.append(Waiver(path, number, check_id.strip(), reason))
    return found


def run_checkov(files: Sequence[Path], binary: Path | None = None) -> list[dict[str, Any]]:
    """checkov's JSON reports (one per framework; here only bicep)."""
    binary = binary or checkov_bin()
    _require(binary, "checkov")
    args = [str(binary), "--framework", "bicep", "--skip-download", "-o", "json", "--compact",
            "--external-checks-dir", str(POLICIES_DIR)]
    for path in files:
        args += ["-f", str(path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS, check=False)
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"checkov gave no JSON report (exit {proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()[-2000:]}") from exc
    return data if isinstance(data, list) else [data]


def _waiver_for(waivers_by_file: dict[Path, list[Waiver]], path: Path, check_id: str,
                lines: Sequence[int]) -> Waiver | None:
    """The skip comment for `check_id` inside the resource block (lines [first, last]), if any."""
    start, end = (lines[0], lines[-1]) if lines else (0, 0)
    for waiver in waivers_by_file.get(path, []):
        if waiver.check_id == check_id and start <= waiver.line <= end:
            return waiver
    return None


def checkov_findings(files: Sequence[Path], reports: list[dict[str, Any]], report: CheckReport) -> None:
    waivers_by_file = {path: waivers(path) for path in files}
    used: set[tuple[Path, int]] = set()
    for path, file_waivers in waivers_by_file.items():
        for reasonless in file_waivers:
            if not reasonless.reason:
                report.findings.append(Finding(
                    path, "waiver without a reason",
                    f"line {reasonless.line}: `// checkov:skip={reasonless.check_id}: <why>`"))
    for data in reports:
        results = data.get("results") or {}
        for error_path in results.get("parsing_errors") or []:
            report.findings.append(Finding(Path(error_path), "parse error (checkov, pycep-parser 0.5.1)",
                                           "checkov could not parse the file (it would still exit 0)"))
        report.passed += len(results.get("passed_checks") or [])
        for record in results.get("skipped_checks") or []:
            report.waived += 1
            path = Path(record.get("file_abs_path", ""))
            skip = _waiver_for(waivers_by_file, path, record["check_id"], record.get("file_line_range") or [])
            if skip:
                used.add((skip.path, skip.line))
        for record in results.get("failed_checks") or []:
            path = Path(record.get("file_abs_path", ""))
            skip = _waiver_for(waivers_by_file, path, record["check_id"], record.get("file_line_range") or [])
            if skip:  # a graph (YAML) check: checkov does not apply skip comments to those
                used.add((skip.path, skip.line))
                report.waived += 1
                continue
            lines = record.get("file_line_range") or ["?"]
            report.findings.append(Finding(
                path, f"checkov {record['check_id']}",
                f"{record.get('resource', '?')} (line {lines[0]}): {record.get('check_name', '')}. Fix it, or waive it "
                f"inside the resource block with `// checkov:skip={record['check_id']}: <reason>`"))
    for path, file_waivers in waivers_by_file.items():
        for waiver in file_waivers:
            if waiver.reason and (path, waiver.line) not in used:
                report.warnings.append(f"{_display(path)}:{waiver.line}: waiver {waiver.check_id} matched no finding")


def check_bicep(paths: Sequence[Path | str] = DEFAULT_PATHS, *, python: Path | None = None,
                checkov: Path | None = None) -> CheckReport:
    """Run both checks over the .bicep files under `paths`. Raises ToolMissing without the venvs."""
    started = time.monotonic()
    files = bicep_files(paths)
    report = CheckReport(files=files)
    if not files:
        report.findings.append(Finding(Path("."), "no input", f"no .bicep files under {[str(p) for p in paths]}"))
        return report
    report.findings.extend(parse_findings(parse_templates(files, python)))
    checkov_findings(files, run_checkov(files, checkov), report)
    report.seconds = time.monotonic() - started
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.check_bicep", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="bicep files or directories (default: infra/)")
    args = parser.parse_args(argv)
    try:
        report = check_bicep(args.paths or DEFAULT_PATHS)
    except ToolMissing as exc:
        print(f"check_bicep: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"check_bicep: {exc}", file=sys.stderr)
        return 1
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for finding in report.findings:
        print(finding, file=sys.stderr)
    status = "OK" if report.ok else f"FAILED ({len(report.findings)} finding(s))"
    print(f"check_bicep: {len(report.files)} bicep file(s), {report.passed} checkov checks passed, "
          f"{report.waived} waived: {status} in {report.seconds:.1f}s")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
