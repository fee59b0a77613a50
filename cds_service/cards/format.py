"""Formatting values for clinicians: dates in the deployment's time zone, booleans in words.

Dutch cards write dates as ``25-11-2026`` and times as ``08:00``; English cards as ``25 Nov 2026``.
A moment on the day before, of or after ``now`` reads ``gisteren`` / ``vandaag`` / ``morgen 08:00``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

_YES_NO = {"nl": ("ja", "nee"), "en": ("yes", "no")}
_RELATIVE_DAYS = {"nl": {-1: "gisteren", 0: "vandaag", 1: "morgen"}, "en": {-1: "yesterday", 0: "today", 1: "tomorrow"}}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _local(value: datetime, tz: ZoneInfo) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(tz)


def day_text(value: date, language: str) -> str:
    """A calendar day: ``25-11-2026`` (nl), ``25 Nov 2026`` (en)."""
    if language == "nl":
        return f"{value.day:02d}-{value.month:02d}-{value.year}"
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"


def format_datetime(value: datetime | date, tz: ZoneInfo, language: str, now: datetime | None = None) -> str:
    """``25-11-2026 18:40`` in local time; ``vandaag 18:40`` / ``morgen 08:00`` near ``now``."""
    if isinstance(value, datetime):
        local = _local(value, tz)
        clock = local.strftime("%H:%M")
        midnight = local.hour == 0 and local.minute == 0 and local.second == 0
        if now is not None:
            offset = (local.date() - _local(now, tz).date()).days
            word = _RELATIVE_DAYS.get(language, _RELATIVE_DAYS["en"]).get(offset)
            if word:
                return word if midnight and offset != 0 else f"{word} {clock}"
        if midnight:
            return day_text(local.date(), language)
        return f"{day_text(local.date(), language)} {clock}"
    return day_text(value, language)


def format_date(value: datetime | date | None, tz: ZoneInfo, language: str | None = None) -> str:
    """The local calendar day in the card's form; ISO (``2026-11-25``) without a language (tables for integrators)."""
    if value is None:
        return ""
    day = _local(value, tz).date() if isinstance(value, datetime) else value
    return day.isoformat() if language is None else day_text(day, language)


def iso_day_text(text: str, language: str) -> str:
    """An ISO day (``2026-11-25``) from a fact note in the card's form; other text unchanged."""
    try:
        return day_text(date.fromisoformat(text), language) if len(text) == 10 else text
    except ValueError:
        return text


def localizable(value: Any) -> bool:
    """A param value worded per language: it has ``in_language(language) -> str``."""
    return callable(getattr(value, "in_language", None))


def localize(value: Any, language: str) -> Any:
    """The value in ``language`` when it is worded per language, else the value itself."""
    return value.in_language(language) if localizable(value) else value


def format_number(value: float, language: str) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if language == "nl" else text


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
    if isinstance(value, timedelta):
        hours = value.total_seconds() / 3600
        return f"{format_number(hours, language)} {'uur' if language == 'nl' else 'h'}"
    if isinstance(value, float):
        return format_number(value, language)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return ", ".join(format_value(v, language, tz, now) for v in items)
    return str(value)
