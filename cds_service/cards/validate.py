"""The CDS Hooks 2.0 rules for a response, enforced in one place.

Every response the service sends passes through :func:`check_response`.
Violations raise :class:`CardSpecError` — a bug in a template or pathway, never
the client's fault — so the HTTP layer answers 500 with a short JSON body
instead of sending a card an EHR might reject or misread.
"""

from __future__ import annotations

import re
from collections import abc
from typing import Any, Iterator, Mapping

INDICATORS = ("info", "warning", "critical")
SELECTION_BEHAVIORS = ("at-most-one", "any")
ACTION_TYPES = ("create", "update", "delete")
LINK_TYPES = ("absolute", "smart")
SUMMARY_LIMIT = 140  # summary must be shorter than this
# A str.format placeholder a template left unfilled ("{last_mri}", "{kps_band}"); a brace escaped for
# Markdown ("\\{", record text) is not one.
_PLACEHOLDER = re.compile(r"(?<!\\)\{[A-Za-z_][A-Za-z0-9_]*(?:[.\[][^{}]*)?(?:![rsa])?(?::[^{}]*)?\}")


class CardSpecError(ValueError):
    """A card breaks the CDS Hooks 2.0 card rules."""


def _no_empty(value: Any, path: str) -> None:
    """The spec: never send null, "", [] or {} for an optional field (``cards: []`` is allowed).

    Every card is walked on every call; paths are only built once a problem is known to exist.
    """
    if _holds_empty(value):
        _raise_first_empty(value, path)


def _holds_empty(value: Any) -> bool:
    """Whether ``value`` is, or contains at any depth, null, "", [] or {}."""
    if value is None:
        return True
    if isinstance(value, dict):
        return not value or any(map(_holds_empty, value.values()))
    if isinstance(value, list):
        return not value or any(map(_holds_empty, value))
    return isinstance(value, str) and not value


def _raise_first_empty(value: Any, path: str) -> None:
    if value is None or value == "" or value == [] or value == {}:
        raise CardSpecError(f"{path}: null or empty value")
    if isinstance(value, dict):
        for key, sub in value.items():
            _raise_first_empty(sub, f"{path}.{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _raise_first_empty(sub, f"{path}[{i}]")


def _is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, with the plain-dict case (every card) first: the ABC check is slow."""
    return isinstance(value, dict) or isinstance(value, abc.Mapping)


def _coding(coding: Any, path: str, display_required: bool = False) -> None:
    if not _is_mapping(coding) or not coding.get("code") or not coding.get("system"):
        raise CardSpecError(f"{path}: a Coding needs system and code")
    if display_required and not coding.get("display"):
        raise CardSpecError(f"{path}: display is required")


def _clinician_texts(card: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every text of a card a clinician reads, with its path."""
    yield "summary", card.get("summary")
    yield "detail", card.get("detail")
    source = card.get("source")
    if _is_mapping(source):
        yield "source.label", source.get("label")
    for i, s in enumerate(card.get("suggestions") or ()):
        if _is_mapping(s):
            yield f"suggestions[{i}].label", s.get("label")
            for j, action in enumerate(s.get("actions") or ()):
                if _is_mapping(action):
                    yield f"suggestions[{i}].actions[{j}].description", action.get("description")
    for i, link in enumerate(card.get("links") or ()):
        if _is_mapping(link):
            yield f"links[{i}].label", link.get("label")
    for i, reason in enumerate(card.get("overrideReasons") or ()):
        if _is_mapping(reason):
            yield f"overrideReasons[{i}].display", reason.get("display")


def leftover_placeholder(text: Any) -> str | None:
    """The first unfilled template placeholder in ``text`` ("{due_date}"), else None."""
    if not isinstance(text, str) or "{" not in text:
        return None
    match = _PLACEHOLDER.search(text)
    return match.group(0) if match else None


def check_card(card: Mapping[str, Any], path: str = "card") -> None:
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise CardSpecError(f"{path}.summary is required")
    if len(summary) >= SUMMARY_LIMIT:
        raise CardSpecError(f"{path}.summary is {len(summary)} characters (must be < {SUMMARY_LIMIT})")
    if card.get("indicator") not in INDICATORS:
        raise CardSpecError(f"{path}.indicator must be one of {INDICATORS}")
    source = card.get("source")
    if not _is_mapping(source) or not source.get("label"):
        raise CardSpecError(f"{path}.source.label is required")
    if "url" in source and not str(source["url"]).startswith(("http://", "https://")):
        raise CardSpecError(f"{path}.source.url must be absolute")
    if "topic" in source:
        _coding(source["topic"], f"{path}.source.topic")
    suggestions = card.get("suggestions")
    if suggestions is not None:
        if card.get("selectionBehavior") not in SELECTION_BEHAVIORS:
            raise CardSpecError(f"{path}.selectionBehavior is required with suggestions")
        recommended = 0
        for i, s in enumerate(suggestions):
            spath = f"{path}.suggestions[{i}]"
            if not s.get("label"):
                raise CardSpecError(f"{spath}.label is required")
            recommended += bool(s.get("isRecommended"))
            for j, action in enumerate(s.get("actions", [])):
                check_action(action, f"{spath}.actions[{j}]")
        if recommended > 1 and card["selectionBehavior"] != "any":
            raise CardSpecError(f"{path}: several recommended suggestions need selectionBehavior 'any'")
    elif "selectionBehavior" in card:
        raise CardSpecError(f"{path}.selectionBehavior without suggestions")
    for i, reason in enumerate(card.get("overrideReasons", [])):
        _coding(reason, f"{path}.overrideReasons[{i}]", display_required=True)
    for i, link in enumerate(card.get("links", [])):
        lpath = f"{path}.links[{i}]"
        if not link.get("label") or not link.get("url") or link.get("type") not in LINK_TYPES:
            raise CardSpecError(f"{lpath}: label, url and type (absolute|smart) are required")
        if link["type"] == "absolute" and not str(link["url"]).startswith(("http://", "https://")):
            raise CardSpecError(f"{lpath}.url must be absolute")
    for where, text in _clinician_texts(card):
        left = leftover_placeholder(text)
        if left:
            raise CardSpecError(f"{path}.{where}: template placeholder {left} left unfilled")
    _no_empty(dict(card), path)


def check_action(action: Mapping[str, Any], path: str) -> None:
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        raise CardSpecError(f"{path}.type must be one of {ACTION_TYPES}")
    if not action.get("description"):
        raise CardSpecError(f"{path}.description is required")
    if kind == "delete":
        rid = action.get("resourceId")
        if not isinstance(rid, str) or "/" not in rid:
            raise CardSpecError(f"{path}: delete needs resourceId 'Type/id'")
    else:
        resource = action.get("resource")
        if not _is_mapping(resource) or not resource.get("resourceType"):
            raise CardSpecError(f"{path}: {kind} needs a whole resource")
        if resource["resourceType"] == "ServiceRequest":
            missing = [k for k in ("status", "intent", "subject", "code") if not resource.get(k)]
            if missing:
                raise CardSpecError(f"{path}: ServiceRequest lacks {missing}")
        if resource["resourceType"] == "MedicationRequest":
            missing = [k for k in ("status", "intent", "subject") if not resource.get(k)]
            if not (resource.get("medicationCodeableConcept") or resource.get("medicationReference")):
                missing.append("medication[x]")
            if missing:
                raise CardSpecError(f"{path}: MedicationRequest lacks {missing}")


def check_response(response: Mapping[str, Any]) -> None:
    cards = response.get("cards")
    if not isinstance(cards, list):
        raise CardSpecError("response.cards is required (a list)")
    topics: list[str] = []
    for i, card in enumerate(cards):
        check_card(card, f"cards[{i}]")
        code = card["source"].get("topic", {}).get("code")
        if code in topics:
            raise CardSpecError(f"cards[{i}]: rule {code} produced more than one card")
        topics.append(code)
    for i, action in enumerate(response.get("systemActions", [])):
        check_action(action, f"systemActions[{i}]")
