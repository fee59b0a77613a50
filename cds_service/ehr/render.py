"""Cards as terminal text: what a clinician would see in the EHR, readable in a shell.

The indicator is coloured (critical red, warning yellow, info cyan) with
``click.style``; ``click.echo`` drops the colours when the output is not a
terminal. The card detail is Markdown and is shown as written, indented.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import click

from cds_service.ehr.client import ServiceCall

INDICATORS = {"critical": "red", "warning": "yellow", "info": "cyan"}
_SELECTION = {"at-most-one": "choose at most one", "any": "choose any"}
INDENT = "    "


def _indent(text: str, prefix: str = INDENT) -> list[str]:
    lines = text.strip("\n").splitlines()
    out: list[str] = []
    for line in lines:
        if not line.strip() and out and not out[-1].strip():
            continue  # one blank line is enough
        out.append(prefix + line if line.strip() else "")
    return out


def render_card(card: Mapping[str, Any]) -> list[str]:
    indicator = str(card.get("indicator", "info"))
    badge = click.style(f" {indicator.upper()} ", fg="white", bg=INDICATORS.get(indicator, "blue"), bold=True)
    title = click.style(str(card.get("summary", "")), fg=INDICATORS.get(indicator), bold=True)
    lines = [f"{badge} {title}"]
    source = card.get("source") or {}
    topic = (source.get("topic") or {}).get("code")
    src = str(source.get("label", ""))
    if source.get("url"):
        src += f" <{source['url']}>"
    if topic:
        src += f"  [{topic}]"
    if src:
        lines.append(INDENT + click.style("Source: ", dim=True) + src)
    if card.get("detail"):
        lines.append("")
        lines.extend(_indent(str(card["detail"])))
    suggestions = card.get("suggestions") or []
    if suggestions:
        how = _SELECTION.get(str(card.get("selectionBehavior")), str(card.get("selectionBehavior", "")))
        lines.append("")
        lines.append(INDENT + click.style(f"Suggestions ({how}):", bold=True))
        for s in suggestions:
            mark = click.style("  (recommended)", fg="green") if s.get("isRecommended") else ""
            lines.append(f"{INDENT}  > {s.get('label', '')}{mark}")
            for action in s.get("actions") or []:
                resource = action.get("resource") or {}
                target = resource.get("resourceType") or action.get("resourceId") or ""
                lines.append(f"{INDENT}      {action.get('type', '')} {target}: {action.get('description', '')}")
    links = card.get("links") or []
    if links:
        lines.append("")
        lines.append(INDENT + click.style("Links:", bold=True))
        for link in links:
            lines.append(f"{INDENT}  > {link.get('label', '')}: {link.get('url', '')}"
                         + (" (SMART app)" if link.get("type") == "smart" else ""))
    reasons = card.get("overrideReasons") or []
    if reasons:
        lines.append(INDENT + click.style("Override reasons: ", dim=True)
                     + "; ".join(str(r.get("display") or r.get("code")) for r in reasons))
    return lines


def render_call(call: ServiceCall, hook: str | None = None) -> str:
    """A header line for the service, then its cards (or the error it answered)."""
    head = click.style(call.service_id, bold=True)
    if hook:
        head += f" ({hook})"
    lines: list[str] = []
    if call.ok:
        cards = call.body["cards"]
        lines.append(f"{head}: {len(cards)} card{'s' if len(cards) != 1 else ''}, {call.elapsed_ms:.0f} ms")
        lines.append("-" * 72)
        if not cards:
            lines.append(INDENT + "(no cards: no advice for this patient)")
        for i, card in enumerate(cards):
            if i:
                lines.append("")
            lines.extend(render_card(card))
        for action in call.body.get("systemActions") or []:
            lines.append(INDENT + f"system action: {action.get('type')} {action.get('description', '')}")
    else:
        lines.append(f"{head}: " + click.style(f"HTTP {call.status}", fg="red", bold=True)
                     + f", {call.elapsed_ms:.0f} ms")
        lines.append("-" * 72)
        lines.extend(render_error(call.body))
    return "\n".join(lines)


def render_error(body: Any) -> list[str]:
    if not isinstance(body, Mapping):
        return _indent(str(body)[:2000] or "(empty body)")
    lines = [INDENT + f"{body.get('error', 'error')}: {body.get('message', '')}".rstrip(": ")]
    for label, key in (("missing (required)", "missing"), ("unavailable (optional)", "unavailable")):
        for item in body.get(key) or []:
            if isinstance(item, Mapping):
                lines.append(f"{INDENT}  {label}: {item.get('key')} = {item.get('query')} -> {item.get('reason')}")
    other = {k: v for k, v in body.items() if k not in ("error", "message", "missing", "unavailable")}
    if other:
        lines.extend(_indent(json.dumps(other, indent=2, ensure_ascii=False), INDENT + "  "))
    return lines
