"""tools/check_bicep.py: the repo's bicep passes both offline checks, and broken bicep fails them.

These tests need the tool venvs; without them they fail with "run `make infra-tools`".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep_model import INFRA, require_tools
from tools import check_bicep

STORAGE_OK = """resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {{
{waiver}  name: 'stcheckbicep'
  location: 'westeurope'
  sku: {{
    name: 'Standard_GRS'
  }}
  properties: {{
    allowBlobPublicAccess: {public}
    allowSharedKeyAccess: {shared_key}
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    networkAcls: {{
      bypass: 'AzureServices'
      defaultAction: 'Deny'
    }}
  }}
}}
"""

CASES = {
    # A clean file, the control: nothing may be reported for it.
    "clean.bicep": STORAGE_OK.format(waiver="", public="false", shared_key="false"),
    # Syntax error: the object is never closed.
    "broken.bicep": "resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'x'\n  properties: {\n",
    # New findings without a waiver: anonymous blob access and shared keys on.
    "public_storage.bicep": STORAGE_OK.format(waiver="", public="true", shared_key="true"),
    # A project (graph) policy waived with a reason: checkov ignores the comment, the tool must not.
    "waived.bicep": STORAGE_OK.format(
        waiver="  // checkov:skip=CKV_PIPEINC_1: test: a legacy client needs shared keys\n",
        public="false", shared_key="true"),
    # A waiver without a reason.
    "reasonless.bicep": STORAGE_OK.format(
        waiver="  // checkov:skip=CKV_PIPEINC_1\n", public="false", shared_key="true"),
    # checkov cannot see the properties of a conditional resource.
    "conditional.bicep": "param on bool = true\n" + STORAGE_OK.format(waiver="", public="false", shared_key="false")
    .replace("= {\n", "= if (on) {\n", 1),
    # Valid bicep that checkov's pycep-parser 0.5.1 cannot parse (checkov still exits 0).
    "optional_type.bicep": "param label string?\n\noutput shown string = label ?? 'none'\n",
}


@pytest.fixture(scope="module")
def repo_report() -> check_bicep.CheckReport:
    require_tools()
    return check_bicep.check_bicep()


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, check_bicep.CheckReport]:
    require_tools()
    folder = tmp_path_factory.mktemp("bicep-cases")
    for name, text in CASES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder, check_bicep.check_bicep([folder])


def findings_of(cases: tuple[Path, check_bicep.CheckReport], name: str) -> list[check_bicep.Finding]:
    folder, report = cases
    return [f for f in report.findings if f.path.resolve() == (folder / name).resolve()]


def test_repo_bicep_passes(repo_report: check_bicep.CheckReport) -> None:
    assert repo_report.ok, "\n".join(map(str, repo_report.findings))


def test_repo_check_covers_every_module(repo_report: check_bicep.CheckReport) -> None:
    expected = {p.resolve() for p in INFRA.rglob("*.bicep")}
    assert set(repo_report.files) == expected
    assert (INFRA / "main.bicep").resolve() in expected and len(expected) >= 6
    # checkov really evaluated the templates, with the project policies among them.
    assert repo_report.passed >= 30


def test_repo_waivers_all_match_a_finding(repo_report: check_bicep.CheckReport) -> None:
    assert not repo_report.warnings, repo_report.warnings


def test_clean_file_has_no_findings(cases: tuple[Path, check_bicep.CheckReport]) -> None:
    assert findings_of(cases, "clean.bicep") == []


def test_syntax_error_fails_both_parsers(cases: tuple[Path, check_bicep.CheckReport]) -> None:
    kinds = {f.kind for f in findings_of(cases, "broken.bicep")}
    assert "parse error (pycep-parser 0.7.1)" in kinds
    assert "parse error (checkov, pycep-parser 0.5.1)" in kinds
    assert not cases[1].ok


def test_unwaived_checkov_finding_fails(cases: tuple[Path, check_bicep.CheckReport]) -> None:
    kinds = {f.kind for f in findings_of(cases, "public_storage.bicep")}
    assert {"checkov CKV_PIPEINC_1", "checkov CKV_PIPEINC_2"} <= kinds


def test_waiver_with_reason_is_honoured_for_project_policies(cases: tuple[Path, check_bicep.CheckReport]) -> None:
    assert findings_of(cases, "waived.bicep") == []


def test_waiver_without_reason_fails(cases: tuple[Path, check_bicep.CheckReport]) -> None:
    kinds = {f.kind for f in findings_of(cases, "reasonless.bicep")}
    assert "waiver without a reason" in kinds


def test_conditional_resource_fails(cases: tuple[Path, check_bicep.CheckReport]) -> None:
    kinds = {f.kind for f in findings_of(cases, "conditional.bicep")}
    # (checkov also reports false failures on it: it reads the properties one level too high.)
    assert "conditional resource" in kinds


def test_syntax_checkov_cannot_parse_fails(cases: tuple[Path, check_bicep.CheckReport]) -> None:
    kinds = {f.kind for f in findings_of(cases, "optional_type.bicep")}
    assert kinds == {"parse error (checkov, pycep-parser 0.5.1)"}


def test_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tools()
    broken = tmp_path / "broken.bicep"
    broken.write_text(CASES["broken.bicep"], encoding="utf-8")
    assert check_bicep.main([str(broken)]) == 1
    assert "broken.bicep: parse error" in capsys.readouterr().err


def test_missing_tool_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BICEP_PARSER_PYTHON", str(tmp_path / "no-such-python"))
    assert check_bicep.main([str(INFRA)]) == 2
    assert "make infra-tools" in capsys.readouterr().err


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        check_bicep.bicep_files([tmp_path / "nope"])
