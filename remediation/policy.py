"""The remediation policy: global mode and kill switch (settings) plus per-category and per-pipeline rules from
an operator-editable TOML file (remediation/policy.toml, or REMEDIATION_POLICY_FILE). Pure data; no I/O beyond
reading the file once.
"""

from __future__ import annotations

import enum
import fnmatch
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shared.config import Settings

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.toml")

# What "rerun" means on each platform (the executor's action name).
PLATFORM_ACTIONS = {
    "adf": "adf.rerun_from_failure",
    "synapse": "synapse.rerun_from_activity",
    "databricks": "databricks.repair_run",
    "airflow": "airflow.clear",
}
NO_ACTION = "none"


class Mode(enum.StrEnum):
    OFF = "off"
    DRY_RUN = "dry-run"
    APPROVE = "approve"
    AUTO = "auto"


@dataclass(frozen=True)
class Rule:
    """The effective rule for one incident: defaults, then its category, then the first matching pipeline rule."""

    action: str = "rerun"
    max_attempts: int = 3
    first_delay_s: int = 60
    backoff_factor: float = 2.0
    max_delay_s: int = 3600
    jitter: float = 0.2
    idempotent: bool = False
    matched: tuple[str, ...] = ()  # which sections applied, for the reason

    def platform_action(self, platform: str) -> str | None:
        if self.action == NO_ACTION:
            return None
        if self.action == "rerun":
            return PLATFORM_ACTIONS.get(platform)
        return self.action


_RULE_KEYS = {"action": str, "max_attempts": int, "first_delay_s": int, "backoff_factor": float,
              "max_delay_s": int, "jitter": float, "idempotent": bool}


def _rule_values(section: dict[str, Any], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key in ("platform", "pipeline"):
            continue
        kind = _RULE_KEYS.get(key)
        if kind is None:
            raise ValueError(f"{where}: unknown key {key!r}")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{where}: {key} must be {kind.__name__}")
        values[key] = value
    if values.get("max_attempts", 1) < 0 or values.get("first_delay_s", 0) < 0 or values.get("max_delay_s", 0) < 0:
        raise ValueError(f"{where}: counts and delays must not be negative")
    if not 0 <= values.get("jitter", 0.0) < 1:
        raise ValueError(f"{where}: jitter must be in [0, 1)")
    return values


@dataclass(frozen=True)
class PipelineRule:
    platform: str
    pipeline: str
    values: dict[str, Any] = field(default_factory=dict)

    def matches(self, platform: str, pipeline: str) -> bool:
        return (fnmatch.fnmatchcase(platform.lower(), self.platform.lower())
                and fnmatch.fnmatchcase(pipeline.lower(), self.pipeline.lower()))


@dataclass(frozen=True)
class Policy:
    mode: Mode
    kill_switch: bool
    defaults: Rule
    categories: dict[str, dict[str, Any]]
    pipelines: tuple[PipelineRule, ...]
    # Learning: a signature whose automatic retries failed this often, with a success rate below the bound,
    # is no longer retried automatically.
    learn_min_failures: int = 5
    learn_min_success_rate: float = 0.5
    source: str = ""

    def rule_for(self, platform: str, pipeline: str | None, category: str) -> Rule:
        rule = replace(self.defaults, matched=("defaults",))
        if category in self.categories:
            rule = replace(rule, **self.categories[category], matched=(*rule.matched, f"category {category}"))
        for p in self.pipelines:
            if p.matches(platform or "", pipeline or ""):
                rule = replace(rule, **p.values, matched=(*rule.matched, f"pipeline {p.platform}/{p.pipeline}"))
                break
        return rule


def parse_policy(text: str, *, mode: Mode, kill_switch: bool, source: str = "",
                 learn_min_failures: int = 5, learn_min_success_rate: float = 0.5) -> Policy:
    data = tomllib.loads(text)
    unknown = set(data) - {"defaults", "categories", "pipelines"}
    if unknown:
        raise ValueError(f"{source}: unknown sections {sorted(unknown)}")
    defaults = Rule(**_rule_values(dict(data.get("defaults") or {}), "defaults"))
    categories = {str(name): _rule_values(dict(section), f"categories.{name}")
                  for name, section in dict(data.get("categories") or {}).items()}
    pipelines = []
    for i, section in enumerate(data.get("pipelines") or []):
        where = f"pipelines[{i}]"
        if not isinstance(section.get("pipeline"), str):
            raise ValueError(f"{where}: `pipeline` (a glob) is required")
        pipelines.append(PipelineRule(str(section.get("platform") or "*"), section["pipeline"],
                                      _rule_values(dict(section), where)))
    return Policy(mode=mode, kill_switch=kill_switch, defaults=defaults, categories=categories,
                  pipelines=tuple(pipelines), learn_min_failures=learn_min_failures,
                  learn_min_success_rate=learn_min_success_rate, source=source)


def parse_mode(value: str) -> Mode:
    try:
        return Mode(value.strip().lower())
    except ValueError as exc:
        raise ValueError(f"REMEDIATION_MODE must be one of off, dry-run, approve, auto; got {value!r}") from exc


def load_policy(settings: Settings) -> Policy:
    """The policy the settings name (REMEDIATION_POLICY_FILE, else the packaged policy.toml)."""
    path = Path(settings.get("REMEDIATION_POLICY_FILE").strip() or DEFAULT_POLICY_FILE)
    return parse_policy(path.read_text(encoding="utf-8"), mode=parse_mode(settings.get("REMEDIATION_MODE")),
                        kill_switch=settings.bool_setting("REMEDIATION_KILL_SWITCH"), source=str(path),
                        learn_min_failures=settings.int_setting("REMEDIATION_LEARN_MIN_FAILURES"),
                        learn_min_success_rate=float(settings.get("REMEDIATION_LEARN_MIN_SUCCESS_RATE")))
