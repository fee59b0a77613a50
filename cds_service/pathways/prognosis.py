"""PROG-GPA: the disease-specific Graded Prognostic Assessment (Sperduto) — catalog §5.

Runs inside the ``brain-metastases`` service and applies only when the patient has
(confirmed) brain metastases. Seed 002 ("Behandeling ~ Prognose") points to the GPA
and brainmetgpa.com; this module implements the updated, diagnosis-specific tables:

========================  ==========================================================
variant                   source
========================  ==========================================================
Lung-molGPA               Sperduto PW et al. Estimating survival in patients with lung
(NSCLC adeno / non-adeno) cancer and brain metastases: an update of the Graded
                          Prognostic Assessment for lung cancer using molecular markers
                          (Lung-molGPA). JAMA Oncol. 2017;3(6):827-831.
                          doi:10.1001/jamaoncol.2016.3834
Melanoma-molGPA           Sperduto PW et al. Estimating survival in melanoma patients
                          with brain metastases: an update of the Graded Prognostic
                          Assessment for melanoma using molecular markers
                          (Melanoma-molGPA). Int J Radiat Oncol Biol Phys. 2017.
                          doi:10.1016/j.ijrobp.2017.06.2454
Breast GPA (updated)      Sperduto PW et al. Beyond an updated Graded Prognostic
                          Assessment (Breast GPA): a prognostic index and trends in
                          treatment and survival in breast cancer brain metastases from
                          1985 to today. Int J Radiat Oncol Biol Phys. 2020.
Renal GPA (updated)       Sperduto PW et al. Estimating survival for renal cell
                          carcinoma patients with brain metastases: an update of the
                          Renal Graded Prognostic Assessment tool. Neuro-Oncology 2018.
========================  ==========================================================

All four are summarised in Sperduto PW et al., J Clin Oncol 2020;38(32):3773-3784
(doi:10.1200/JCO.20.01255), which points to the authors' calculator brainmetgpa.com.
Point values, cut-offs and band medians below are those of the brainmetgpa.com
calculator data (source of the site: github.com/jbr3zy/BrainMetGPA, ``lib/data.js``
at commit ab6837f), cross-checked with the published abstracts (lung adenocarcinoma
3.5–4.0 "nearly 4 years" = 46.8 months; JCO 2020 survival ranges NSCLC 7–47,
melanoma 5–34, renal 4–35, breast up to 36 months). Where the calculator writes a
band as "≤ 70 / 80 / 90–100" the rows below use half-open intervals on the KPS scale
([−∞, 80), [80, 90), [90, ∞)), which is the same for the KPS steps of 10.

Not implemented (not verified from a source): the 2022 NSCLC update with PD-L1
(Sperduto et al., IJROBP 2022), the GI-GPA (colorectal) and the SCLC GPA. For
those primaries this rule stays silent — no card, no DATA-MISSING.

Biomarkers follow the tables' own rule "negative or unknown = 0 points"; the card
names the markers that were not tested. A KPS derived from ECOG is only a band
(≥ 70 / < 70): it is used when every KPS in that band scores the same points in the
table at hand (e.g. "< 70" always scores 0), otherwise KPS counts as unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable

from cds_service.facts.model import Facts
from cds_service.pathways.common import data_missing, primary_tumour_nl
from cds_service.pathways.model import EvalContext, Finding, LocalizedText, tr

RULE = "PROG-GPA"
RULES = (RULE,)

# KPS values a derived ECOG band stands for (KPS is scored in steps of 10).
KPS_BANDS: dict[str, tuple[int, ...]] = {
    ">=70": (70, 80, 90, 100),
    "<70": (0, 10, 20, 30, 40, 50, 60),
}


@dataclass(frozen=True)
class Row:
    """One line of a GPA factor: ``points`` for values in ``[low, high)`` (None = open)."""

    low: float | None
    high: float | None
    points: float
    label: str  # as the published table writes it

    def matches(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value < self.high)


def _points(rows: tuple[Row, ...], value: float) -> Row | None:
    return next((r for r in rows if r.matches(value)), None)


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    median_months: float

    @property
    def label(self) -> str:
        return f"{self.low:.1f}-{self.high:.1f}"


@dataclass(frozen=True)
class GpaTable:
    """One published GPA worksheet."""

    key: str  # finding variant, e.g. "lung-adenocarcinoma"
    name: str  # "Lung-molGPA (adenocarcinoma)"
    citation: str
    kps: tuple[Row, ...]
    count: tuple[Row, ...]
    ecm_absent: float  # points when extracranial metastases are absent (present = 0)
    bands: tuple[Band, ...]
    age: tuple[Row, ...] | None = None
    hemoglobin: tuple[Row, ...] | None = None
    marker: str | None = None  # "egfr-alk" | "braf" | "breast-subtype"


_LUNG_CITATION = "Sperduto et al., JAMA Oncol 2017;3(6):827-831 (Lung-molGPA)"
_AGE_70 = (Row(None, 70, 0.5, "< 70"), Row(70, None, 0.0, "≥ 70"))
_KPS_LUNG = (Row(None, 80, 0.0, "≤ 70"), Row(80, 90, 0.5, "80"), Row(90, None, 1.0, "90–100"))
_COUNT_1_4 = (Row(1, 5, 0.5, "1–4"), Row(5, None, 0.0, "> 4"))

LUNG_ADENO = GpaTable(
    key="lung-adenocarcinoma",
    name="Lung-molGPA (NSCLC, adenocarcinoma)",
    citation=_LUNG_CITATION,
    age=_AGE_70,
    kps=_KPS_LUNG,
    count=_COUNT_1_4,
    ecm_absent=1.0,
    marker="egfr-alk",  # EGFR or ALK positive = 1.0; both negative/unknown = 0
    bands=(Band(0.0, 1.0, 6.9), Band(1.5, 2.0, 13.7), Band(2.5, 3.0, 26.5), Band(3.5, 4.0, 46.8)),
)

LUNG_NON_ADENO = GpaTable(
    key="lung-non-adenocarcinoma",
    name="Lung-molGPA (NSCLC, non-adenocarcinoma)",
    citation=_LUNG_CITATION,
    age=_AGE_70,
    kps=_KPS_LUNG,
    count=_COUNT_1_4,
    ecm_absent=1.0,
    bands=(Band(0.0, 1.0, 5.3), Band(1.5, 2.0, 9.8), Band(2.5, 3.0, 12.8)),  # maximum score 3.0
)

MELANOMA = GpaTable(
    key="melanoma",
    name="Melanoma-molGPA",
    citation="Sperduto et al., Int J Radiat Oncol Biol Phys 2017 (Melanoma-molGPA)",
    age=_AGE_70,
    kps=_KPS_LUNG,  # brainmetgpa.com: ≤ 70 / 80 / 90–100
    count=(Row(1, 2, 1.0, "1"), Row(2, 5, 0.5, "2–4"), Row(5, None, 0.0, "> 4")),
    ecm_absent=1.0,
    marker="braf",  # BRAF positive = 0.5; negative/unknown = 0
    bands=(Band(0.0, 1.0, 4.9), Band(1.5, 2.0, 8.3), Band(2.5, 3.0, 15.8), Band(3.5, 4.0, 34.1)),
)

BREAST = GpaTable(
    key="breast",
    name="Breast GPA (updated 2020)",
    citation="Sperduto et al., Int J Radiat Oncol Biol Phys 2020 (updated Breast GPA)",
    age=(Row(None, 60, 0.5, "< 60"), Row(60, None, 0.0, "≥ 60")),
    kps=(Row(None, 70, 0.0, "≤ 60"), Row(70, 90, 0.5, "70–80"), Row(90, None, 1.0, "90–100")),
    count=(Row(1, 2, 0.5, "1"), Row(2, None, 0.0, "> 1")),
    ecm_absent=0.5,
    marker="breast-subtype",
    bands=(Band(0.0, 1.0, 6.0), Band(1.5, 2.0, 12.9), Band(2.5, 3.0, 23.5), Band(3.5, 4.0, 36.3)),
)

RENAL = GpaTable(
    key="renal",
    name="Renal GPA (updated 2018)",
    citation="Sperduto et al., Neuro-Oncology 2018 (updated Renal GPA)",
    kps=(Row(None, 80, 0.0, "< 80"), Row(80, 90, 1.0, "80"), Row(90, None, 2.0, "90–100")),
    count=_COUNT_1_4,
    ecm_absent=0.5,
    # brainmetgpa.com: ≤ 11.1 / 11.2–12.5 / ≥ 12.6 g/dL. The table works in steps of 0.1 g/dL, so the
    # value is first rounded half-up to 0.1 g/dL (a converted 7.0 mmol/L = 11.28 g/dL → 11.3 → 0.5).
    hemoglobin=(Row(None, 11.2, 0.0, "≤ 11.1 g/dL"), Row(11.2, 12.6, 0.5, "11.2–12.5 g/dL"),
                Row(12.6, None, 1.0, "≥ 12.6 g/dL")),
    bands=(Band(0.0, 1.0, 4.0), Band(1.5, 2.0, 12.0), Band(2.5, 3.0, 17.0), Band(3.5, 4.0, 35.0)),
)

TABLES: dict[str, GpaTable] = {t.key: t for t in (LUNG_ADENO, LUNG_NON_ADENO, MELANOMA, BREAST, RENAL)}

# Breast subtype points (updated Breast GPA): (hormone receptor positive, HER2 positive) -> points.
BREAST_SUBTYPES: dict[tuple[bool, bool], tuple[str, float]] = {
    (False, False): ("HR−/HER2− (basal)", 0.0),
    (True, False): ("HR+/HER2− (luminal A)", 0.5),
    (False, True): ("HR−/HER2+ (HER2)", 1.5),
    (True, True): ("HR+/HER2+ (luminal B)", 1.5),
}


@dataclass
class Scored:
    """Points per factor, the facts that were missing, the notes and params for the card."""

    points: dict[str, float]
    missing: list[str]
    used: list[str]
    notes: list[str]
    params: dict[str, Any]
    trace: list[LocalizedText]


def _nl_decimals(text: str) -> str:
    """Decimal commas for a Dutch trace line (``0.5`` → ``0,5``)."""
    return re.sub(r"(\d)\.(\d)", r"\1,\2", text)


# Fact names in a Dutch "needs" line (the English line names the facts as the catalogue does).
FACT_WORDS_NL = {
    "primary_tumour": "primaire tumor",
    "lung_histology": "histologie longcarcinoom",
    "age_years": "leeftijd",
    "kps": "KPS",
    "extracranial_metastases": "extracraniële metastasen",
    "brain_metastasis_count": "aantal hersenmetastasen",
    "hemoglobin_g_dl": "hemoglobine",
    "her2_positive": "HER2-status",
    "hormone_receptor_positive": "hormoonreceptorstatus",
}


def select_table(facts: Facts) -> tuple[GpaTable | None, list[str], LocalizedText]:
    """G1: which worksheet applies. Returns (table, missing facts, trace line)."""
    primary = facts.value("primary_tumour")
    histology = facts.value("lung_histology")
    if primary is None:
        return None, ["primary_tumour"], tr("G1: primaire tumor niet vastgelegd → GPA-variant onbekend",
                                            "G1: primary tumour not recorded → GPA variant unknown")
    if primary in ("nsclc", "lung"):
        if histology == "adenocarcinoma":
            return LUNG_ADENO, [], tr("G1: longcarcinoom, adenocarcinoom → Lung-molGPA (adenocarcinoma)",
                                      "G1: lung cancer, adenocarcinoma → Lung-molGPA (adenocarcinoma)")
        if histology == "non-adenocarcinoma":
            return LUNG_NON_ADENO, [], tr("G1: NSCLC, niet-adenocarcinoom → Lung-molGPA (non-adenocarcinoma)",
                                          "G1: NSCLC, non-adenocarcinoma → Lung-molGPA (non-adenocarcinoma)")
        return None, ["lung_histology"], tr(
            "G1: longcarcinoom zonder vastgelegde histologie → adenocarcinoom en niet-adenocarcinoom hebben "
            "verschillende Lung-molGPA-tabellen",
            "G1: lung cancer without recorded histology → adenocarcinoma and non-adenocarcinoma "
            "have different Lung-molGPA tables"
        )
    table = {"breast": BREAST, "melanoma": MELANOMA, "renal": RENAL}.get(primary)
    if table is None:
        return None, [], tr(f"G1: primaire tumor {primary_tumour_nl(primary)}: geen geverifieerde GPA-tabel "
                            "geïmplementeerd",
                            f"G1: primary tumour {primary}: no verified GPA table implemented")
    return table, [], tr(f"G1: primaire tumor {primary_tumour_nl(primary)} → {table.name}",
                         f"G1: primary tumour {primary} → {table.name}")


def _kps_points(facts: Facts, table: GpaTable, s: Scored) -> None:
    fact = facts["kps"]
    if not fact.known or fact.value is None:
        s.missing.append("kps")
        return
    s.used.append("kps")
    if fact.derived_from == "ecog":
        band = str(fact.attrs.get("kps_band") or (">=70" if fact.value >= 70 else "<70"))
        candidates = {_points(table.kps, k) for k in KPS_BANDS.get(band, ())}
        candidates.discard(None)
        pts = {r.points for r in candidates if r is not None}
        shown = "≥ 70" if band == ">=70" else "< 70"
        s.params["kps_band"] = shown
        if len(pts) != 1:
            s.missing.append("kps")
            s.notes.append("kps-derived-too-coarse")
            s.trace.append(tr(f"KPS afgeleid van ECOG is alleen de band {shown}: te grof voor deze tabel → onbekend",
                              f"KPS derived from ECOG is only the band {shown}: too coarse for this table → unknown"))
            return
        row = next(iter(candidates))
        s.points["kps"] = row.points
        s.params.update(kps=f"{shown} (ECOG)", kps_points=row.points)
        s.notes.append("kps-derived-enough")
        s.trace.append(tr(f"KPS afgeleid van ECOG (band {shown}) → elke KPS in die band scoort {row.points}",
                          f"KPS derived from ECOG (band {shown}) → every KPS in that band scores {row.points}"))
        return
    row = _points(table.kps, float(fact.value))
    if row is None:
        s.missing.append("kps")
        return
    s.points["kps"] = row.points
    s.params.update(kps=int(fact.value), kps_points=row.points)
    line = f"KPS {fact.value} ({row.label}) → {row.points}"
    s.trace.append(tr(line, line))


def round_half_up(value: float, step: str = "0.1") -> float:
    return float(Decimal(str(value)).quantize(Decimal(step), rounding=ROUND_HALF_UP))


def _row_factor(facts: Facts, fact_name: str, key: str, rows: tuple[Row, ...] | None, label: LocalizedText,
                s: Scored, cast: Callable[[Any], Any] = float) -> None:
    if rows is None:
        return
    value = facts.value(fact_name)
    if value is not None and cast is float:
        value = round_half_up(float(value))
    row = _points(rows, float(value)) if value is not None else None
    if row is None and value is None:
        row, shown = _row_of_interval(facts, fact_name, rows)
        if row is not None:  # a range (partial birthDate) that lies within one row of the table
            s.used.append(fact_name)
            s.points[key] = row.points
            s.params.update({key: shown, f"{key}_points": row.points})
            s.trace.append(tr(f"{label.get('nl')} {shown} ({row.label}) → {row.points}",
                              f"{label.get('en')} {shown} ({row.label}) → {row.points}"))
            return
    if row is None:
        s.missing.append(fact_name)
        return
    s.used.append(fact_name)
    s.points[key] = row.points
    s.params.update({key: cast(value), f"{key}_points": row.points})
    s.trace.append(tr(f"{label.get('nl')} {cast(value)} ({row.label}) → {row.points}",
                      f"{label.get('en')} {cast(value)} ({row.label}) → {row.points}"))


def _row_of_interval(facts: Facts, fact_name: str, rows: tuple[Row, ...]) -> tuple[Row | None, str]:
    """The table row when the fact is a closed range (catalog *Values that are bounds*) lying wholly in
    one row: age 75–76 from ``birthDate 1950`` is "≥ 70" either way. Otherwise (None, "")."""
    fact = facts[fact_name]
    interval = fact.attrs.get("interval") if fact.attrs and not fact.known else None
    low, high = getattr(interval, "low", None), getattr(interval, "high", None)
    if low is None or high is None:
        return None, ""
    first, last = _points(rows, float(low)), _points(rows, float(high))
    if first is None or first is not last:
        return None, ""
    return first, f"{low:g}–{high:g}"


def _ecm_points(facts: Facts, table: GpaTable, s: Scored) -> None:
    ecm = facts.value("extracranial_metastases")
    if ecm is None:
        s.missing.append("extracranial_metastases")
        return
    s.used.append("extracranial_metastases")
    pts = 0.0 if ecm else table.ecm_absent
    s.points["ecm"] = pts
    s.params.update(ecm=bool(ecm), ecm_points=pts)
    s.trace.append(tr(f"extracraniële metastasen {'aanwezig' if ecm else 'afwezig'} → {pts}",
                      f"extracranial metastases {'present' if ecm else 'absent'} → {pts}"))


def _gene_status(facts: Facts, genes: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
    """(positive, negative, untested) among ``genes``; a missing driver fact means untested."""
    positive = {str(g).upper() for g in (facts.value("driver_positive") or ())}
    negative = {str(g).upper() for g in (facts.value("driver_negative") or ())}
    pos = [g for g in genes if g in positive]
    neg = [g for g in genes if g in negative and g not in positive]
    untested = [g for g in genes if g not in positive and g not in negative]
    return pos, neg, untested


def _marker_text(pos: list[str], neg: list[str], untested: list[str]) -> str:
    parts = [f"{g}+" for g in pos] + [f"{g}−" for g in neg] + [f"{g} ?" for g in untested]
    return ", ".join(parts)


def _marker_points(facts: Facts, table: GpaTable, s: Scored) -> None:
    if table.marker in ("egfr-alk", "braf"):
        genes = ("EGFR", "ALK") if table.marker == "egfr-alk" else ("BRAF",)
        worth = 1.0 if table.marker == "egfr-alk" else 0.5
        pos, neg, untested = _gene_status(facts, genes)
        for name in ("driver_positive", "driver_negative"):
            if facts.known(name):
                s.used.append(name)
        pts = worth if pos else 0.0
        s.points["marker"] = pts
        s.params.update(marker=_marker_text(pos, neg, untested), marker_points=pts)
        if not pos and untested:
            s.params["untested"] = ", ".join(untested)
            s.notes.append("markers-untested")
        line = f"{'/'.join(genes)}: {_marker_text(pos, neg, untested)} → {pts}"
        s.trace.append(tr(line + (" (negatief of onbekend = 0 volgens de tabel)" if not pos else ""),
                          line + (" (negative or unknown = 0 per the table)" if not pos else "")))
        return
    if table.marker == "breast-subtype":
        hr = facts.value("hormone_receptor_positive")
        her2 = facts.value("her2_positive")
        options = [(h, e) for h in ((hr,) if hr is not None else (True, False))
                   for e in ((her2,) if her2 is not None else (True, False))]
        pts = {BREAST_SUBTYPES[o][1] for o in options}
        if len(pts) != 1:
            if her2 is None:
                s.missing.append("her2_positive")
            if hr is None:
                s.missing.append("hormone_receptor_positive")
            return
        s.used.extend(n for n, v in (("her2_positive", her2), ("hormone_receptor_positive", hr)) if v is not None)
        value = next(iter(pts))
        if len(options) == 1:
            label = BREAST_SUBTYPES[options[0]][0]
        else:  # HER2-positive with unknown hormone receptors: HER2 and luminal B both score 1.5
            label = "HER2+, HR ?"
            s.notes.append("subtype-hr-did-not-matter")
            s.trace.append(tr("hormoonreceptorstatus onbekend, maar HER2+ scoort 1.5 bij beide statussen",
                              "hormone receptor status unknown, but HER2+ scores 1.5 with either status"))
        s.points["subtype"] = value
        dutch = label.replace("luminal", "luminaal").replace("basal", "basaal")  # card wording per language
        s.params.update(subtype=tr(dutch, label), subtype_points=value)
        s.trace.append(tr(f"subtype {label} → {value}", f"subtype {label} → {value}"))


def score(facts: Facts, table: GpaTable) -> Scored:
    """G2: points per factor of ``table``; unknown inputs are collected in ``missing``."""
    s = Scored(points={}, missing=[], used=[], notes=[], params={}, trace=[])
    _row_factor(facts, "age_years", "age", table.age, tr("leeftijd", "age"), s, cast=int)
    _kps_points(facts, table, s)
    _ecm_points(facts, table, s)
    _row_factor(facts, "brain_metastasis_count", "count", table.count,
                tr("aantal hersenmetastasen", "number of brain metastases"), s, cast=int)
    _row_factor(facts, "hemoglobin_g_dl", "hemoglobin", table.hemoglobin, tr("hemoglobine (g/dL)", "hemoglobin (g/dL)"),
                s)
    _marker_points(facts, table, s)
    return s


def _prefixed(prefix: str, line: LocalizedText) -> LocalizedText:
    return LocalizedText({lang: prefix + text for lang, text in line.texts.items()})


def band_for(table: GpaTable, total: float) -> Band:
    for band in table.bands:
        if band.low <= total <= band.high:
            return band
    raise ValueError(f"GPA {total} outside the bands of {table.key}")


def evaluate(facts: Facts, ctx: EvalContext) -> list[Finding]:
    """PROG-GPA for a patient with brain metastases (silent otherwise)."""
    bm = facts["brain_metastases"]
    if bm.value is not True or bm.attrs.get("suspected"):
        return []
    table, missing, g1 = select_table(facts)
    if table is None:
        if not missing:
            return []  # no verified table for this primary: no card and no DATA-MISSING
        common = [n for n in ("kps", "extracranial_metastases", "brain_metastasis_count") if not facts.known(n)]
        return [data_missing(missing + common, _prefixed("PROG-GPA ", g1))]
    s = score(facts, table)
    if s.missing:
        needed = list(dict.fromkeys(s.missing))
        return [data_missing(s.missing, _prefixed("PROG-GPA ", g1),
                             tr(f"PROG-GPA: {table.name} heeft nodig: "
                                + ", ".join(FACT_WORDS_NL.get(n, n) for n in needed),
                                f"PROG-GPA: {table.name} needs " + ", ".join(needed)),
                             *(_prefixed("PROG-GPA: ", t) for t in s.trace if "too coarse" in t.get("en")))]
    total = sum(s.points.values())
    band = band_for(table, total)
    s.params.update(
        variant=table.key,
        score=total,
        score_en=f"{total:.1f}",
        score_nl=f"{total:.1f}".replace(".", ","),
        band_en=f"{band.low:.1f}–{band.high:.1f}",
        band_nl=f"{band.low:.1f}–{band.high:.1f}".replace(".", ","),
        band=band.label,
        band_low=band.low,
        band_high=band.high,
        median_months=band.median_months,
        citation=table.citation,
    )
    trace = (
        g1,
        tr(_nl_decimals("G2: " + "; ".join(t.get("nl") for t in s.trace)),
           "G2: " + "; ".join(t.get("en") for t in s.trace)),
        tr(_nl_decimals(f"G3: GPA {total:.1f} → groep {band.low:.1f}–{band.high:.1f}, mediane overleving "
                        f"{band.median_months:g} maanden") + f" ({table.citation})",
           f"G3: GPA {total:.1f} → group {band.low:.1f}–{band.high:.1f}, median survival "
           f"{band.median_months:g} months ({table.citation})"),
    )
    used = ["primary_tumour"] + (["lung_histology"] if table.key.startswith("lung") else []) + s.used
    return [
        Finding(
            rule_id=RULE,
            facts_used=tuple(dict.fromkeys(used)),
            trace=trace,
            variant=table.key,
            notes=(f"table-{table.key}", *s.notes),
            params=s.params,
        )
    ]
