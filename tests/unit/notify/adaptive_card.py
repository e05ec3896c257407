"""A small Adaptive Card 1.4 checker written from the public schema's element and property definitions
(adaptivecards.io, schema version 1.4), limited to what a Teams Workflows card may contain: elements and
properties that exist in 1.4 (nothing newer, e.g. Table or TextBlock.style from 1.5), enum values, required
properties, and only the actions Workflows accept (OpenUrl, ShowCard, ToggleVisibility)."""

from __future__ import annotations

from typing import Any

VERSIONS = {"1.0", "1.1", "1.2", "1.3", "1.4"}
COLORS = {"Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"}
SPACING = {"None", "Small", "Default", "Medium", "Large", "ExtraLarge", "Padding"}
COMMON = {"type", "id", "spacing", "separator", "isVisible", "height", "fallback", "requires"}
ENUMS: dict[str, set[str]] = {
    "color": COLORS, "spacing": SPACING, "size": {"Default", "Small", "Medium", "Large", "ExtraLarge"},
    "weight": {"Default", "Lighter", "Bolder"}, "fontType": {"Default", "Monospace"},
    "horizontalAlignment": {"Left", "Center", "Right"}, "height": {"auto", "stretch"},
}
BOOLS = {"wrap", "isSubtle", "separator", "isVisible"}
ELEMENTS: dict[str, tuple[set[str], set[str]]] = {  # type -> (required, allowed extra)
    "TextBlock": ({"text"}, {"text", "color", "fontType", "horizontalAlignment", "isSubtle", "maxLines", "size",
                             "weight", "wrap"}),
    "FactSet": ({"facts"}, {"facts"}),
    "Image": ({"url"}, {"url", "altText", "backgroundColor", "horizontalAlignment", "selectAction", "size", "style",
                        "width"}),
    "Container": ({"items"}, {"items", "selectAction", "style", "verticalContentAlignment", "bleed",
                              "backgroundImage", "minHeight", "rtl"}),
    "ColumnSet": (set(), {"columns", "selectAction", "style", "bleed", "minHeight", "horizontalAlignment"}),
    "ActionSet": ({"actions"}, {"actions"}),
}
ACTIONS: dict[str, tuple[set[str], set[str]]] = {
    "Action.OpenUrl": ({"url"}, {"url", "title", "iconUrl", "style", "fallback", "requires", "id"}),
    "Action.ShowCard": (set(), {"card", "title", "iconUrl", "style", "fallback", "requires", "id"}),
    "Action.ToggleVisibility": ({"targetElements"}, {"targetElements", "title", "iconUrl", "style", "fallback",
                                                     "requires", "id"}),
}
CARD_KEYS = {"type", "version", "body", "actions", "$schema", "msteams", "fallbackText", "speak", "lang",
             "verticalContentAlignment", "minHeight", "backgroundImage", "selectAction"}


def check_card(card: Any) -> list[str]:
    errors: list[str] = []
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return ["not an AdaptiveCard object"]
    if card.get("version") not in VERSIONS:
        errors.append(f"version {card.get('version')!r} is not 1.0-1.4")
    errors += [f"card: unknown property {k!r}" for k in set(card) - CARD_KEYS]
    for i, element in enumerate(card.get("body") or []):
        errors += _element(element, f"body[{i}]")
    for i, action in enumerate(card.get("actions") or []):
        errors += _action(action, f"actions[{i}]")
    return errors


def _props(obj: dict[str, Any], where: str, required: set[str], allowed: set[str]) -> list[str]:
    errors = [f"{where}: missing {k!r}" for k in required if k not in obj]
    errors += [f"{where}: property {k!r} is not in 1.4" for k in set(obj) - allowed - COMMON]
    for key, values in ENUMS.items():
        if key in obj and obj[key] not in values:
            errors.append(f"{where}: {key}={obj[key]!r} not one of {sorted(values)}")
    errors += [f"{where}: {k} must be a boolean" for k in BOOLS if k in obj and not isinstance(obj[k], bool)]
    return errors


def _element(element: Any, where: str) -> list[str]:
    if not isinstance(element, dict) or element.get("type") not in ELEMENTS:
        return [f"{where}: element type {element.get('type') if isinstance(element, dict) else element!r} "
                "is not a 1.4 element"]
    required, allowed = ELEMENTS[element["type"]]
    errors = _props(element, where, required, allowed)
    if element["type"] == "TextBlock" and not isinstance(element.get("text"), str):
        errors.append(f"{where}: text must be a string")
    if element["type"] == "FactSet":
        for j, fact in enumerate(element.get("facts") or []):
            if not (isinstance(fact, dict) and set(fact) == {"title", "value"}
                    and all(isinstance(v, str) for v in fact.values())):
                errors.append(f"{where}.facts[{j}]: a fact is exactly {{title, value}} strings")
    for j, item in enumerate(element.get("items") or []):
        errors += _element(item, f"{where}.items[{j}]")
    for j, action in enumerate(element.get("actions") or []):
        errors += _action(action, f"{where}.actions[{j}]")
    return errors


def _action(action: Any, where: str) -> list[str]:
    if not isinstance(action, dict) or action.get("type") not in ACTIONS:
        return [f"{where}: action type {action.get('type') if isinstance(action, dict) else action!r} "
                "is not accepted by Teams Workflows"]
    required, allowed = ACTIONS[action["type"]]
    errors = _props(action, where, required, allowed | {"type"})
    if action["type"] == "Action.OpenUrl" and not str(action.get("url", "")).startswith(("https://", "http://")):
        errors.append(f"{where}: url must be absolute")
    return errors
