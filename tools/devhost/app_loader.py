"""Load a v2-programming-model FunctionApp and describe its functions, as the host indexes them.

Settings follow the host: local.settings.json `Values` are exported to the environment unless the
environment already has them; `%NAME%` in binding properties resolves from there.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

_PERCENT = re.compile(r"%([^%]+)%")


class HostConfigError(ValueError):
    """The app or its configuration cannot be hosted (unknown binding, unresolved setting...)."""


def apply_local_settings(app_dir: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Export local.settings.json Values into the environment, never overriding what is set."""
    env = os.environ if environ is None else environ
    path = app_dir / "local.settings.json"
    values: dict[str, str] = {}
    if path.is_file():
        values = {str(k): str(v) for k, v in (json.loads(path.read_text(encoding="utf-8")).get("Values") or {}).items()}
    for key, value in values.items():
        env.setdefault(key, value)
    return values


def resolve(text: str, environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    env = os.environ if environ is None else environ

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise HostConfigError(f"binding expression %{name}% has no app setting {name!r}")
        return env[name]

    return _PERCENT.sub(one, text)


def load_host_json(app_dir: Path) -> dict[str, Any]:
    path = app_dir / "host.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"version": "2.0"}


@dataclass
class FunctionInfo:
    name: str
    trigger: dict[str, Any]
    user_function: Any
    other_bindings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def trigger_type(self) -> str:
        return str(self.trigger["type"])

    @property
    def arg_name(self) -> str:
        return str(self.trigger["name"])

    def disabled(self, environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
        env = os.environ if environ is None else environ
        return env.get(f"AzureWebJobs.{self.name}.Disabled", "").strip().lower() in {"1", "true"}


SUPPORTED_TRIGGERS = {"httpTrigger", "queueTrigger", "timerTrigger"}


def load_functions(target: str, app_dir: Path) -> list[FunctionInfo]:
    """`module:attribute` -> the app's functions. `get_functions()` is called exactly once."""
    module_name, _, attribute = target.partition(":")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app")
    if not isinstance(app, func.FunctionApp):
        raise HostConfigError(f"{target} is not an azure.functions.FunctionApp")
    infos = []
    for function in app.get_functions():
        bindings = [json.loads(b) for b in function.get_raw_bindings()]
        triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
        if len(triggers) != 1:
            raise HostConfigError(f"function {function.get_function_name()} needs exactly one trigger")
        trigger = triggers[0]
        if trigger["type"] not in SUPPORTED_TRIGGERS:
            raise HostConfigError(f"function {function.get_function_name()}: trigger {trigger['type']} is not "
                                  f"supported by the local host ({', '.join(sorted(SUPPORTED_TRIGGERS))})")
        others = [b for b in bindings if b is not trigger]
        for binding in others:
            if not (binding.get("type") == "http" and binding.get("name") == "$return"):
                raise HostConfigError(f"function {function.get_function_name()}: binding {binding.get('type')} is "
                                      "not supported by the local host")
        infos.append(FunctionInfo(str(function.get_function_name()), trigger, function.get_user_function(), others))
    return infos
