"""What the neuro-oncology MDO needs to know (LWNO document, 001 §3), and what is still missing.

001 lists the information that must be present when a brain-metastasis patient
is discussed. :func:`mdo_information` checks each item against the facts;
:func:`note_text` summarises the result in a few lines, used as the ``note`` of
a referral to the MDO (the card suggestion and the order hooks).

An item counts as present only when its facts are *recorded*: "no symptoms
recorded" is not the same as "no symptoms", so the symptom item stays missing
until symptoms (or their absence) are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from cds_service.facts.model import Facts
from cds_service.pathways.common import primary_tumour_nl
from cds_service.pathways.model import LocalizedText

# Facts this checklist introduces (catalogue entries in mappings/facts.yaml):
#   previous_treatment_lines — LOCAL previous-treatment-lines (earlier systemic treatment lines)
#   relevant_comorbidity     — LOCAL relevant-comorbidity (comorbidity relevant to surgery / systemic therapy)


@dataclass(frozen=True)
class Item:
    key: str
    label: Mapping[str, str]  # nl / en


ITEMS: tuple[Item, ...] = (
    Item("oncological-history", {"nl": "oncologische voorgeschiedenis", "en": "oncological history"}),
    Item("primary-tumour-markers", {"nl": "primaire tumor met moleculaire markers / driver-mutaties",
                                    "en": "primary tumour with molecular markers / driver mutations"}),
    Item("previous-treatment-lines", {"nl": "eerder ontvangen behandellijnen", "en": "previous treatment lines"}),
    Item("previous-brain-treatment", {"nl": "eerdere hersenmetastasen en hun behandeling",
                                      "en": "previous brain metastases and their treatment"}),
    Item("comorbidity", {"nl": "comorbiditeit (van invloed op operatie / systemische behandeling)",
                         "en": "comorbidity (relevant to surgery / systemic therapy)"}),
    Item("anticoagulation", {"nl": "antistolling", "en": "anticoagulation"}),
    Item("extracranial-status", {"nl": "extracraniële ziektestatus", "en": "extracranial disease status"}),
    Item("prognosis", {"nl": "te verwachten prognose", "en": "expected prognosis"}),
    Item("kps", {"nl": "KPS", "en": "KPS"}),
    Item("dexamethasone", {"nl": "dexamethason ja/nee en dosis", "en": "dexamethasone yes/no and dose"}),
    Item("symptoms", {"nl": "symptomen (neurologische uitval, epilepsie)",
                      "en": "symptoms (neurological deficit, epilepsy)"}),
    Item("critical-location", {"nl": "kritieke locatie", "en": "critical location"}),
    Item("lesions", {"nl": "locatie, aantal en grootte van de metastasen",
                     "en": "location, number and size of the metastases"}),
    Item("patient-wish", {"nl": "wens van de patiënt", "en": "patient's wish"}),
)
ITEM_KEYS = tuple(i.key for i in ITEMS)
_LABELS = {i.key: i.label for i in ITEMS}


# -- per item: the facts it rests on and whether it is present ---------------------------------------


def _markers_facts(facts: Facts) -> tuple[str, ...]:
    primary = facts.value("primary_tumour")
    if primary == "breast":
        return ("primary_tumour", "her2_positive", "hormone_receptor_positive")
    if primary == "melanoma":
        return ("primary_tumour", "driver_positive")
    return ("primary_tumour", "driver_alteration")


def _markers_present(facts: Facts) -> bool:
    primary = facts.value("primary_tumour")
    if primary is None:
        return False
    if primary == "breast":
        return facts.known("her2_positive") and facts.known("hormone_receptor_positive")
    if primary == "melanoma":
        tested = set(facts.value("driver_positive") or ()) | set(facts.value("driver_negative") or ())
        return "BRAF" in tested
    return facts.known("driver_alteration")


def _extracranial_facts(facts: Facts) -> tuple[str, ...]:
    if facts.value("extracranial_disease_status") == "progressive":
        return ("extracranial_disease_status", "systemic_options_remaining", "systemic_switch_cns_response")
    return ("extracranial_disease_status",)


def _dexamethasone_present(facts: Facts) -> bool:
    fact = facts["dexamethasone_active"]
    if not fact.known:
        return False
    return fact.value is False or bool(fact.attrs.get("dose"))


def _symptoms_present(facts: Facts) -> bool:
    fact = facts["bm_symptomatic"]
    return fact.known and not fact.attrs.get("assumed")


def _all_known(*names: str) -> Callable[[Facts], bool]:
    return lambda facts: all(facts.known(n) for n in names)


_CHECKS: Mapping[str, tuple[Callable[[Facts], tuple[str, ...]], Callable[[Facts], bool]]] = {
    "oncological-history": (lambda f: ("primary_tumour",), _all_known("primary_tumour")),
    "primary-tumour-markers": (_markers_facts, _markers_present),
    "previous-treatment-lines": (lambda f: ("previous_treatment_lines",), _all_known("previous_treatment_lines")),
    "previous-brain-treatment": (
        lambda f: ("focal_treatment_date", "wbrt_done"),
        lambda f: f.known("focal_treatment_date") or f.known("wbrt_done") or f.known("resection_done"),
    ),
    "comorbidity": (lambda f: ("relevant_comorbidity",), _all_known("relevant_comorbidity")),
    "anticoagulation": (lambda f: ("anticoagulation",), _all_known("anticoagulation")),
    "extracranial-status": (_extracranial_facts, lambda f: all(f.known(n) for n in _extracranial_facts(f))),
    "prognosis": (lambda f: ("expected_survival_months",), _all_known("expected_survival_months")),
    "kps": (lambda f: ("kps",), lambda f: f.known("kps") or f.known("kps_ge_70")),
    "dexamethasone": (lambda f: ("dexamethasone_active",), _dexamethasone_present),
    "symptoms": (lambda f: ("bm_symptomatic",), _symptoms_present),
    "critical-location": (lambda f: ("critical_location",), _all_known("critical_location")),
    "lesions": (lambda f: ("brain_metastasis_count", "largest_diameter_mm"),
                _all_known("brain_metastasis_count", "largest_diameter_mm")),
    "patient-wish": (lambda f: ("treatment_wish",), _all_known("treatment_wish")),
}


@dataclass(frozen=True)
class MdoInformation:
    present: tuple[tuple[str, tuple[str, ...]], ...]  # (item key, the facts that supply it)
    missing: tuple[str, ...]  # item keys
    missing_facts: tuple[str, ...] = ()  # the facts to record for the missing items

    @property
    def complete(self) -> bool:
        return not self.missing


def mdo_information(facts: Facts) -> MdoInformation:
    """Check every 001 §3 item against the facts."""
    present: list[tuple[str, tuple[str, ...]]] = []
    missing: list[str] = []
    missing_facts: list[str] = []
    for key in ITEM_KEYS:
        names, is_present = _CHECKS[key]
        item_facts = names(facts)
        if is_present(facts):
            present.append((key, item_facts))
        else:
            missing.append(key)
            to_record = [n for n in item_facts if not facts.known(n)] or list(item_facts)
            missing_facts.extend(n for n in to_record if n not in missing_facts)
    return MdoInformation(present=tuple(present), missing=tuple(missing), missing_facts=tuple(missing_facts))


def label(key: str, language: str) -> str:
    entry = _LABELS[key]
    return entry.get(language) or entry["en"]


# -- the referral note -----------------------------------------------------------------------------

_WORDS = {
    "nl": {"title": "Informatie voor het neuro-oncologisch MDO (LWNO)", "present": "Aanwezig",
           "missing": "Ontbreekt nog", "none": "niets", "yes": "ja", "no": "nee", "months": "maanden",
           "metastases": "metastasen", "largest": "grootste"},
    "en": {"title": "Information for the neuro-oncology MDO (LWNO)", "present": "Present",
           "missing": "Still missing", "none": "nothing", "yes": "yes", "no": "no", "months": "months",
           "metastases": "metastases", "largest": "largest"},
}


def _number(value: float, language: str) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if language == "nl" else text


# Recorded codes as the note says them (the note is read in the MDO, in one language).
_PRIMARY_EN = {"nsclc": "NSCLC", "lung": "lung cancer", "breast": "breast cancer", "renal": "renal cell carcinoma",
               "colorectal": "colorectal cancer"}
_EXTRACRANIAL_NL = {"none": "geen", "stable": "stabiel", "progressive": "progressief"}
_CATEGORY = {
    "nl": {"lt-3-months": "< 3 maanden", "3-6-months": "3–6 maanden", "6-12-months": "6–12 maanden",
           "gt-12-months": "> 12 maanden"},
    "en": {"lt-3-months": "< 3 months", "3-6-months": "3–6 months", "6-12-months": "6–12 months",
           "gt-12-months": "> 12 months"},
}


def _value(key: str, facts: Facts, language: str) -> str | None:
    """A short value for an item in the note, where one reads naturally."""
    w = _WORDS[language]
    yes_no = lambda v: w["yes"] if v else w["no"]  # noqa: E731
    if key == "primary-tumour-markers":
        primary = facts.value("primary_tumour")
        positive = sorted(facts.value("driver_positive") or ())
        named = primary_tumour_nl(primary) if language == "nl" else _PRIMARY_EN.get(str(primary), str(primary))
        return named + (f" ({', '.join(positive)}+)" if positive else "")
    if key == "kps":
        kps = facts.value("kps")
        return None if kps is None else str(kps)
    if key == "prognosis":
        fact = facts["expected_survival_months"]
        category = fact.attrs.get("category") if fact.attrs else None
        if category:
            return _CATEGORY[language].get(str(category), str(category))
        return f"{_number(float(fact.value), language)} {w['months']}"
    if key == "extracranial-status":
        status = facts.value("extracranial_disease_status")
        return _EXTRACRANIAL_NL.get(str(status), str(status)) if language == "nl" else str(status)
    if key == "dexamethasone":
        fact = facts["dexamethasone_active"]
        dose = fact.attrs.get("dose") if fact.value else None
        return yes_no(fact.value) + (f", {dose}" if dose else "")
    if key == "symptoms":
        return yes_no(facts.value("bm_symptomatic"))
    if key == "critical-location":
        return yes_no(facts.value("critical_location"))
    if key == "lesions":
        return (f"{facts.value('brain_metastasis_count')} {w['metastases']}, {w['largest']} "
                f"{_number(float(facts.value('largest_diameter_mm')), language)} mm")
    if key == "patient-wish":
        return yes_no(facts.value("treatment_wish"))
    if key == "anticoagulation":
        return yes_no(facts.value("anticoagulation"))
    return None


def note_text(facts: Facts, language: str) -> str:
    """A short plain-text summary of what the MDO will have and what is still missing."""
    language = language if language in _WORDS else "en"
    w = _WORDS[language]
    info = mdo_information(facts)
    present = []
    for key, _ in info.present:
        value = _value(key, facts, language)
        present.append(f"{label(key, language)}: {value}" if value else label(key, language))
    missing = [label(key, language) for key in info.missing]
    return (
        f"{w['title']}. {w['present']}: {'; '.join(present) or w['none']}. "
        f"{w['missing']}: {'; '.join(missing) or w['none']}."
    )


class ReferralNote:
    """The note for an MDO-referral ServiceRequest, written only when a card is rendered.

    Pathways propose the referral on several branches of a walk but only the cards
    that are sent are rendered, so the note is composed lazily, in the card's
    language (the renderer localises any value with ``in_language``).
    """

    __slots__ = ("_facts",)

    def __init__(self, facts: Facts) -> None:
        self._facts = facts

    def in_language(self, language: str) -> str:
        return note_text(self._facts, language)

    def __eq__(self, other: object) -> bool:  # the same facts give the same note (walk branches compare findings)
        return isinstance(other, ReferralNote) and other._facts is self._facts

    def __hash__(self) -> int:
        return id(self._facts)

    get = in_language

    def __str__(self) -> str:
        return self.in_language("en")


def referral_note(facts: Facts) -> ReferralNote:
    """The note for an MDO-referral ServiceRequest (composed when rendered, in the card's language)."""
    return ReferralNote(facts)
