"""Card templates: the wording of every rule, per language, loaded from ``cards/*.yaml``.

Clinicians own the wording; code only fills in values. One YAML file per
pathway area holds one entry per rule id::

    BM-MDO-NEURO:
      title: Discuss in the neuro-oncology MDO          # English name, card.source.topic.display
      indicator: warning                                 # default; a Finding may override it
      source: {nl: "FMS-richtlijn Hersenmetastasen …", en: "…"}   # guideline module / seed
      links:                                             # optional
        - {label: {nl: …, en: …}, url: https://…}
      override_reasons: [mdo-not-recorded, emergency]    # keys in cards/override_reasons.yaml
      nl:
        summary: "Bespreek in het neuro-oncologisch MDO"  # str.format placeholders from Finding.params
        detail: "…"                                       # Markdown
        summary_variants: {low-kps: "…"}                  # picked by Finding.variant
        detail_variants: {low-kps: "…"}                   # picked by Finding.variant (else detail)
        notes: {treatment-wish-assumed: "…"}              # appended by Finding.notes
        suggestions: {refer-mdo: "Verwijs naar het neuro-oncologisch MDO"}
      en: {… same keys …}

Templates are validated when loaded (startup), so a broken template fails
fast instead of in front of a clinician.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Mapping

from cds_service.yaml_load import safe_load

LANGUAGES = ("nl", "en")
INDICATORS = ("info", "warning", "critical")
_TEXT_KEYS = ("summary", "detail")
_MAP_KEYS = ("summary_variants", "detail_variants", "notes", "suggestions")


class TemplateError(ValueError):
    """A card template file is malformed (raised at startup)."""


@dataclass(frozen=True)
class CardTemplate:
    rule_id: str
    title: str
    indicator: str
    source: Mapping[str, str]
    texts: Mapping[str, Mapping[str, Any]]  # language -> {summary, detail, summary_variants, notes, suggestions}
    links: tuple[Mapping[str, Any], ...] = ()
    override_reasons: tuple[str, ...] = ()
    area: str = ""

    def text(self, language: str) -> Mapping[str, Any]:
        return self.texts.get(language) or self.texts["en"]


@dataclass(frozen=True)
class TemplateSet:
    templates: Mapping[str, CardTemplate]
    override_reasons: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # key -> {nl, en}
    common: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # key -> {nl, en} shared phrases
    words: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)  # values.yaml sections
    note_patterns: tuple[tuple[re.Pattern[str], Mapping[str, str]], ...] = ()  # values.yaml note_patterns

    def __getitem__(self, rule_id: str) -> CardTemplate:
        try:
            return self.templates[rule_id]
        except KeyError:
            raise TemplateError(f"no card template for rule {rule_id!r}") from None

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self.templates

    def word(self, section: str, key: str, language: str) -> str:
        """A coded value, derivation or fact note in ``language`` (``cards/values.yaml``); else as is."""
        entry = self.words.get(section, {}).get(key)
        return (entry.get(language) or entry.get("en") or key) if entry else key

    def note(self, note: str, language: str, fill: Any = None) -> str:
        """A fact note in ``language``: a fixed note (``notes``) or one with values (``note_patterns``).

        ``fill`` formats a matched group for the card (e.g. an ISO date in the card's date form).
        """
        fixed = self.words.get("notes", {}).get(note)
        if fixed:
            return fixed.get(language) or fixed.get("en") or note
        for pattern, texts in self.note_patterns:
            match = pattern.match(note)
            if match:
                groups = [fill(g) if fill else g for g in match.groups()]
                text = texts.get(language) or texts["en"]
                return re.sub(r"\{(\d+)\}", lambda m: groups[int(m.group(1)) - 1], text)
        return note

    def phrase(self, key: str, language: str) -> str:
        entry = self.common.get(key, {})
        return entry.get(language) or entry.get("en") or key


def _placeholders(text: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


def _check_text(rule_id: str, lang: str, where: str, text: Any) -> None:
    if not isinstance(text, str) or not text.strip():
        raise TemplateError(f"{rule_id}: {lang}.{where} must be a non-empty string")
    try:
        _placeholders(text)
    except ValueError as exc:
        raise TemplateError(f"{rule_id}: {lang}.{where}: bad placeholder syntax: {exc}") from None


def _parse_template(rule_id: str, raw: Any, area: str, reasons: Mapping[str, Any]) -> CardTemplate:
    if not isinstance(raw, dict):
        raise TemplateError(f"{rule_id}: entry must be a mapping")
    indicator = raw.get("indicator")
    if indicator not in INDICATORS:
        raise TemplateError(f"{rule_id}: indicator must be one of {INDICATORS}, got {indicator!r}")
    title = raw.get("title")
    if not isinstance(title, str) or not title:
        raise TemplateError(f"{rule_id}: title is required")
    source = raw.get("source")
    if not isinstance(source, dict) or not all(isinstance(source.get(lang), str) for lang in LANGUAGES):
        raise TemplateError(f"{rule_id}: source needs nl and en text")
    texts: dict[str, Mapping[str, Any]] = {}
    for lang in LANGUAGES:
        block = raw.get(lang)
        if not isinstance(block, dict):
            raise TemplateError(f"{rule_id}: missing {lang} block")
        for key in _TEXT_KEYS:
            _check_text(rule_id, lang, key, block.get(key))
        for key in _MAP_KEYS:
            sub = block.get(key, {})
            if not isinstance(sub, dict):
                raise TemplateError(f"{rule_id}: {lang}.{key} must be a mapping")
            for sub_key, text in sub.items():
                _check_text(rule_id, lang, f"{key}.{sub_key}", text)
        texts[lang] = block
    for key in _MAP_KEYS:  # both languages must offer the same variants, notes and suggestions
        if set(texts["nl"].get(key, {})) != set(texts["en"].get(key, {})):
            raise TemplateError(f"{rule_id}: nl and en {key} keys differ")
    links = tuple(raw.get("links") or ())
    for link in links:
        if not (isinstance(link, dict) and isinstance(link.get("url"), str) and link["url"].startswith("http")):
            raise TemplateError(f"{rule_id}: every link needs an absolute url")
        label = link.get("label")
        if not (isinstance(label, dict) and all(isinstance(label.get(lang), str) for lang in LANGUAGES)):
            raise TemplateError(f"{rule_id}: every link needs an nl and en label")
    override = tuple(raw.get("override_reasons") or ())
    unknown = [r for r in override if r not in reasons]
    if unknown:
        raise TemplateError(f"{rule_id}: unknown override reasons {unknown}")
    return CardTemplate(
        rule_id=rule_id,
        title=title,
        indicator=indicator,
        source=source,
        texts=texts,
        links=links,
        override_reasons=override,
        area=area,
    )


def load_templates(package: str = "cds_service.card_templates") -> TemplateSet:
    """Load and validate every ``*.yaml`` template file shipped in the package."""
    root = resources.files(package)
    reasons: dict[str, Mapping[str, str]] = {}
    common: dict[str, Mapping[str, str]] = {}
    files = sorted((p for p in root.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    for special, target in (("override_reasons.yaml", reasons), ("common.yaml", common)):
        for path in files:
            if path.name == special:
                data = safe_load(path.read_text(encoding="utf-8")) or {}
                for key, entry in data.items():
                    if not (isinstance(entry, dict) and all(isinstance(entry.get(lang), str) for lang in LANGUAGES)):
                        raise TemplateError(f"{special}: {key} needs nl and en text")
                    target[key] = entry
    words: dict[str, Mapping[str, Mapping[str, str]]] = {}
    patterns: list[tuple[re.Pattern[str], Mapping[str, str]]] = []
    for path in files:
        if path.name == "values.yaml":
            data = safe_load(path.read_text(encoding="utf-8")) or {}
            for raw, entry in (data.pop("note_patterns", None) or {}).items():
                if not (isinstance(entry, dict) and all(isinstance(entry.get(lang), str) for lang in LANGUAGES)):
                    raise TemplateError(f"values.yaml: note pattern {raw!r} needs nl and en text")
                try:
                    patterns.append((re.compile(raw), entry))
                except re.error as exc:
                    raise TemplateError(f"values.yaml: note pattern {raw!r}: {exc}") from None
            for section, entries in data.items():
                for key, entry in (entries or {}).items():
                    if not (isinstance(entry, dict) and all(isinstance(entry.get(lang), str) for lang in LANGUAGES)):
                        raise TemplateError(f"values.yaml: {section}.{key} needs nl and en text")
                words[section] = entries or {}
    templates: dict[str, CardTemplate] = {}
    for path in files:
        if path.name in ("override_reasons.yaml", "common.yaml", "values.yaml"):
            continue
        data = safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise TemplateError(f"{path.name}: top level must be a mapping of rule id -> template")
        for rule_id, raw in data.items():
            if rule_id in templates:
                raise TemplateError(f"{path.name}: rule {rule_id} is defined twice")
            templates[rule_id] = _parse_template(rule_id, raw, path.name.removesuffix(".yaml"), reasons)
    return TemplateSet(templates=templates, override_reasons=reasons, common=common, words=words,
                       note_patterns=tuple(patterns))
