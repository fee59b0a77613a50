"""Formatting values for clinicians: dates in the deployment's time zone, booleans in words."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

_YES_NO = {"nl": ("ja", "nee"), "en": ("yes", "no")}


def format_datetime(value: datetime | date, tz: ZoneInfo, language: str, now: datetime | None = None) -> str:
    """``2026-11-24 18:40`` in local time; ``vandaag 18:40`` / ``today 18:40`` when it is today."""
    if isinstance(value, datetime):
        local = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(tz)
        clock = local.strftime("%H:%M")
        if now is not None:
            today = (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).astimezone(tz).date()
            if local.date() == today:
                return f"{'vandaag' if language == 'nl' else 'today'} {clock}"
        if local.hour == 0 and local.minute == 0 and local.second == 0:
            return local.date().isoformat()
        return f"{local.date().isoformat()} {clock}"
    return value.isoformat()


def format_date(value: datetime | date | None, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(tz)
        return local.date().isoformat()
    return value.isoformat()


def localizable(value: Any) -> bool:
    """A param value worded per language: it has ``in_language(language) -> str``."""
    return callable(getattr(value, "in_language", None))


def localize(value: Any, language: str) -> Any:
    """The value in ``language`` when it is worded per language, else the value itself."""
    return value.in_language(language) if localizable(value) else value


def format_value(value: Any, language: str, tz: ZoneInfo, now: datetime | None = None) -> str:
    """A fact or template value as text on a card."""
    if value is None:
        return "?"
    if localizable(value):  # text a pathway worded per language (pathways.model.LocalizedText)
        return value.in_language(language)
    if isinstance(value, bool):
        yes, no = _YES_NO.get(language, _YES_NO["en"])
        return yes if value else no
    if isinstance(value, datetime | date):
        return format_datetime(value, tz, language, now)
    if isinstance(value, float):
        text = f"{value:.1f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if language == "nl" else text
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return ", ".join(format_value(v, language, tz, now) for v in items)
    return str(value)
