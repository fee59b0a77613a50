"""Brain metastases (catalog §1 and PROG-RPA): the ``brain-metastases`` patient-view pathway.

Reads like the seeds:

1. Applies only to a patient with active brain metastases; unknown status → DATA-MISSING.
2. No treatment wish (recorded as absent) → ``BM-RESTRAINT`` (best supportive care), palliative
   care and the RPA class only: no MDO, treatment, follow-up or referral cards.
3. Otherwise (treatment wish assumed unless recorded false), in sections:
   - triage (001: A1–A4 / S1–S3), neurology referral, recurrence / radionecrosis;
   - the treatment considerations of 000 in the triage's context: systemic therapy;
     resection; SRS or else WBRT;
   - the post-operative policy; the follow-up MRI; the RPA class;
   - the MDO information checklist when a card proposes the neuro-oncology MDO;
   - palliative care from the diagnosis.

Each section runs through :mod:`brain_walk`, which follows both branches of any unknown
step and turns a difference into DATA-MISSING (catalog "Conventions"); all DATA-MISSING
findings become one.
"""

from __future__ import annotations

from dataclasses import replace

from cds_service.facts.model import Facts
from cds_service.pathways import brain_atoms as at
from cds_service.pathways.brain_followup import (
    FOLLOWUP_MRI,
    POSTOP_SRS,
    POSTOP_WAITSCAN,
    RECURRENCE_MDO,
    followup_mri,
    mri_not_needed_after_wbrt,
    postop,
    recurrence,
)
from cds_service.pathways.brain_prognosis import PROG_RPA, rpa
from cds_service.pathways.brain_treatment import (
    PALLIATIVE,
    TX_RESECTION,
    TX_SRS,
    TX_SYSTEMIC,
    TX_WBRT,
    local_context,
    palliative,
    resection,
    srs_or_wbrt,
    systemic,
)
from cds_service.pathways.brain_triage import MDO_NEURO, MDO_ORGAN, RESTRAINT, Triage, triage, triage_finding
from cds_service.pathways.brain_walk import Combined, Walk, by_variant, marker, per_call_memo, run
from cds_service.pathways.common import DATA_MISSING, data_missing
from cds_service.pathways.mdo_info import label as item_label
from cds_service.pathways.mdo_info import mdo_information, referral_note
from cds_service.pathways.model import ActionSpec, EvalContext, Finding, LocalizedText, SuggestionSpec, tr

NEURO_REFERRAL = "BM-NEURO-REFERRAL"
MDO_INFO_MISSING = "BM-MDO-INFO-MISSING"

RULES: tuple[str, ...] = (
    RESTRAINT,
    MDO_NEURO,
    MDO_ORGAN,
    NEURO_REFERRAL,
    TX_SYSTEMIC,
    TX_RESECTION,
    TX_SRS,
    TX_WBRT,
    PALLIATIVE,
    POSTOP_SRS,
    POSTOP_WAITSCAN,
    FOLLOWUP_MRI,
    RECURRENCE_MDO,
    MDO_INFO_MISSING,
    PROG_RPA,
    DATA_MISSING,
)

# What ``evaluate_orders`` can emit on the order hooks (catalog §1e, §1f).
ORDER_RULES: tuple[str, ...] = (FOLLOWUP_MRI, MDO_INFO_MISSING)


# -- entry points ----------------------------------------------------------------------------------


def evaluate(facts: Facts, ctx: EvalContext) -> list[Finding]:
    """All brain-metastasis cards for one patient (patient-view)."""
    with per_call_memo():  # the sections' conditions are built once, not once per branch
        return _evaluate(facts, ctx)


def _evaluate(facts: Facts, ctx: EvalContext) -> list[Finding]:
    status = facts["brain_metastases"]
    if not status.known:
        return [data_missing(["brain_metastases"],
                             tr("Hersenmetastasen: status onbekend (de aandoeningen konden niet worden gelezen) — "
                                "de richtlijn hersenmetastasen kon niet worden toegepast",
                                "Brain metastases: status unknown (the conditions could not be read) — "
                                "the brain-metastasis guideline could not be applied"))]
    if status.value is not True:
        return []
    if facts.value("treatment_wish") is False:
        sections = [Combined(findings=[_no_treatment_wish()]), run(lambda w: rpa(facts, w), facts, by_variant)]
    else:
        mdo = run(lambda w: _triage_section(facts, w), facts)
        sections = [mdo, *_treatment_sections(facts, mdo)]
        sections += [
            run(lambda w: postop(facts, w, ctx.now), facts),
            run(lambda w: followup_mri(facts, w, ctx.now), facts),
            run(lambda w: rpa(facts, w), facts, by_variant),
        ]
        info = _info_missing(facts) if _refers_to_mdo(mdo.findings) else None
        if info is not None:
            sections.append(Combined(findings=[info]))
    findings = [f for s in sections for f in s.findings]
    care = palliative(facts)
    if care is not None:
        findings.append(care)
    findings = [_finish(f, facts) for f in findings]
    missing = [s.missing for s in sections if s.missing is not None]
    if missing:
        findings.append(
            data_missing([n for m in missing for n in m.facts_missing], *[line for m in missing for line in m.trace])
        )
    return findings


def evaluate_orders(facts: Facts, ctx: EvalContext) -> list[Finding]:
    """Order hooks: a follow-up brain MRI after WBRT, and an MDO referral lacking information."""
    out: list[Finding] = []
    mri_orders = ctx.orders("mri-brain")
    if mri_orders and facts.value("brain_metastases") is True and facts.value("wbrt_done") is True:
        out.append(mri_not_needed_after_wbrt(facts, mri_orders[0].id))
    referrals = ctx.orders("mdo-referral")
    if referrals and facts.value("brain_metastases") is not False:
        finding = _info_missing(facts, indicator="warning", variant="order", order_id=referrals[0].id)
        if finding is not None:
            out.append(_finish(finding, facts))
    return out


# -- sections --------------------------------------------------------------------------------------


def _mdo_suggestion(facts: Facts) -> SuggestionSpec:
    """Referral to the neuro-oncology MDO, with the MDO information summary as note."""
    return SuggestionSpec("refer-mdo", (ActionSpec("create", "mdo-referral", params={"note": referral_note(facts)}),))


def _triage_section(facts: Facts, walk: Walk) -> list[Finding]:
    """Triage (001), neurology referral and recurrence; a marker tells the treatment sections the context."""
    out: list[Finding] = []
    t: Triage | None = None
    if facts.value("radionecrosis_suspected") is True:
        walk.note(tr("Verdenking radiatienecrose na stereotactische radiotherapie: bespreken in het MDO, "
                     "buiten de triage-stroomdiagrammen (001, toelichting 2)",
                     "Suspected radionecrosis after stereotactic radiotherapy: discussed in the MDO, "
                     "outside the triage flowcharts (001, toelichting 2)"))
    else:
        t = triage(facts, walk)
        out.append(triage_finding(facts, t, walk, _mdo_suggestion))
    out.append(marker(f"local:{local_context(facts, t)}"))
    out.extend(_neuro_referral(facts, walk))
    out.extend(recurrence(facts, walk, t, _mdo_suggestion))
    return out


def _treatment_sections(facts: Facts, mdo: Combined) -> list[Combined]:
    """000's considerations: systemic therapy always; resection / SRS / WBRT in the triage's context.

    Run as separate sections (each follows its own unknown branches). When the triage runs disagree on
    the context, the local considerations cannot be given: the triage's DATA-MISSING names why.
    """
    sections = [run(lambda w: systemic(facts, w), facts)]
    contexts = [m.removeprefix("local:") for m in mdo.markers if m.startswith("local:")]
    if len(contexts) == 1:
        context = contexts[0]
        sections.append(run(lambda w: resection(facts, w, context), facts))
        sections.append(run(lambda w: srs_or_wbrt(facts, w, context), facts))
    return sections


def _refers_to_mdo(findings: list[Finding]) -> bool:
    """A neuro-oncology MDO card fires: then the MDO information matters (catalog 1f: "whenever an MDO card fires").

    Every variant counts, also one saying the MDO was already held; a recurrence card that sends the
    patient to the organ-specific MDO (triage outside the neuro-oncology MDO) does not.
    """
    return any(
        f.rule_id == MDO_NEURO or (f.rule_id == RECURRENCE_MDO and f.variant != "organ")
        for f in findings
    )


def _neuro_referral(facts: Facts, walk: Walk) -> list[Finding]:
    """001: refer every symptomatic patient to neuro-oncology / neurology, unless already under its care."""
    start = len(walk.trace)
    if not walk.decide(tr("Verwijzing (001)", "Referral (001)"),
                       tr("hersenmetastasen symptomatisch?", "brain metastases symptomatic?"), at.symptomatic(facts)):
        return []
    if facts.value("neurology_involved") is True:
        walk.note(tr("Al onder behandeling van de neurologie / neuro-oncologie",
                     "Already under neurology / neuro-oncology care"))
        return []
    used = ("bm_symptomatic", "neurological_deficit", "seizures", "raised_icp", "neurology_involved")
    return [Finding(
        NEURO_REFERRAL,
        facts_used=tuple(n for n in used if facts.known(n)),
        trace=(*walk.trace[start:], tr("Betrokkenheid neurologie / neuro-oncologie vastgelegd? → nee",
                                       "Neurology / neuro-oncology involvement recorded? → no")),
        suggestions=(SuggestionSpec("refer-neuro", (ActionSpec("create", "neuro-oncology-referral"),)),),
    )]


def _info_missing(facts: Facts, *, indicator: str | None = None, variant: str | None = None,
                  order_id: str | None = None) -> Finding | None:
    """001 §3: the items the MDO needs that the record does not hold (silent when complete)."""
    info = mdo_information(facts)
    if info.complete:
        return None
    return Finding(
        MDO_INFO_MISSING,
        facts_missing=info.missing_facts,
        trace=(tr(f"Informatie voor het MDO (001 §3): {len(info.present)} van "
                  f"{len(info.present) + len(info.missing)} onderdelen aanwezig; ontbreekt: "
                  f"{', '.join(item_label(key, 'nl') for key in info.missing)}",
                  f"MDO information (001 §3): {len(info.present)} of {len(info.present) + len(info.missing)} items "
                  f"present; missing: {', '.join(info.missing)}"),),
        indicator=indicator,
        variant=variant,
        notes=tuple(f"item:{key}" for key in info.missing),
        params={"missing_count": len(info.missing), "item_count": len(info.present) + len(info.missing)},
        order_id=order_id,
    )


def _no_treatment_wish() -> Finding:
    return Finding(
        RESTRAINT,
        facts_used=("treatment_wish",),
        trace=(tr("Behandelwens? → nee (vastgelegd): de patiënt wil geen behandeling",
                  "Treatment wish? → no (recorded): the patient does not want treatment"),
               tr("Geen kaarten voor MDO, behandeling of verwijzing; best supportive care",
                  "No MDO, treatment or referral cards; best supportive care")),
        variant="no-wish",
        notes=("best-supportive-care",),
    )


# -- finishing touches ------------------------------------------------------------------------------


SURVIVAL_CATEGORIES_NL = {  # LOCAL expected-survival codes, as a Dutch card says them
    "lt-2-weeks": "< 2 weken",
    "lt-3-months": "< 3 maanden",
    "3-6-months": "3–6 maanden",
    "6-12-months": "6–12 maanden",
    "gt-12-months": "> 12 maanden",
}


def _survival_category(code: str) -> LocalizedText:
    """The recorded category for the card: in Dutch in words, in English the code as recorded."""
    return LocalizedText({"nl": SURVIVAL_CATEGORIES_NL.get(str(code), str(code)), "en": str(code)})


def _finish(finding: Finding, facts: Facts) -> Finding:
    """Notes and values every brain card shares: KPS from ECOG, survival category, suspected diagnosis."""
    notes = list(finding.notes)
    params = dict(finding.params)
    mentioned = set(finding.facts_used) | set(finding.facts_missing)
    kps = facts["kps"]
    if "kps" in finding.facts_used and at.kps_derived_from_ecog(facts):
        notes.append("kps-from-ecog")
        params.setdefault("kps_band", kps.attrs.get("kps_band") or ("≥ 70" if kps.value >= 70 else "< 70"))
    survival = facts["expected_survival_months"]
    if "expected_survival_months" in mentioned and survival.known and survival.attrs.get("category"):
        notes.append("survival-category")
        params.setdefault("survival_category", _survival_category(survival.attrs["category"]))
    if facts["brain_metastases"].attrs.get("suspected"):
        notes.append("bm-suspected")
    return replace(finding, notes=tuple(dict.fromkeys(notes)), params=params)

