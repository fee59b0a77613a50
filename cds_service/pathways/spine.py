"""Spinal metastases (catalog §3 and PROG-SINS): the ``spinal-metastases`` patient-view pathway.

This module only wires the flowcharts together and applies their precedence; each chart
lives in its own module:

- :mod:`~cds_service.pathways.spine_routing` — 004 (FMS 2026): red flags, very short life
  expectancy / no treatment wish, spine surgeon, pain, asymptomatic, team (3a);
- :mod:`~cds_service.pathways.spine_mri` — 003 diagnostics: whole-spine MRI deadlines (3b);
- :mod:`~cds_service.pathways.spine_treatment` — 003: corticosteroids, biopsy, timelines,
  surgery, radiotherapy schedule, no local treatment (3c, 3d);
- :mod:`~cds_service.pathways.sins` — the SINS score (§5).

Precedence (catalog 3a and "Conventions"):

- Red flags and routing need *established* spinal metastases; MRI urgency, corticosteroids
  and biopsy apply to suspected ones as well.
- No treatment wish → ``SM-SHORT-LIFE`` only (plus red flags and the SINS score): no
  treatment, MDO or referral-for-treatment cards.
- Life expectancy ≤ 2 weeks → ``SM-SHORT-LIFE``; then ``SM-SPINE-SURGEON``, ``SM-PAIN``,
  ``SM-SURGERY`` and ``SM-ASYMPTOMATIC-SRE`` do not fire. When the life expectancy is
  unknown those four wait as well and ``DATA-MISSING`` asks for it.

:func:`evaluate_orders` is the order-hook part: it judges draft whole-spine MRI orders
against the deadline (composed into :mod:`cds_service.pathways.orders`).
"""

from __future__ import annotations

from dataclasses import replace

from cds_service.facts.model import Facts, FactStatus
from cds_service.pathways import sins, spine_mri, spine_routing, spine_treatment
from cds_service.pathways.common import DATA_MISSING, data_missing, no_cancer_recorded
from cds_service.pathways.model import EvalContext, Finding, Text, tr, tri_and, tri_not
from cds_service.pathways.spine_picture import (
    has_spine_presentation,
    mescc,
    spinal_status,
    survival,
    symptoms,
    treatment_wish,
)

RULES: tuple[str, ...] = (
    spine_routing.RED_FLAG,
    spine_routing.SHORT_LIFE,
    spine_routing.SPINE_SURGEON,
    spine_routing.PAIN,
    spine_routing.ASYMPTOMATIC_SRE,
    spine_routing.TEAM,
    spine_mri.RULE,
    spine_treatment.DEXAMETHASONE,
    spine_treatment.BIOPSY,
    spine_treatment.TIMELINE,
    spine_treatment.SURGERY,
    spine_treatment.RT_SCHEDULE,
    spine_treatment.NO_LOCAL_TX,
    sins.RULE,
    DATA_MISSING,
)

# What ``evaluate_orders`` can emit on the order hooks (catalog §3b, §3c).
ORDER_RULES: tuple[str, ...] = (spine_mri.RULE, spine_treatment.DEXAMETHASONE)


class _Missing:
    """Collects the facts that left a branch undecided, with the step that needed them."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.trace: list[Text] = []

    def add(self, names: tuple[str, ...] | list[str], step: Text) -> None:
        if names:
            self.names += [n for n in names if n not in self.names]
            if step not in self.trace:
                self.trace.append(step)

    def finding(self) -> list[Finding]:
        return [data_missing(self.names, *self.trace)] if self.names else []


def _tidy(findings: list[Finding], facts: Facts) -> list[Finding]:
    """Facts used are the recorded ones: an unknown fact on a card belongs in ``facts_missing`` (where the
    rules put it when it mattered), not in the table of facts used."""
    return [
        f if f.rule_id == DATA_MISSING else
        replace(f, facts_used=tuple(n for n in f.facts_used if facts[n].status is not FactStatus.UNKNOWN))
        for f in findings
    ]


def evaluate(facts: Facts, ctx: EvalContext) -> list[Finding]:
    return _tidy(_evaluate(facts, ctx), facts)


def _evaluate(facts: Facts, ctx: EvalContext) -> list[Finding]:
    status = spinal_status(facts)
    if status is None:
        if has_spine_presentation(facts) and not no_cancer_recorded(facts):
            return [data_missing(["spinal_metastases"],
                                 tr("Er zijn klachten van de wervelkolom vastgelegd, maar of er wervelmetastasen "
                                    "zijn vastgesteld of vermoed, is onbekend",
                                    "Spine complaints are recorded, but whether spinal "
                                    "metastases are established or suspected is unknown"))]
        return []
    if status == "none":
        return []

    confirmed = status == "confirmed"
    sym = symptoms(facts)
    compression = mescc(facts)
    score = sins.score(facts)
    surv = survival(facts)
    wish = treatment_wish(facts)
    missing = _Missing()
    findings: list[Finding] = list(sins.evaluate(facts, ctx))

    # 3a, red-flag box (established spinal metastases only)
    flag = spine_routing.red_flag(facts, sym, compression, score)
    if confirmed:
        if flag.present:
            findings.append(spine_routing.red_flag_finding(flag, sym))
        missing.add(flag.missing, flag.trace[0])

    # 3a, A1: very short life expectancy or no treatment wish
    life = spine_routing.short_life(wish, surv)
    if life.finding is not None:
        findings.append(life.finding)
    if not wish.present:
        return findings + missing.finding()
    if confirmed and life.applies is None:
        missing.add(life.missing, life.trace[0])

    # 3b: whole-spine MRI (suspected or established)
    mri = spine_mri.plan(facts, ctx.now)
    mri_card = spine_mri.finding(mri, facts, ctx)
    if mri_card is not None:
        findings.append(mri_card)
        missing.add([n for n in mri.missing if n != "adequate_spine_imaging"],
                     tr("M: het moment van ontstaan van een klacht bepaalt de MRI-rij",
                        "M: the onset of a complaint selects the MRI row"))

    # 3c: corticosteroids and biopsy (suspected or established)
    dexa = spine_treatment.dexamethasone(facts, sym, compression)
    if dexa is not None:
        findings.append(dexa)
    biopsy, biopsy_missing = spine_treatment.biopsy(facts, compression, ctx)
    if biopsy is not None:
        findings.append(biopsy)
    missing.add(biopsy_missing, tr("B1: of de primaire tumor bekend is, bepaalt biopt en corticosteroïden",
                                   "B1: whether the primary tumour is known decides biopsy and corticosteroids"))

    if not confirmed:
        return findings + missing.finding()

    # 3a, A3–A5: routing — only when A1 was answered "no"
    routing_open = life.applies is False
    state = spine_routing.instability(facts, sym, score)
    if routing_open:
        if state.possible:
            findings.append(spine_routing.spine_surgeon_finding(state, score, wish))
        missing.add(state.missing, state.trace[0])
        if sym.pain and flag.present is False:
            findings.append(spine_routing.pain_finding(sym, flag, wish))
        if not sym.symptomatic and flag.present is False:
            risk = facts.value("sre_risk")
            if risk is None:
                missing.add(["sre_risk"], tr("A5: asymptomatisch — of er een risico op een skeletgerelateerde "
                                             "complicatie (SRE) is, bepaalt de keuze tussen radiotherapeut en "
                                             "monitoring",
                                             "A5: asymptomatic — whether there is a risk of a skeletal-related event "
                                             "decides between radiation oncologist and monitoring"))
            elif risk or state.possible is False:  # "no local treatment needed" only when A3 answered no
                findings.append(spine_routing.asymptomatic_finding(facts, sym, flag, state, wish))
    findings.append(spine_routing.team_finding(sym))

    # 3d: treatment choice
    quiet = tri_and(tri_not(flag.present), tri_not(state.possible), tri_not(facts.value("sre_risk")))
    decision = spine_treatment.decide(facts, sym, surv, quiet)
    missing.add(decision.missing, decision.trace[-1] if decision.trace else tr("D: keuze behandeling",
                                                                               "D: treatment choice"))
    if decision.no_local is not None:
        findings.append(spine_treatment.no_local_finding(decision, sym, extra_used=flag.used + state.used))
    if routing_open and decision.local is not False:
        operation = spine_treatment.surgery(facts, sym, surv, score, wish)
        if operation.finding is not None:
            findings.append(operation.finding)
        missing.add(operation.missing, tr("D5: criteria voor chirurgie", "D5: surgery criteria"))
    if decision.rt:
        findings.append(spine_treatment.rt_schedule(facts, sym, surv, wish))

    # 3c: maximum time to start therapy
    if decision.local is not False:
        tl = spine_treatment.timeline(facts, sym, compression, ctx, wish)
        if tl.finding is not None:
            findings.append(tl.finding)
        missing.add(tl.missing, tr("L: de MESCC-status en het moment van ontstaan bepalen de maximale tijd tot inzet "
                                   "van therapie",
                                   "L: the MESCC status and its onset select the maximum time to therapy"))

    return findings + missing.finding()


def evaluate_orders(facts: Facts, ctx: EvalContext) -> list[Finding]:
    """Order hooks: draft whole-spine MRIs slower than the deadline, plus the corticosteroid advice.

    A draft fast enough gets no card. ``SM-DEXAMETHASONE`` is given alongside any draft spine
    MRI when it applies ("decide on corticosteroids before imaging").
    """
    drafts = ctx.orders("mri-spine")
    if not drafts:
        return []
    if spinal_status(facts) not in ("confirmed", "suspected") or not treatment_wish(facts).present:
        return []
    mri = spine_mri.plan(facts, ctx.now)
    findings: list[Finding] = []
    for draft in drafts:
        card = spine_mri.order_finding(mri, draft, ctx)
        if card is not None:
            findings.append(card)  # one card per rule: the first slow draft
            break
    dexa = spine_treatment.dexamethasone(facts, symptoms(facts), mescc(facts))
    if dexa is not None:
        findings.append(dexa)
    return _tidy(findings, facts)
