"""The CDS Hooks ``smart`` link on every card that names missing facts: "record them now".

Added after rendering (cards come from templates another layer owns): a card whose rule is
``DATA-MISSING`` or whose finding listed missing facts gets one link of type ``smart`` to the
app's launch URL; the EHR appends ``iss`` and ``launch`` (SMART EHR launch).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping
from urllib.parse import urlencode

DATA_MISSING = "DATA-MISSING"
LABEL = {"nl": "Ontbrekende gegevens vastleggen", "en": "Record the missing data"}


def launch_url(base_url: str, service_id: str) -> str:
    return f"{base_url.rstrip('/')}/smart/launch?{urlencode({'service': service_id})}"


def add_smart_links(response: Mapping[str, Any], findings: Iterable[Any], *, base_url: str, service_id: str,
                    language: str) -> None:
    """Append the link in place to the cards of rules that miss facts."""
    missing_rules = {f.rule_id for f in findings if f.rule_id == DATA_MISSING or f.facts_missing}
    if not missing_rules:
        return
    link = {"label": LABEL.get(language, LABEL["en"]), "url": launch_url(base_url, service_id), "type": "smart"}
    for card in response.get("cards", ()):
        rule = (card.get("source") or {}).get("topic", {}).get("code")
        if rule in missing_rules and not any(l.get("type") == "smart" for l in card.get("links", ())):
            card.setdefault("links", []).append(dict(link))
