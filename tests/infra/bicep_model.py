"""Read the infra bicep as data: pycep-parser JSON plus a small evaluator of literal values.

pycep-parser writes an identifier (`alertsQueue`) and a string literal (`'alerts'`) the same way, as a
Python str; expressions (functions, operators) become {"function": ...} / {"operator": ...} dicts.
`resolve` substitutes parameters and variables (their defaults) into strings, lists and objects and
raises Unresolved on anything computed at deployment time.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest

from tools import check_bicep

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
MAIN = INFRA / "main.bicep"

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_EXPRESSION_KEYS = {"function", "operator"}


class Unresolved(Exception):
    """The value is computed at deployment time."""


def require_tools() -> None:
    """Fail (not skip) with the fix when the checking venvs are missing."""
    for tool, what in ((check_bicep.parser_python(), "pycep-parser venv"), (check_bicep.checkov_bin(), "checkov")):
        if not tool.is_file():
            pytest.fail(f"{what} not found at {tool}: run `make infra-tools`", pytrace=False)


@functools.cache
def templates() -> dict[Path, dict[str, Any]]:
    """pycep-parser JSON of every infra bicep file, by path."""
    require_tools()
    parsed = check_bicep.parse_templates(check_bicep.bicep_files([INFRA]))
    errors = {path: out["error"] for path, out in parsed.items() if "error" in out}
    assert not errors, f"bicep files do not parse: {errors}"
    return {path: out["template"] for path, out in parsed.items()}


def template(path: Path) -> dict[str, Any]:
    return templates()[path.resolve()]


def unquote(key: str) -> str:
    """Object keys keep their quotes in pycep JSON: 'a-b' -> a-b."""
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "'" else key


def is_expression(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _EXPRESSION_KEYS


def resolve(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if _IDENT.fullmatch(value) and value in env:
            return env[value]

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in env and isinstance(env[name], str):
                return str(env[name])
            raise Unresolved(name)

        return _INTERPOLATION.sub(substitute, value)
    if is_expression(value):
        raise Unresolved(str(value)[:80])
    if isinstance(value, list):
        return [resolve(item, env) for item in value]
    if isinstance(value, dict):
        return {unquote(key): resolve(item, env) for key, item in value.items()}
    return value


def environment(tpl: dict[str, Any], given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parameter values (given, else defaults) and variables that resolve without a deployment."""
    env: dict[str, Any] = {}
    for name, param in (tpl.get("parameters") or {}).items():
        if given and name in given:
            env[name] = given[name]
        elif param.get("default") is not None:  # pycep-parser writes None for "no default"
            try:
                env[name] = resolve(param["default"], env)
            except Unresolved:
                pass
    for name, variable in (tpl.get("variables") or {}).items():
        try:
            env[name] = resolve(variable["value"], env)
        except Unresolved:
            pass
    return env


def module(tpl: dict[str, Any], relative_path: str) -> dict[str, Any]:
    """The single module declaration in `tpl` that deploys `relative_path`."""
    found: list[dict[str, Any]] = [m for m in (tpl.get("modules") or {}).values()
                                   if m.get("detail", {}).get("path") == relative_path]
    assert len(found) == 1, f"expected one module deploying {relative_path}, found {len(found)}"
    return found[0]


def module_params(tpl: dict[str, Any], relative_path: str) -> dict[str, Any]:
    config = module(tpl, relative_path)["config"]
    # A looped module keeps its body one level down.
    body = config["config"] if "loop_type" in config else config
    return dict(body.get("params") or {})


def resources(tpl: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    """Non-existing resources of a type, each as {"config": body, "loop": loop_type or None}."""
    out = []
    for resource in (tpl.get("resources") or {}).values():
        if resource.get("type") != resource_type or resource.get("existing"):
            continue
        config = resource["config"]
        if "loop_type" in config:
            out.append({"config": config["config"], "loop": config["loop_type"]})
        else:
            out.append({"config": config, "loop": None})
    return out


def follow(value: Any, tpl: dict[str, Any]) -> Any:
    """Follow `someVar` / `someVar.key` to the variable's raw expression in the same template."""
    variables = tpl.get("variables") or {}
    if isinstance(value, str) and value in variables:
        return follow(variables[value]["value"], tpl)
    if is_expression(value) and value.get("operator", {}).get("type") == "property_accessor":
        operands = value["operator"]["operands"]
        base, key = operands["operand_1"], operands["operand_2"]
        if isinstance(base, str) and base in variables and isinstance(key, str):
            raw = {unquote(k): v for k, v in variables[base]["value"].items()}
            if key in raw:
                return follow(raw[key], tpl)
    return value
