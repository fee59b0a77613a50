"""Leptomeningeal metastases (LM) — catalog §4, from seed 002 (lecture slides, LM part).

The slides walk from suspicion to treatment; the steps in this module (and in
``Finding.trace``) follow them:

- **D0 diagnosis** — LM is *confirmed* when a confirmed LM condition is recorded or a CSF
  cytology was positive (cytology is "nog steeds gouden standaard").
- **S1 known solid cancer?** — LM of solid tumours (breast ~10 %, lung ~10 %, melanoma
  ~5 % raise the prior; seed 002 "incidentie LM solide tumoren").
- **S2 LM-suggestive symptoms?** — the "top acht" symptoms (headache, confusion, ataxia,
  cranial-nerve deficit II–VIII, radicular pain/deficit, nausea/vomiting, seizures,
  meningeal irritation), often multifocal (cerebral, cranial nerves, spinal).
- **S3 no LM diagnosis yet** → ``LM-SUSPECT``: MRI brain **and** spine with gadolinium plus
  CSF examination, with the differential diagnosis.
- **S4 CSF cytology so far** → exactly one, negative → ``LM-REPEAT-CSF`` (malignant cells
  in 55 % at the first, 80–90 % by the second puncture).
- **T1 confirmed LM** → ``LM-TREATMENT`` (systemic therapy often the only option when the
  condition is reasonable; targetable drivers; intrathecal therapy insufficient evidence;
  poor prognosis).
- **T2 symptoms for symptomatic therapy** → ``LM-SYMPTOMS`` (meningeal irritation,
  headache, vomiting, confusion).

Three-valued throughout: an unknown deciding fact gives ``DATA-MISSING``, never silence
that could be read as "no LM".
"""

from __future__ import annotations

from typing import Any

from cds_service.facts.model import Facts
from cds_service.pathways.common import data_missing, no_cancer_recorded
from cds_service.pathways.common import value_nl
from cds_service.pathways.model import ActionSpec, EvalContext, Finding, SuggestionSpec, Text, tr

SUSPECT = "LM-SUSPECT"
REPEAT_CSF = "LM-REPEAT-CSF"
TREATMENT = "LM-TREATMENT"
SYMPTOMS = "LM-SYMPTOMS"
RULES = (SUSPECT, REPEAT_CSF, TREATMENT, SYMPTOMS, "DATA-MISSING")

SOLID_PRIMARIES = frozenset({"nsclc", "lung", "breast", "melanoma", "renal", "colorectal", "unknown"})
HIGH_PRIOR = frozenset({"breast", "nsclc", "lung", "melanoma"})  # seed 002: ~10 %, ~10 %, ~5 %

PRIMARY_LABELS: dict[str, tuple[str, str]] = {  # (nl, en)
    "nsclc": ("niet-kleincellig longcarcinoom", "non-small cell lung cancer"),
    "lung": ("longcarcinoom", "lung cancer"),
    "breast": ("mammacarcinoom", "breast cancer"),
    "melanoma": ("melanoom", "melanoma"),
    "renal": ("niercelcarcinoom", "renal cell carcinoma"),
    "colorectal": ("colorectaal carcinoom", "colorectal cancer"),
    "other": ("solide tumor", "solid tumour"),
    "unknown": ("onbekende primaire tumor", "unknown primary tumour"),
}

SYMPTOM_LABELS: dict[str, tuple[str, str]] = {  # LOCAL code -> (nl, en), in the seed's order
    "headache": ("hoofdpijn", "headache"),
    "confusion": ("verwardheid", "confusion"),
    "ataxia": ("ataxie", "ataxia"),
    "cranial-nerve-deficit": ("hersenzenuwuitval", "cranial-nerve deficit"),
    "radicular-pain": ("radiculaire pijn", "radicular pain"),
    "radicular-deficit": ("radiculaire uitval", "radicular deficit"),
    "nausea-vomiting": ("misselijkheid/braken", "nausea/vomiting"),
    "seizures": ("epileptische aanvallen", "seizures"),
    "meningeal-irritation": ("meningeale prikkeling", "meningeal irritation"),
    "neurological-deficit": ("neurologische uitval", "neurological deficit"),
}

# Seed 002 "symptomatologie LM": cerebral, cranial nerves, spinal — more than one level = multifocal.
LEVELS: dict[str, tuple[tuple[str, str], frozenset[str]]] = {
    "cerebral": (("cerebraal", "cerebral"),
                 frozenset({"headache", "confusion", "ataxia", "nausea-vomiting", "seizures", "meningeal-irritation"})),
    "cranial": (("hersenzenuwen", "cranial nerves"), frozenset({"cranial-nerve-deficit"})),
    "spinal": (("spinaal", "spinal"), frozenset({"radicular-pain", "radicular-deficit"})),
}

# Symptomatic therapy (seed 002 "symptomatische therapie"): line -> symptoms it addresses.
SYMPTOM_LINES: dict[str, frozenset[str]] = {
    "meningeal-irritation": frozenset({"meningeal-irritation"}),
    "headache-vomiting": frozenset({"headache", "nausea-vomiting"}),
    "confusion": frozenset({"confusion"}),
}
SYMPTOM_CARD_SYMPTOMS = frozenset().union(*SYMPTOM_LINES.values())
SYMPTOM_ADVICE_NL = {  # the advice line, as a Dutch trace names it
    "meningeal-irritation": "meningeale prikkeling",
    "headache-vomiting": "hoofdpijn en braken",
    "confusion": "verwardheid",
}

CSF_RESULT_NL = {"positive": "positief", "negative": "negatief", "inconclusive": "niet conclusief"}

# Notes on the draft orders the suggestions create (bilingual: the order outlives the card's language).
MRI_NOTE = "Verdenking leptomeningeale metastasen / suspected leptomeningeal metastases"
CSF_NOTE = "Cytologie, celgetal, glucose, eiwit, LDH / cytology, cell count, glucose, protein, LDH"


def _labels(codes: Any, table: dict[str, tuple[str, str]]) -> dict[str, str]:
    ordered = [c for c in table if c in set(codes)] + sorted(c for c in codes if c not in table)
    return {
        "nl": ", ".join(table.get(c, (c, c))[0] for c in ordered),
        "en": ", ".join(table.get(c, (c, c))[1] for c in ordered),
    }


def _primary_nl(primary: str) -> str:
    """A recorded primary-tumour code as a Dutch trace line names it."""
    return PRIMARY_LABELS.get(primary, (primary, primary))[0]


def _primary_params(primary: str | None) -> dict[str, str]:
    nl, en = PRIMARY_LABELS.get(primary or "", ("primaire tumor onbekend", "primary tumour not recorded"))
    return {"primary_nl": nl, "primary_en": en}


def _solid_cancer(facts: Facts) -> bool | None:
    """S1: a known solid cancer? (True / False / None = unknown)

    A recorded primary of a solid category (or ``solid_cancer`` true) is yes; a recorded
    haematological primary is no. With no primary tumour on record at all the answer is
    unknown, whatever ``solid_cancer`` says: a cancer that was not recorded is not "no cancer".
    """
    primary = facts.value("primary_tumour")
    solid = facts.value("solid_cancer")
    if primary in SOLID_PRIMARIES or solid is True:
        return True
    if primary is None:
        return None
    if primary == "haematological":
        return False
    return None if solid is None else bool(solid)


def _csf_results(facts: Facts) -> tuple[str, ...] | None:
    results = facts.value("csf_cytology_results")
    return None if results is None else tuple(results)


def _confirmed(facts: Facts) -> tuple[bool | None, Text]:
    """D0: is LM confirmed? (True / False / None = unknown) and a trace line."""
    status = facts.value("leptomeningeal_metastases")
    csf = _csf_results(facts) or ()
    if status == "confirmed":
        return True, tr("D0: leptomeningeale metastasen vastgelegd als bevestigd",
                        "D0: leptomeningeal metastases recorded as confirmed")
    if "positive" in csf:
        return True, tr("D0: liquorcytologie positief voor maligne cellen → LM bevestigd (gouden standaard)",
                        "D0: CSF cytology positive for malignant cells → LM confirmed (gold standard)")
    if status == "suspected":
        return False, tr("D0: LM vastgelegd als verdenking, niet bevestigd",
                         "D0: LM recorded as suspected, not confirmed")
    if status == "none":
        return False, tr("D0: geen diagnose LM vastgelegd", "D0: no LM diagnosis recorded")
    return None, tr("D0: status van de diagnose LM onbekend (aandoeningen niet beschikbaar)",
                    "D0: LM diagnosis status unknown (conditions not available)")


# -- confirmed LM ----------------------------------------------------------------------------------


def _treatment(facts: Facts, trace0: Text) -> Finding:
    """T1: LM-TREATMENT — systemic options named after the patient's own drivers."""
    primary = facts.value("primary_tumour")
    positive = sorted({str(g).upper() for g in (facts.value("driver_positive") or ())})
    her2 = facts.value("her2_positive")
    hr = facts.value("hormone_receptor_positive")
    used = [n for n in ("leptomeningeal_metastases", "csf_cytology_results", "primary_tumour") if facts.known(n)]
    notes: list[str] = []
    params: dict[str, Any] = {**_primary_params(primary)}
    trace: list[Text] = [trace0, tr(f"T1: primaire tumor: {_primary_nl(primary) if primary else 'niet vastgelegd'}",
                                    f"T1: primary tumour: {primary or 'not recorded'}")]
    variant = None
    lung = primary in ("nsclc", "lung")

    if facts.known("driver_positive"):
        used.append("driver_positive")
    if positive:
        params["drivers"] = ", ".join(positive)
        trace.append(tr(f"T1: behandelbare driver(s) vastgelegd: {', '.join(positive)}",
                        f"T1: targetable driver(s) recorded: {', '.join(positive)}"))
        if "EGFR" in positive and lung:
            variant = "egfr"
            notes.append("driver-egfr")
        others = [g for g in positive if not (g == "EGFR" and lung)]
        if others:
            params["other_drivers"] = ", ".join(others)
            notes.append("driver-other")
    elif lung:
        if facts.known("driver_positive") or facts.known("driver_negative"):
            notes.append("drivers-negative-lung")
            trace.append(tr("T1: driver-testen vastgelegd, geen positief", "T1: driver tests recorded, none positive"))
        else:
            notes.append("drivers-untested-lung")
            trace.append(tr("T1: geen drivertest vastgelegd voor dit longcarcinoom",
                            "T1: no driver test recorded for this lung cancer"))
    if primary == "breast":
        used.extend(n for n in ("her2_positive", "hormone_receptor_positive") if facts.known(n))
        if her2 is True:
            variant = variant or "her2"
            notes.append("breast-her2")
            trace.append(tr("T1: HER2-positief mammacarcinoom → HER2-gerichte therapie / ADC's",
                            "T1: HER2-positive breast cancer → HER2-directed therapy / ADCs"))
        elif her2 is None:
            notes.append("breast-her2-unknown")
            trace.append(tr("T1: HER2-status niet vastgelegd", "T1: HER2 status not recorded"))
        if hr is True:
            notes.append("breast-hr")
        notes.append("breast-chemo")

    condition = facts.value("patient_condition")
    kps = facts["kps"]
    if facts.known("kps"):
        used.append("kps")
    if facts.known("patient_condition"):
        used.append("patient_condition")
    if condition == "poor" or (kps.known and kps.value is not None and kps.value < 50):
        notes.append("condition-poor")
        trace.append(tr("T1: slechte klinische conditie → systemische therapie minder kansrijk; best supportive care",
                        "T1: clinical condition poor → systemic therapy less likely to help; best supportive care"))
    elif condition is None and not kps.known:
        notes.append("condition-unknown")
        trace.append(tr("T1: klinische conditie (KPS) niet vastgelegd", "T1: clinical condition (KPS) not recorded"))
    else:
        shown_nl = value_nl(condition) if condition else f"KPS {kps.value}"
        trace.append(tr(f"T1: klinische conditie {shown_nl}", f"T1: clinical condition {condition or kps.value}"))

    if facts.value("systemic_therapy_active") is True:
        used.append("systemic_therapy_active")
        drugs = facts["systemic_therapy_active"].attrs.get("drugs")
        params["drugs"] = ", ".join(drugs) if drugs else "?"
        notes.append("on-systemic")
    if facts.value("leptomeningeal_metastases") != "confirmed":
        notes.append("record-diagnosis")
    return Finding(
        rule_id=TREATMENT,
        facts_used=tuple(dict.fromkeys(used)),
        trace=tuple(trace),
        variant=variant,
        notes=tuple(notes),
        params=params,
    )


def _symptoms(facts: Facts, symptoms: frozenset[str], trace0: Text) -> Finding | None:
    """T2: LM-SYMPTOMS — one advice line per symptom group the patient has."""
    present = symptoms & SYMPTOM_CARD_SYMPTOMS
    if not present:
        return None
    notes: list[str] = []
    shown = _labels(present, SYMPTOM_LABELS)
    params: dict[str, Any] = {"symptoms_nl": shown["nl"], "symptoms_en": shown["en"]}
    trace: list[Text] = [trace0]
    for line, addresses in SYMPTOM_LINES.items():
        hit = symptoms & addresses
        if hit:
            notes.append(line)
            labels = _labels(hit, SYMPTOM_LABELS)
            key = line.replace("-", "_")
            params[f"{key}_nl"], params[f"{key}_en"] = labels["nl"], labels["en"]
            trace.append(tr(f"T2: {labels['nl']} → advies {SYMPTOM_ADVICE_NL[line]}",
                            f"T2: {labels['en']} → {line.replace('-', ' ')} advice"))
    used = ["leptomeningeal_metastases", "lm_symptoms"]
    suggestions: tuple[SuggestionSpec, ...] = ()
    dexa = facts.value("dexamethasone_active")
    if "meningeal-irritation" in present:
        if facts.known("dexamethasone_active"):
            used.append("dexamethasone_active")
        if dexa is True:
            notes.append("dexamethasone-active")
            params["dexa_dose"] = facts["dexamethasone_active"].attrs.get("dose")  # None: "onbekend" on the card
        elif dexa is False:  # unknown (an unidentified medication order …): no one-click start
            suggestions = (
                SuggestionSpec(
                    label_key="start-dexamethasone",
                    actions=(ActionSpec(type="create", resource_kind="dexamethasone-lm"),),
                ),
            )
    return Finding(
        rule_id=SYMPTOMS,
        facts_used=tuple(used),
        trace=tuple(trace),
        notes=tuple(notes),
        params=params,
        suggestions=suggestions,
    )


# -- not (yet) confirmed -----------------------------------------------------------------------------


def _suspect(facts: Facts, symptoms: frozenset[str], recorded_suspicion: bool, trace: list[Text]) -> list[Finding]:
    """S3/S4: LM-SUSPECT, and LM-REPEAT-CSF after exactly one negative cytology."""
    primary = facts.value("primary_tumour")
    csf = _csf_results(facts) or ()
    mri = facts.value("lm_mri_enhancement")
    params: dict[str, Any] = {**_primary_params(primary)}
    notes: list[str] = []
    used = [n for n in ("solid_cancer", "primary_tumour", "lm_symptoms", "leptomeningeal_metastases",
                        "csf_cytology_results") if facts.known(n)]

    if symptoms:
        labels = _labels(symptoms, SYMPTOM_LABELS)
        params.update(symptoms_nl=labels["nl"], symptoms_en=labels["en"])
        notes.append("symptoms")
    if recorded_suspicion and not symptoms:
        notes.append("recorded-suspicion")
    levels = [key for key, (_, codes) in LEVELS.items() if symptoms & codes]
    if len(levels) > 1:
        params["levels_nl"] = ", ".join(LEVELS[k][0][0] for k in levels)
        params["levels_en"] = ", ".join(LEVELS[k][0][1] for k in levels)
        notes.append("multifocal")
        trace.append(tr(f"S2: multifocale symptomen ({params['levels_nl']})",
                        f"S2: multifocal symptoms ({params['levels_en']})"))
    variant = "high-prior" if primary in HIGH_PRIOR else None
    if variant:
        notes.append("high-prior")

    want_mri = mri is None
    if mri is not None:
        used.append("lm_mri_enhancement")
        notes.append("mri-enhancement" if mri else "mri-no-enhancement")
        trace.append(tr(f"S3: leptomeningeale aankleuring op MRI: {'ja' if mri else 'nee'}",
                        f"S3: leptomeningeal enhancement on MRI: {'yes' if mri else 'no'}"))
    conclusive = [r for r in csf if r != "inconclusive"]  # an inconclusive result is no result
    negatives = conclusive.count("negative")
    want_csf = not conclusive
    if csf:
        trace.append(tr(f"S4: liquorcytologie tot nu toe: {', '.join(CSF_RESULT_NL.get(r, r) for r in csf)}",
                        f"S4: CSF cytology so far: {', '.join(csf)}"))
    if "inconclusive" in csf:
        notes.append("csf-inconclusive")
    if negatives >= 2:
        params["negatives"] = negatives
        notes.append("csf-negative-repeated")
    notes.append("differential")

    actions = []
    if want_mri:
        actions.append(ActionSpec(type="create", resource_kind="mri-brain-spine-gadolinium",
                                  params={"note": MRI_NOTE}))
    if want_csf:
        actions.append(ActionSpec(type="create", resource_kind="csf-examination", params={"note": CSF_NOTE}))
    label = {2: "order-workup", 1: "order-mri" if want_mri else "order-csf"}.get(len(actions))
    suggestions = (SuggestionSpec(label_key=label, actions=tuple(actions)),) if label else ()
    trace.append(tr("S3: nog geen diagnose LM → MRI hersenen en gehele wervelkolom met gadolinium en liquoronderzoek",
                    "S3: no LM diagnosis yet → MRI brain and whole spine with gadolinium and CSF examination"))
    findings = [
        Finding(
            rule_id=SUSPECT,
            facts_used=tuple(dict.fromkeys(used)),
            trace=tuple(trace),
            variant=variant,
            notes=tuple(notes),
            params=params,
            suggestions=suggestions,
        )
    ]
    # Catalog §4: "exactly one CSF cytology has been done, negative"; the mapping counts every result
    # (an inconclusive one too), so an inconclusive plus a negative is two punctures, not one.
    if tuple(csf) == ("negative",):
        findings.append(
            Finding(
                rule_id=REPEAT_CSF,
                facts_used=tuple(n for n in ("csf_cytology_results", "lm_symptoms", "leptomeningeal_metastases")
                                 if facts.known(n)),
                trace=(*trace[:-1], tr("S4: precies één liquorcytologie, negatief, en de verdenking "
                                       "blijft bestaan → herhaal de lumbaalpunctie",
                                       "S4: exactly one CSF cytology, negative, and the suspicion "
                                       "persists → repeat the lumbar puncture")),
                params=params,
                suggestions=(
                    SuggestionSpec(
                        label_key="repeat-lp",
                        actions=(ActionSpec(type="create", resource_kind="csf-examination",
                                            params={"note": "Herhaalde lumbaalpunctie / repeat lumbar puncture"}),),
                    ),
                ),
            )
        )
    return findings


def evaluate(facts: Facts, ctx: EvalContext) -> list[Finding]:
    """The leptomeningeal-metastases pathway for one patient (patient-view)."""
    symptoms_known = facts.known("lm_symptoms")
    symptoms = frozenset(facts.value("lm_symptoms") or ())
    confirmed, trace0 = _confirmed(facts)

    if confirmed:
        if _solid_cancer(facts) is False:
            return []  # LM of a haematological malignancy: outside this (solid-tumour) guideline
        findings: list[Finding] = [_treatment(facts, trace0)]
        if not symptoms_known:
            findings.append(data_missing(["lm_symptoms"],
                                         tr("T2: LM bevestigd; symptomen voor symptomatische behandeling onbekend",
                                            "T2: LM confirmed; symptoms for symptomatic therapy unknown")))
        else:
            symptom_finding = _symptoms(facts, symptoms, trace0)
            if symptom_finding is not None:
                findings.append(symptom_finding)
        return findings

    solid = _solid_cancer(facts)
    recorded_suspicion = facts.value("leptomeningeal_metastases") == "suspected"
    if solid is False:
        return []  # no solid cancer: LM of solid tumours does not apply
    if not recorded_suspicion and no_cancer_recorded(facts):
        return []  # catalog *Population*: no cancer in the Condition list ⇒ outside this service's population
    suggestive: bool | None = True if (symptoms or recorded_suspicion) else (False if symptoms_known else None)
    if suggestive is False:
        return []  # known solid cancer (or not) without LM-suggestive symptoms: nothing to suspect
    missing: list[str] = []
    if solid is None:
        missing += ["solid_cancer", "primary_tumour"]
    if suggestive is None:
        missing.append("lm_symptoms")
    if confirmed is None:
        missing.append("leptomeningeal_metastases")
    if missing:
        if solid is None and suggestive is None:
            return []  # neither cancer nor symptoms on record: the LM pathway has nothing to start from
        return [data_missing(missing, trace0,
                             tr("S1–S3: voor een verdenking op LM zijn een bekende solide maligniteit, de symptomen "
                                "en de status van de diagnose LM nodig",
                                "S1–S3: LM suspicion needs a known solid cancer, the symptoms and the LM diagnosis "
                                "status"),
                             used=[n for n in ("lm_symptoms", "primary_tumour") if facts.known(n)])]
    primary = facts.value("primary_tumour")
    high_prior = primary in HIGH_PRIOR
    trace: list[Text] = [
        trace0,
        tr(f"S1: bekende solide maligniteit ({_primary_nl(primary) if primary else 'solide tumor'})"
           + (" — mammacarcinoom, longcarcinoom en melanoom verhogen de voorafkans op LM" if high_prior else ""),
           f"S1: known solid cancer ({primary or 'solid'})"
           + (" — breast, lung and melanoma raise the prior probability of LM" if high_prior else "")),
    ]
    if symptoms:
        shown = _labels(symptoms, SYMPTOM_LABELS)
        trace.append(tr(f"S2: symptomen passend bij LM: {shown['nl']}", f"S2: LM-suggestive symptoms: {shown['en']}"))
    else:
        trace.append(tr("S2: verdenking op LM vastgelegd (geen symptomen vastgelegd)",
                        "S2: LM suspicion recorded (no symptoms recorded)"))
    return _suspect(facts, symptoms, recorded_suspicion, trace)
