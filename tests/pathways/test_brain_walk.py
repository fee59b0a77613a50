"""The brain walk's shortcuts (one run per leaf, no fork on a masked atom) change nothing that combine() sees.

Reference: the plain algorithm of the catalog convention, written out here — re-run the section from the
start at every unknown atom, once with it taken as yes and once as no. The walk must give the same cards,
notes, wording and DATA-MISSING on every section, including ones that read a skipped atom later.
"""

from __future__ import annotations

import random

import pytest

from cds_service.facts.model import Facts
from cds_service.pathways import brain_walk as bw
from cds_service.pathways.brain_walk import All, AnyOf, Atom, Leaf, Node, Not, Walk, combine, evaluate, explore, leaves
from cds_service.pathways.model import Finding, text_in, tri_and, tri_not, tri_or


def _reference_evaluate(expr, assumed):
    if isinstance(expr, Atom):
        return expr.value if expr.value is not None else assumed.get(expr.key)
    if isinstance(expr, Not):
        return tri_not(_reference_evaluate(expr.part, assumed))
    values = [_reference_evaluate(p, assumed) for p in expr.parts]
    return tri_and(*values) if isinstance(expr, All) else tri_or(*values)


class _Stop(Exception):
    def __init__(self, atom, step, question):
        super().__init__(atom.key)
        self.atom, self.step, self.question = atom, step, question


class _ReferenceWalk(Walk):
    """Forks at the first unknown atom not yet assumed, whether or not it can change the answer."""

    def decide(self, step, question, expr):
        forked = []
        expr_atoms = list(bw.atoms(expr))
        answer = _reference_evaluate(expr, self.assumed)
        while answer is None:
            atom = next(a for a in expr_atoms if a.value is None and a.key not in self.assumed)
            if self._used >= len(self._choices):
                raise _Stop(atom, step, question)
            self.assumed[atom.key] = self._choices[self._used]
            self._used += 1
            forked.append(atom)
            answer = _reference_evaluate(expr, self.assumed)
        for atom in expr_atoms:
            if atom.value is None:
                self.unknown_facts.extend(f for f in atom.facts if f not in self.unknown_facts)
        branch = ", ".join(f"{a.key}={self.assumed[a.key]}" for a in forked)
        self.trace.append(f"{step}: {question} -> {answer}" + (f" [{branch}]" if branch else ""))
        return answer

    def value(self, atom):
        return atom.value if atom.value is not None else self.assumed.get(atom.key)


def _reference_explore(section, choices=()):
    walk = _ReferenceWalk(choices)
    try:
        findings = tuple(section(walk))
    except _Stop as stop:
        return Node(stop.atom, stop.step, stop.question, _reference_explore(section, choices + (True,)),
                    _reference_explore(section, choices + (False,)))
    return Leaf(findings, tuple(walk.unknown_facts))


def _random_expr(rng: random.Random, atoms: list[Atom], depth: int = 0):
    if depth >= 3 or rng.random() < 0.35:
        atom = rng.choice(atoms)
        return Not(atom) if rng.random() < 0.2 else atom
    kind = rng.choice((All, AnyOf))
    expr = kind(*(_random_expr(rng, atoms, depth + 1) for _ in range(rng.randint(2, 3))))
    return Not(expr) if rng.random() < 0.15 else expr


def _random_section(seed: int):
    """A section of 1–4 questions over a few atoms; which question comes next depends on earlier answers,
    and some runs read an atom's value directly (as the triage does with the KPS)."""
    rng = random.Random(seed)
    atoms = [Atom(f"a{i}", f"a{i}", rng.choice((None, None, True, False)), (f"fact{i % 3}",)) for i in range(5)]
    questions = [_random_expr(rng, atoms) for _ in range(4)]
    peek = rng.choice(atoms + [None])

    def section(walk: Walk):
        out, step = [], 0
        while step < len(questions):
            answer = walk.decide(f"S{step}", f"q{step}?", questions[step])
            out.append(Finding(f"R{step}-{answer}", facts_used=("fact0", "fact1", "fact2")))
            step += 2 if answer else 1
        if peek is not None:
            out.append(Finding(f"PEEK-{walk.value(peek)}", facts_used=(peek.facts[0],)))
        return out

    return section


def _same_outcome(ours, reference) -> None:
    a, b = combine(ours, Facts.from_values()), combine(reference, Facts.from_values())
    assert [(f.rule_id, f.notes, f.facts_used, f.facts_missing) for f in a.findings] == \
        [(f.rule_id, f.notes, f.facts_used, f.facts_missing) for f in b.findings]
    assert a.markers == b.markers
    assert (a.missing is None) == (b.missing is None)
    if a.missing is not None:
        assert a.missing.facts_missing == b.missing.facts_missing
        assert [str(line) for line in a.missing.trace] == [str(line) for line in b.missing.trace]
    assert {leaf.rules for leaf in leaves(ours)} == {leaf.rules for leaf in leaves(reference)}


@pytest.mark.parametrize("seed", range(300))
def test_walk_matches_the_plain_algorithm(seed: int) -> None:
    section = _random_section(seed)
    _same_outcome(explore(section), _reference_explore(section))


def test_masked_atom_is_not_forked_but_still_worded() -> None:
    runs = []
    count_one = Atom("count=1", "1 metastasis", False, ("count",))
    survival = Atom("survival", "survival ≥ 6 months", None, ("survival",))
    dominant = Atom("dominant", "dominant lesion", None, ("dominant",))

    def section(walk: Walk):
        runs.append(1)
        ok = walk.decide("Resection", "single or dominant?", AnyOf(All(count_one, survival), dominant))
        return [Finding("RESECT" if ok else "NONE"), Finding("MDO", facts_used=("dominant",), trace=tuple(walk.trace))]

    tree = explore(section)
    assert len(runs) == 2  # one per answer of the dominant lesion; survival cannot change the answer
    reference = _reference_explore(section)
    assert len(leaves(reference)) == 4
    _same_outcome(tree, reference)
    # the card keeps the wording of the all-yes branch, which names every atom the plain walk forked on
    card = combine(tree, Facts.from_values()).findings[0]
    assert card.rule_id == "MDO"
    assert text_in(card.trace[0], "en") == (
        "Resection: single or dominant? → yes on the branch where 'survival ≥ 6 months' is yes, "
        "'dominant lesion' is yes (unknown: both branches were followed)")


def test_masked_atom_read_later_explores_in_full() -> None:
    count_one = Atom("count=1", "1 metastasis", False, ("count",))
    survival = Atom("survival", "survival ≥ 6 months", None, ("survival",))

    def section(walk: Walk):
        walk.decide("Resection", "single with survival?", All(count_one, survival))  # masked: no fork
        return [Finding("LONG" if walk.decide("Prognosis", "survival?", survival) else "SHORT",
                        facts_used=("survival",))]

    tree = explore(section)
    assert sorted(next(iter(leaf.rules)) for leaf in leaves(tree)) == ["LONG", "SHORT"]
    _same_outcome(tree, _reference_explore(section))
    assert combine(tree, Facts.from_values()).missing.facts_missing == ("survival",)


def test_short_circuit_evaluation_is_kleene() -> None:
    rng = random.Random(7)
    atoms = [Atom(f"a{i}", f"a{i}", v, ()) for i, v in enumerate((None, True, False, None))]
    for _ in range(500):
        expr = _random_expr(rng, atoms)
        for assumed in ({}, {"a0": True}, {"a0": False, "a3": True}, {"a3": False}):
            assert evaluate(expr, assumed) == _reference_evaluate(expr, assumed)


def test_runaway_pathway_still_stops() -> None:
    unknowns = [Atom(f"u{i}", f"u{i}", None, ()) for i in range(bw.MAX_FORKS + 2)]

    def section(walk: Walk):
        return [Finding("R") for atom in unknowns if walk.decide("S", "?", atom)]

    with pytest.raises(RuntimeError, match="too many unknown branches"):
        explore(section)


def test_memoised_once_per_call_and_per_facts_object() -> None:
    calls = []

    @bw.memoised
    def kps_known(facts: Facts, threshold: int) -> bool:
        calls.append(threshold)
        return facts.known("kps")

    first, second = Facts.from_values(kps=80), Facts.from_values()
    kps_known(first, 70), kps_known(first, 70)
    assert len(calls) == 2  # outside a call's scope nothing is kept
    calls.clear()
    with bw.per_call_memo():
        assert [kps_known(first, 70), kps_known(first, 70), kps_known(first, 60)] == [True, True, True]
        assert kps_known(second, 70) is False  # another patient's facts: computed again
    assert calls == [70, 60, 70]
    with bw.per_call_memo():  # a new call starts empty
        kps_known(first, 70)
    assert calls == [70, 60, 70, 70]
