"""Cards as a clinician would see them in the EHR, readable in a terminal (``rich``).

The indicator is a coloured badge (critical red, warning yellow, info cyan), the
summary bold, the detail's Markdown rendered for the terminal (lists, bold, tables)
and wrapped to its width. Colours follow the console: none when the output is not
a terminal or ``NO_COLOR`` is set. Labels ("Source", "Suggestions" …) are in the
language of the cards. Everything taken from a card or an error body passes
:func:`~cds_service.terminal.printable` first.
"""

from __future__ import annotations

import io
import json
from typing import Any, Iterable, Mapping

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.padding import Padding
from rich.rule import Rule
from rich.text import Text

from cds_service.ehr.client import ServiceCall
from cds_service.terminal import console as make_console
from cds_service.terminal import printable

BADGES = {"critical": "bold white on red", "warning": "bold black on yellow", "info": "bold black on cyan"}
TITLES = {"critical": "bold red", "warning": "bold yellow", "info": "bold cyan"}
INDENT = 4

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "source": "Source", "suggestions": "Suggestions", "recommended": "recommended", "links": "Links",
        "smart": "SMART app", "override": "Override reasons", "at-most-one": "choose at most one",
        "any": "choose any", "card": "card", "cards": "cards", "no cards": "no cards: no advice for this patient",
        "system action": "system action", "missing": "missing (required)",
        "unavailable": "unavailable (optional)",
    },
    "nl": {
        "source": "Bron", "suggestions": "Suggesties", "recommended": "aanbevolen", "links": "Links",
        "smart": "SMART-app", "override": "Redenen om af te wijken", "at-most-one": "kies er hoogstens één",
        "any": "kies wat van toepassing is", "card": "kaart", "cards": "kaarten",
        "no cards": "geen kaarten: geen advies voor deze patiënt", "system action": "systeemactie",
        "missing": "ontbreekt (vereist)", "unavailable": "niet beschikbaar (optioneel)",
    },
}


def labels(language: str | None) -> dict[str, str]:
    """The label set of a language (``nl``, ``nl-NL``, ``en`` …); English when unknown."""
    return LABELS.get((language or "en").split("-", 1)[0].lower(), LABELS["en"])


def _indented(renderable: RenderableType, extra: int = 0) -> Padding:
    return Padding(renderable, (0, 0, 0, INDENT + extra), expand=False)


def card_renderable(card: Mapping[str, Any], language: str | None = None) -> RenderableType:
    """One card: badge and summary, source and rule id, the detail as Markdown, suggestions, links, reasons."""
    words = labels(language)
    indicator = printable(card.get("indicator", "info")) or "info"
    head = Text.assemble((f" {indicator.upper()} ", BADGES.get(indicator, "bold reverse")), " ",
                         (printable(card.get("summary", "")), TITLES.get(indicator, "bold")))
    parts: list[RenderableType] = [head]
    source = card.get("source") if isinstance(card.get("source"), Mapping) else {}
    topic = source.get("topic") if isinstance(source.get("topic"), Mapping) else {}
    src = Text(printable(source.get("label", "")))
    if source.get("url"):
        src.append(f" <{printable(source['url'])}>")
    if topic.get("code"):
        src.append(f"  [{printable(topic['code'])}]", "bold")
    if src.plain:
        parts.append(_indented(Text.assemble((f"{words['source']}: ", "dim"), src)))
    if card.get("detail"):
        parts.append(Text(""))
        parts.append(_indented(Markdown(printable(card["detail"], multiline=True), hyperlinks=False)))
    suggestions = [s for s in card.get("suggestions") or () if isinstance(s, Mapping)]
    if suggestions:
        behaviour = printable(card.get("selectionBehavior", ""))
        how = words.get(behaviour, behaviour)
        parts.append(Text(""))
        parts.append(_indented(Text(f"{words['suggestions']}" + (f" ({how})" if how else "") + ":", "bold")))
        for s in suggestions:
            line = Text(f"> {printable(s.get('label', ''))}")
            if s.get("isRecommended"):
                line.append(f"  ({words['recommended']})", "green")
            parts.append(_indented(line, 2))
            for action in s.get("actions") or ():
                if not isinstance(action, Mapping):
                    continue
                resource = action.get("resource") if isinstance(action.get("resource"), Mapping) else {}
                target = resource.get("resourceType") or action.get("resourceId") or ""
                parts.append(_indented(Text(f"{printable(action.get('type', ''))} {printable(target)}: "
                                            f"{printable(action.get('description', ''))}"), 6))
    links = [link for link in card.get("links") or () if isinstance(link, Mapping)]
    if links:
        parts.append(Text(""))
        parts.append(_indented(Text(f"{words['links']}:", "bold")))
        for link in links:
            smart = f" ({words['smart']})" if link.get("type") == "smart" else ""
            parts.append(_indented(Text(f"> {printable(link.get('label', ''))}: {printable(link.get('url', ''))}"
                                        + smart), 2))
    reasons = [r for r in card.get("overrideReasons") or () if isinstance(r, Mapping)]
    if reasons:
        parts.append(_indented(Text.assemble(
            (f"{words['override']}: ", "dim"),
            "; ".join(printable(r.get("display") or r.get("code")) for r in reasons))))
    return Group(*parts)


def call_renderable(call: ServiceCall, hook: str | None = None, language: str | None = None) -> RenderableType:
    """A header line for the service, then its cards (or the error it answered)."""
    words = labels(language or call.language)
    head = Text(printable(call.service_id), "bold")
    if hook:
        head.append(f" ({printable(hook)})")
    parts: list[RenderableType] = []
    if call.ok:
        cards = call.body["cards"]
        head.append(f": {len(cards)} {words['card'] if len(cards) == 1 else words['cards']}, "
                    f"{call.elapsed_ms:.0f} ms")
        parts += [head, Rule(style="dim")]
        if not cards:
            parts.append(_indented(Text(f"({words['no cards']})")))
        for i, card in enumerate(cards):
            if i:
                parts.append(Text(""))
            parts.append(card_renderable(card, language or call.language))
        for action in call.body.get("systemActions") or ():
            if isinstance(action, Mapping):
                parts.append(_indented(Text(f"{words['system action']}: {printable(action.get('type'))} "
                                            f"{printable(action.get('description', ''))}")))
    else:
        head.append(": ")
        head.append(f"HTTP {call.status}", "bold red")
        head.append(f", {call.elapsed_ms:.0f} ms")
        parts += [head, Rule(style="dim")]
        parts.extend(_indented(Text(line)) for line in error_lines(call.body, words))
    return Group(*parts)


def error_lines(body: Any, words: Mapping[str, str] | None = None) -> list[str]:
    """An error answer in a few lines: code and message, then the keys that failed grouped by reason."""
    words = words or LABELS["en"]
    if not isinstance(body, Mapping):
        return [printable(str(body)[:2000]) or "(empty body)"]
    lines = [f"{printable(body.get('error', 'error'))}: {printable(body.get('message', ''))}".rstrip(": ")]
    for kind in ("missing", "unavailable"):
        by_reason: dict[str, list[str]] = {}
        for item in body.get(kind) or ():
            if isinstance(item, Mapping):
                by_reason.setdefault(printable(item.get("reason")), []).append(printable(item.get("key")))
        for reason, keys in by_reason.items():
            lines.append(f"  {words[kind]}: {', '.join(keys)} -> {reason}")
    other = {k: v for k, v in body.items() if k not in ("error", "message", "missing", "unavailable")}
    if other:
        lines.extend("  " + printable(line) for line in json.dumps(other, indent=2, ensure_ascii=False).splitlines())
    return lines


def print_calls(calls: Iterable[ServiceCall], hook: str | None = None, language: str | None = None,
                console: Console | None = None) -> None:
    """Print each call's cards on the console (default: stdout as the terminal allows)."""
    out = console or make_console()
    for i, call in enumerate(calls):
        if i:
            out.print()
        out.print(call_renderable(call, hook, language))


def render_call(call: ServiceCall, hook: str | None = None, *, language: str | None = None, width: int = 100,
                color: bool = False) -> str:
    """:func:`call_renderable` as text (tests, logs): plain unless ``color``."""
    buffer = io.StringIO()
    make_console(buffer, width=width, color=color).print(call_renderable(call, hook, language))
    return buffer.getvalue()


def render_card(card: Mapping[str, Any], *, language: str | None = None, width: int = 100,
                color: bool = False) -> str:
    buffer = io.StringIO()
    make_console(buffer, width=width, color=color).print(card_renderable(card, language))
    return buffer.getvalue()
