"""The classification catalog: TOML rule files under analysis/rules/, loaded and checked. Pure.

A rule says what a failure *is* (category), whether an unchanged rerun is safe (retryable) and
after how long, with an explanation, actions and a documentation link. Rules are data so an
operator can read and extend them without touching code; see docs/classification.md.

Matching fields of a rule (all optional, all given ones must match):
  platforms      -- failure platform in this list
  codes          -- one of the failure's codes (its error_code, or a code embedded in the message,
                    e.g. `ErrorCode=X`, `SqlErrorNumber=N`, `"error_code":"X"`); case-insensitive,
                    `*` is a wildcard
  failure_types  -- the failure's failure_type (ADF failureType, Databricks termination type)
  patterns       -- at least one regex matches the message (case-insensitive)
  exclude        -- no regex matches the message

Precedence is by tier, then specificity (see `Rule.rank`):
  4 code + message > 3 code (or failure type) > 2 message > 1 generic (rules in generic.toml).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from shared.literals import Prefiltered, fold

RULES_DIR = Path(__file__).resolve().parent / "rules"

CATEGORIES: tuple[str, ...] = (
    "auth_permission",
    "configuration",
    "data_quality_schema",
    "dependency_upstream",
    "missing_source_data",
    "quota_limit",
    "resource_capacity",
    "service_unavailable",
    "throttling",
    "timeout",
    "transient_network",
    "unknown",
)
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
PLATFORMS: tuple[str, ...] = ("adf", "synapse", "databricks", "airflow", "functions")

TIER_GENERIC, TIER_MESSAGE, TIER_CODE, TIER_CODE_MESSAGE = 1, 2, 3, 4
TIER_NAMES = {TIER_GENERIC: "generic", TIER_MESSAGE: "message", TIER_CODE: "code",
              TIER_CODE_MESSAGE: "code+message"}

_ALLOWED_KEYS = {
    "id", "platforms", "codes", "failure_types", "patterns", "exclude", "category", "retryable",
    "retry_delay_s", "severity", "explanation", "actions", "doc", "examples", "priority", "confidence",
    "example_codes", "example_platform", "example_failure_type",
}


class CatalogError(ValueError):
    """A rule file is malformed; the message names the file and the rule."""


def _code_regex(code: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in code.split("*")) + "$", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    id: str
    file: str
    order: int
    category: str
    retryable: bool
    retry_delay_s: int | None
    severity: str
    explanation: str
    actions: tuple[str, ...]
    doc: str
    examples: tuple[str, ...]
    platforms: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    failure_types: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    priority: int = 0
    confidence: int | None = None
    generic: bool = False
    # Example context: the code / platform / failure type that go with `examples` in tests.
    example_codes: tuple[str, ...] = ()
    example_platform: str | None = None
    example_failure_type: str | None = None
    _code_res: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)
    # The patterns with the literals a match needs: a message without them is not searched (same result).
    _patterns_pf: tuple[Prefiltered, ...] = field(default=(), repr=False, compare=False)
    _exclude_pf: tuple[Prefiltered, ...] = field(default=(), repr=False, compare=False)

    @property
    def tier(self) -> int:
        if self.generic:
            return TIER_GENERIC
        has_code = bool(self.codes or self.failure_types)
        if has_code and self.patterns:
            return TIER_CODE_MESSAGE
        if has_code:
            return TIER_CODE
        return TIER_MESSAGE

    def match_code(self, codes: list[str]) -> int | None:
        """Index of the innermost (last) candidate code this rule names, or None."""
        found: int | None = None
        for index, code in enumerate(codes):
            if any(r.match(code) for r in self._code_res):
                found = index
        return found

    def match(self, platform: str, codes: list[str], failure_type: str | None, message: str,
              scan: MessageScan | None = None) -> tuple[int, ...] | None:
        """None when the rule does not apply, else its rank (higher wins). `scan` (one per message) lets the
        rule skip regexes whose required literals the message lacks."""
        if self.platforms and platform not in self.platforms:
            return None
        code_depth = 0
        exact = 0
        if self.codes:
            index = self.match_code(codes)
            if index is None:
                return None
            code_depth = index + 1
            exact = int(any("*" not in c and c.lower() == codes[index].lower() for c in self.codes))
        if self.failure_types and (failure_type or "").lower() not in {f.lower() for f in self.failure_types}:
            return None
        if scan is None:
            scan = MessageScan(message)
        if self.patterns and not any(scan.search(p) for p in self._patterns_pf):
            return None
        if any(scan.search(p) for p in self._exclude_pf):
            return None
        return (self.tier, exact, code_depth, int(bool(self.platforms)), self.priority, -self.order)


class MessageScan:
    """One message, folded once, with the literal look-ups shared by every rule tried on it."""

    __slots__ = ("folded", "message", "seen")

    def __init__(self, message: str) -> None:
        self.message = message
        self.folded = fold(message)
        self.seen: dict[str, bool] = {}

    def search(self, pattern: Prefiltered) -> bool:
        return pattern.possible(self.folded, self.seen) and pattern.pattern.search(self.message) is not None


def _strings(value: Any, what: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where}: `{what}` must be a string or a list of strings")
    return tuple(value)


def _regexes(values: tuple[str, ...], where: str) -> tuple[re.Pattern[str], ...]:
    out = []
    for value in values:
        try:
            out.append(re.compile(value, re.IGNORECASE))
        except re.error as exc:
            raise CatalogError(f"{where}: bad regex {value!r}: {exc}") from exc
    return tuple(out)


def parse_rule(data: dict[str, Any], file: str, order: int, generic: bool) -> Rule:
    where = f"{file} rule {data.get('id', '#' + str(order))}"
    unknown = set(data) - _ALLOWED_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("id", "category", "retryable", "explanation", "doc", "examples", "severity"):
        if key not in data:
            raise CatalogError(f"{where}: `{key}` is required")
    category = data["category"]
    if category not in CATEGORIES:
        raise CatalogError(f"{where}: category {category!r} is not one of {CATEGORIES}")
    if not isinstance(data["retryable"], bool):
        raise CatalogError(f"{where}: `retryable` must be true or false")
    delay = data.get("retry_delay_s")
    if data["retryable"] and not isinstance(delay, int):
        raise CatalogError(f"{where}: a retryable rule needs an integer `retry_delay_s`")
    if not data["retryable"] and delay is not None:
        raise CatalogError(f"{where}: a non-retryable rule has no `retry_delay_s`")
    if data["severity"] not in SEVERITIES:
        raise CatalogError(f"{where}: severity must be one of {SEVERITIES}")
    platforms = _strings(data.get("platforms"), "platforms", where)
    if set(platforms) - set(PLATFORMS):
        raise CatalogError(f"{where}: unknown platform in {platforms}")
    codes = _strings(data.get("codes"), "codes", where)
    failure_types = _strings(data.get("failure_types"), "failure_types", where)
    patterns = _regexes(_strings(data.get("patterns"), "patterns", where), where)
    exclude = _regexes(_strings(data.get("exclude"), "exclude", where), where)
    if not (codes or failure_types or patterns):
        raise CatalogError(f"{where}: a rule needs codes, failure_types or patterns")
    examples = _strings(data.get("examples"), "examples", where)
    if not examples:
        raise CatalogError(f"{where}: at least one example message is required")
    confidence = data.get("confidence")
    if confidence is not None and not (isinstance(confidence, int) and 0 <= confidence <= 100):
        raise CatalogError(f"{where}: confidence must be an integer 0-100")
    return Rule(
        id=str(data["id"]), file=file, order=order, category=category, retryable=data["retryable"],
        retry_delay_s=delay, severity=data["severity"], explanation=str(data["explanation"]).strip(),
        actions=_strings(data.get("actions"), "actions", where), doc=str(data["doc"]), examples=examples,
        platforms=platforms, codes=codes, failure_types=failure_types, patterns=patterns,
        exclude=exclude,
        priority=int(data.get("priority", 0)), confidence=confidence, generic=generic,
        example_codes=_strings(data.get("example_codes"), "example_codes", where),
        example_platform=data.get("example_platform"), example_failure_type=data.get("example_failure_type"),
        _code_res=tuple(_code_regex(c) for c in codes),
        _patterns_pf=tuple(Prefiltered(p) for p in patterns), _exclude_pf=tuple(Prefiltered(p) for p in exclude),
    )


@dataclass(frozen=True)
class RuleGate:
    """What a message must have for a rule to be worth trying: cheap checks done before `Rule.match`."""

    rule: Rule
    platforms: frozenset[str] | None  # None: any platform
    literals: frozenset[str] | None  # one of these must be in the folded message; None: no such need
    codes: frozenset[str] | None  # one of these (lower case) must be a candidate code; None: no such need


def _gate(rule: Rule) -> RuleGate:
    literals: frozenset[str] | None = None
    needs = [p.need for p in rule._patterns_pf]
    if needs and all(n is not None for n in needs):
        literals = frozenset().union(*[n for n in needs if n is not None])
    codes = None
    if rule.codes and not any("*" in c for c in rule.codes):
        codes = frozenset(c.lower() for c in rule.codes)
    return RuleGate(rule, frozenset(rule.platforms) if rule.platforms else None, literals, codes)


@dataclass(frozen=True)
class Catalog:
    rules: tuple[Rule, ...]

    @cached_property
    def gates(self) -> tuple[RuleGate, ...]:
        return tuple(_gate(r) for r in self.rules)

    @cached_property
    def literals(self) -> tuple[str, ...]:
        """Every literal any rule's patterns need: looked up once per message."""
        return tuple(sorted(set().union(*[g.literals for g in self.gates if g.literals is not None])))

    def by_id(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def sources(self) -> list[str]:
        """The distinct documentation links the rules derive from."""
        return sorted({r.doc for r in self.rules})


def load_catalog(directory: Path | None = None) -> Catalog:
    """Every `*.toml` in the directory; `generic.toml` holds the fallback tier."""
    directory = directory or RULES_DIR
    rules: list[Rule] = []
    seen: set[str] = set()
    order = 0
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"{path.name}: {exc}") from exc
        entries = data.get("rule", [])
        if not isinstance(entries, list):
            raise CatalogError(f"{path.name}: rules are [[rule]] tables")
        for entry in entries:
            order += 1
            rule = parse_rule(entry, path.name, order, generic=path.stem == "generic")
            if rule.id in seen:
                raise CatalogError(f"{path.name}: duplicate rule id {rule.id}")
            seen.add(rule.id)
            rules.append(rule)
    return Catalog(rules=tuple(rules))


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    return load_catalog(RULES_DIR)
