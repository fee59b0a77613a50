"""Following both branches of a flowchart when a fact is unknown (catalog "Conventions").

A flowchart step asks a question built from *atoms* (``KPS ≥ 70``, ``expected
survival > 3 months`` …), each true, false or unknown. :class:`Walk.decide`
answers the question with Kleene logic; when the answer is unknown it *forks*:
:func:`explore` runs the whole pathway again once with the unknown atom taken
as yes and once as no (an atom keeps the same assumed value for the rest of
that run, so later steps stay consistent).

:func:`combine` then applies the catalog rule to the tree of runs:

- a card that every run produces fires, and says which unknown facts it met
  but did not depend on (note ``unknown-ok:<fact>``);
- a card that only some runs produce does not fire; ``DATA-MISSING`` names
  the unknown facts whose answer changes the advice.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import cached_property, wraps
from typing import Any, Callable, Iterator, Sequence, TypeVar, Union

from cds_service.facts.model import Facts
from cds_service.pathways.common import data_missing
from cds_service.pathways.model import Finding, LocalizedText, Text, text_in

UNKNOWN_OK = "unknown-ok:"  # note key prefix: "<fact> is unknown but both branches lead here"


# -- expressions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Atom:
    """One three-valued condition on facts, e.g. ``Atom("kps>=70", "KPS ≥ 70", True, ("kps",))``.

    ``label`` names the condition in trace lines: plain, or worded per language
    (``tr("kritieke locatie", "critical location")``).
    """

    key: str
    label: Text
    value: bool | None
    facts: tuple[str, ...]


@dataclass(frozen=True)
class All:
    parts: tuple["Expr", ...]

    def __init__(self, *parts: "Expr") -> None:
        object.__setattr__(self, "parts", parts)


@dataclass(frozen=True)
class AnyOf:
    parts: tuple["Expr", ...]

    def __init__(self, *parts: "Expr") -> None:
        object.__setattr__(self, "parts", parts)


@dataclass(frozen=True)
class Not:
    part: "Expr"


Expr = Union[Atom, All, AnyOf, Not]


def atoms(expr: Expr) -> Iterator[Atom]:
    return iter(_atom_list(expr, []))


def _atom_list(expr: Expr, out: list[Atom]) -> list[Atom]:
    """The atoms of ``expr`` in reading order, appended to ``out`` (no generator per level: decide is hot)."""
    kind = type(expr)
    if kind is Atom:
        out.append(expr)  # type: ignore[arg-type]
    elif kind is Not:
        _atom_list(expr.part, out)  # type: ignore[union-attr]
    else:
        for part in expr.parts:  # type: ignore[union-attr]
            _atom_list(part, out)
    return out


def evaluate(expr: Expr, assumed: dict[str, bool]) -> bool | None:
    """Kleene evaluation; atoms without a value use the value assumed on this run, if any.

    Short-circuits on the deciding value (False for All, True for AnyOf): the result is the
    same as evaluating every part (Kleene AND/OR), at a fraction of the cost on the hot path.
    """
    kind = type(expr)
    if kind is Atom:
        value = expr.value  # type: ignore[union-attr]
        return value if value is not None else assumed.get(expr.key)  # type: ignore[union-attr]
    if kind is Not:
        value = evaluate(expr.part, assumed)  # type: ignore[union-attr]
        return None if value is None else not value
    decisive = kind is AnyOf  # All stops at False, AnyOf at True
    unknown = False
    for part in expr.parts:  # type: ignore[union-attr]
        value = evaluate(part, assumed)
        if value is None:
            unknown = True
        elif value is decisive:
            return decisive
    return None if unknown else not decisive


def _unmasked(expr: Expr, key: str, assumed: dict[str, bool]) -> bool:
    """Whether an unknown atom ``key`` can still change the value of ``expr``.

    It cannot when every occurrence sits under an All with a part already False or an AnyOf
    with a part already True (given the values known or assumed): Kleene evaluation of ``expr``
    is then the same for any value of ``key``, now and after any further assumption.
    """
    kind = type(expr)
    if kind is Atom:
        return expr.key == key and expr.value is None  # type: ignore[union-attr]
    if kind is Not:
        return _unmasked(expr.part, key, assumed)  # type: ignore[union-attr]
    decisive = kind is AnyOf
    parts = expr.parts  # type: ignore[union-attr]
    if any(evaluate(part, assumed) is decisive for part in parts):
        return False
    return any(_unmasked(part, key, assumed) for part in parts)


# -- conditions built once per call ---------------------------------------------------------------

_MEMO: ContextVar[dict | None] = ContextVar("brain_walk_memo", default=None)
_F = TypeVar("_F", bound=Callable[..., Any])


@contextmanager
def per_call_memo() -> Iterator[None]:
    """While open, :func:`memoised` functions compute each result once (a section runs once per branch)."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def memoised(fn: _F) -> _F:
    """``fn(facts, *args)`` — pure in the facts and hashable args — computed once per :func:`per_call_memo`.

    The entry keeps the facts object itself, so its id cannot be reused by another one meanwhile.
    """

    @wraps(fn)
    def wrapper(facts: Facts, *args: Any) -> Any:
        memo = _MEMO.get()
        if memo is None:
            return fn(facts, *args)
        key = (fn, id(facts), args)
        entry = memo.get(key)
        if entry is None or entry[0] is not facts:
            entry = memo[key] = (facts, fn(facts, *args))
        return entry[1]

    return wrapper  # type: ignore[return-value]


# -- one run through the flowchart ---------------------------------------------------------------


class _Unprune(Exception):
    """A run read an atom it had not forked on (see :meth:`Walk.decide`): explore the section in full."""


class _Fork(Exception):
    def __init__(self, atom: Atom, step: Text, question: Text) -> None:
        super().__init__(atom.key)
        self.atom = atom
        self.step = step
        self.question = question


LANGUAGES = ("nl", "en")
# The fixed words of a composed trace line, per language.
_WORDS = {
    "nl": {"yes": "ja", "no": "nee", "unknown": "onbekend", "branch": ", in de tak waarin ",
           "assumed": "'{label}' {answer} is", "both": " (onbekend: beide takken zijn gevolgd)",
           "not-needed": " onbekend, maar niet nodig)", "decides": " — bepaalt ",
           "options": "de af te wegen behandelopties"},
    "en": {"yes": "yes", "no": "no", "unknown": "unknown", "branch": " on the branch where ",
           "assumed": "'{label}' is {answer}", "both": " (unknown: both branches were followed)",
           "not-needed": " unknown but not needed)", "decides": " — decides ",
           "options": "the treatment options to weigh"},
}


def _yes_no(value: bool, language: str = "en") -> str:
    return _WORDS[language]["yes" if value else "no"]


class _ComposedText(LocalizedText):
    """A trace line worded per language, composed only when a language is asked for.

    Most trace lines of a walk belong to branches whose findings are dropped or merged, so the
    text is built lazily (the renderer asks for one language). It behaves as the equivalent
    :class:`LocalizedText`: equality and hash go over the composed texts.
    """

    def __init__(self, compose: Callable[[str], str]) -> None:  # noqa: D107 (no dataclass init: lazy)
        object.__setattr__(self, "_compose", compose)
        object.__setattr__(self, "_cache", {})

    def _in(self, language: str) -> str:
        cache = self._cache
        text = cache.get(language)
        if text is None:
            text = cache[language] = self._compose(language)
        return text

    @property  # type: ignore[override]
    def texts(self) -> dict[str, str]:
        return {lang: self._in(lang) for lang in LANGUAGES}

    def get(self, language: str) -> str:
        if language in LANGUAGES:
            text = self._in(language)
            if text:
                return text
        return LocalizedText.get(self, language)

    in_language = get

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LocalizedText):
            return self.texts == other.texts
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.texts.items())))

    def __str__(self) -> str:
        return self.get("en")

    def __repr__(self) -> str:
        return f"LocalizedText(texts={self.texts!r})"


def _per_language(compose: Callable[[str], str]) -> LocalizedText:
    """A trace line composed per language (lazily, when a language is asked for)."""
    return _ComposedText(compose)


class Walk:
    """One run: answers questions, assuming the values given by ``choices`` for unknown atoms."""

    def __init__(self, choices: Sequence[bool] = (), prune: bool = False, extend: bool = False) -> None:
        self._choices = tuple(choices)
        self._used = 0
        self._prune = prune
        # extend: past the given choices, take yes and record the fork (explore() then walks each no-branch)
        # instead of stopping the run at the first new fork
        self._extend = extend
        self.forks: list[tuple[Atom, Text, Text]] = []
        self._pruned: set[str] = set()  # atoms taken as yes without a fork: they could not change the answer
        self.assumed: dict[str, bool] = {}
        self.trace: list[Text] = []
        self.unknown_facts: list[str] = []  # facts of unknown atoms met at decided steps

    def value(self, atom: Atom) -> bool | None:
        """The atom's value on this run: known, assumed after a fork, or None (never decided)."""
        if atom.value is not None:
            return atom.value
        if atom.key in self._pruned:
            raise _Unprune(atom.key)
        return self.assumed.get(atom.key)

    def decide(self, step: Text, question: Text, expr: Expr) -> bool:
        """Answer a flowchart question; the trace line says the answer in Dutch and English.

        ``step`` (the node, ``"A1"`` or ``tr("Resectie (000)", "Resection (000)")``) and ``question``
        may be plain or worded per language; the answer words (ja/nee, yes/no) are added per language.
        """
        forked: list[Atom] = []
        expr_atoms = _atom_list(expr, [])
        assumed_now = self.assumed
        if self._pruned and any(a.value is None and a.key in self._pruned for a in expr_atoms):
            raise _Unprune(step)
        answer = evaluate(expr, assumed_now)
        while answer is None:
            atom = next(a for a in expr_atoms if a.value is None and a.key not in assumed_now)
            if self._prune and not _unmasked(expr, atom.key, assumed_now):
                # Both branches would answer this question alike (the atom is masked): follow only
                # the yes-branch, which the full walk lists first and whose wording the cards keep.
                # Should a later step read the atom, explore() redoes the section in full.
                assumed_now[atom.key] = True
                self._pruned.add(atom.key)
                forked.append(atom)
                continue
            if self._used >= len(self._choices):
                if not self._extend:
                    raise _Fork(atom, step, question)
                if self._used >= MAX_FORKS:
                    raise RuntimeError(f"too many unknown branches at {step}")
                self._choices += (True,)
                self.forks.append((atom, step, question))
            assumed_now[atom.key] = self._choices[self._used]
            self._used += 1
            forked.append(atom)
            answer = evaluate(expr, assumed_now)
        unknown = [a for a in expr_atoms if a.value is None]
        for atom in unknown:
            self.unknown_facts.extend(f for f in atom.facts if f not in self.unknown_facts)
        assumed = {a.key: self.assumed[a.key] for a in forked}

        def line(lang: str) -> str:
            w = _WORDS[lang]
            text = f"{text_in(step, lang)}: {text_in(question, lang)} → {_yes_no(answer, lang)}"
            if forked:
                text += w["branch"] + ", ".join(
                    w["assumed"].format(label=text_in(a.label, lang), answer=_yes_no(assumed[a.key], lang))
                    for a in forked
                ) + w["both"]
            elif unknown:
                text += " (" + ", ".join(f"'{text_in(a.label, lang)}'" for a in dict.fromkeys(unknown)) \
                    + w["not-needed"]
            return text

        self.trace.append(_per_language(line))
        return answer

    def note(self, line: Text) -> None:
        """A trace line that is not a question (a value used, an estimate shown): ``tr(nl, en)`` or plain."""
        self.trace.append(line)


# -- exploring every branch ----------------------------------------------------------------------


Identity = Callable[[Finding], str]


def by_rule(finding: Finding) -> str:
    """Two branches give "the same card" when they fire the same rule (wording may differ)."""
    return finding.rule_id


def by_variant(finding: Finding) -> str:
    """For scores the variant is the result (RPA class 1 ≠ class 2)."""
    return f"{finding.rule_id} ({finding.variant})" if finding.variant else finding.rule_id


@dataclass(frozen=True)
class Leaf:
    findings: tuple[Finding, ...]
    unknown_facts: tuple[str, ...]
    identity: Identity = by_rule

    @cached_property  # combine() asks for it per fork above the leaf
    def rules(self) -> frozenset[str]:
        return frozenset(self.identity(f) for f in self.findings)


@dataclass(frozen=True)
class Node:
    atom: Atom
    step: Text
    question: Text
    yes: "Tree"
    no: "Tree"

    # Computed once per fork (the tree is immutable): combine() reads them for every fork above.
    @cached_property
    def leaves(self) -> tuple[Leaf, ...]:
        return (*leaves(self.yes), *leaves(self.no))

    @cached_property
    def outcomes(self) -> frozenset[frozenset[str]]:
        return _outcomes(self.yes) | _outcomes(self.no)

    @cached_property
    def common(self) -> frozenset[str]:
        return _common(self.yes) & _common(self.no)


Tree = Union[Leaf, Node]
Section = Callable[[Walk], Sequence[Finding]]

MAX_FORKS = 12  # far above what any flowchart here needs; guards against a runaway pathway


def explore(section: Section, choices: tuple[bool, ...] = (), identity: Identity = by_rule) -> Tree:
    """Run ``section`` along every combination of answers to its unknown questions.

    A fork on an atom that cannot change the question's answer (masked, see :func:`_unmasked`)
    is skipped: its no-branch would repeat the yes-branch card for card. When a later step of the
    same run reads such an atom after all, the section is explored again without skipping.
    """
    try:
        return _explore(section, choices, identity, True)
    except _Unprune:
        return _explore(section, choices, identity, False)


def _explore(section: Section, choices: tuple[bool, ...], identity: Identity, prune: bool) -> Tree:
    """One run per leaf: the run takes yes at each new fork; each fork's no-branch is explored after.

    Builds the same tree as re-running the section once per fork and once per leaf, without the
    runs that would stop at a fork.
    """
    walk = Walk(choices, prune, extend=True)
    tree: Tree = Leaf(tuple(section(walk)), tuple(walk.unknown_facts), identity)
    for depth in range(len(walk.forks) - 1, -1, -1):
        atom, step, question = walk.forks[depth]
        no_branch = choices + (True,) * depth + (False,)
        tree = Node(atom, step, question, tree, _explore(section, no_branch, identity, prune))
    return tree


def leaves(tree: Tree) -> list[Leaf]:
    if isinstance(tree, Leaf):
        return [tree]
    return list(tree.leaves)


def _outcomes(tree: Tree) -> frozenset[frozenset[str]]:
    return frozenset((tree.rules,)) if isinstance(tree, Leaf) else tree.outcomes


def _common(tree: Tree) -> frozenset[str]:
    return tree.rules if isinstance(tree, Leaf) else tree.common


def _deciding_nodes(tree: Tree) -> list[Node]:
    """Forks whose answer changes the advice (the two sub-trees give different card sets)."""
    if isinstance(tree, Leaf):
        return []
    own = [tree] if _outcomes(tree.yes) != _outcomes(tree.no) else []
    return own + _deciding_nodes(tree.yes) + _deciding_nodes(tree.no)


def _merge(findings: Sequence[Finding]) -> Finding:
    """One card for a rule every branch produced: keep only what all branches agree on."""
    first = findings[0]
    same = lambda attr: all(getattr(f, attr) == getattr(first, attr) for f in findings)  # noqa: E731
    notes = tuple(n for n in first.notes if all(n in f.notes for f in findings))
    return replace(
        first,
        variant=first.variant if same("variant") else None,
        indicator=first.indicator if same("indicator") else None,
        notes=notes,
        suggestions=first.suggestions if same("suggestions") else (),
        facts_used=tuple(dict.fromkeys(n for f in findings for n in f.facts_used)),
        facts_missing=tuple(dict.fromkeys(n for f in findings for n in f.facts_missing)),
    )


MARKER = "_"  # a rule id starting with "_" is a marker a section passes to the next, never a card


def marker(name: str) -> Finding:
    """A marker finding: lets a later section depend on this one (it counts as an outcome, not a card)."""
    return Finding(rule_id=f"{MARKER}{name}")


@dataclass(frozen=True)
class Combined:
    findings: list[Finding] = field(default_factory=list)
    missing: Finding | None = None  # DATA-MISSING, when some unknown fact changes the advice
    markers: tuple[str, ...] = ()  # the markers every branch produced (without the prefix)


def combine(tree: Tree, facts: Facts) -> Combined:
    """Apply the catalog rule for unknown branches to an explored tree (see module docstring)."""
    all_leaves = leaves(tree)
    shared = _common(tree)
    unknown_met = {f for leaf in all_leaves for f in leaf.unknown_facts}
    findings: list[Finding] = []
    markers: list[str] = []
    for key in dict.fromkeys(leaf.identity(f) for leaf in all_leaves[:1] for f in leaf.findings):
        if key not in shared:
            continue
        merged = _merge([f for leaf in all_leaves for f in leaf.findings if leaf.identity(f) == key])
        if merged.rule_id.startswith(MARKER):
            markers.append(merged.rule_id.removeprefix(MARKER))
            continue
        findings.append(_split_known(_with_unknown_notes(merged, facts, unknown_met), facts))
    deciding = _deciding_nodes(tree)
    missing = None
    if deciding:
        names = [n for node in deciding for n in node.atom.facts if not facts.known(n)] or [
            n for node in deciding for n in node.atom.facts
        ]
        missing = data_missing(names, *_missing_trace(deciding))
    return Combined(findings=findings, missing=missing, markers=tuple(markers))


def _missing_trace(deciding: Sequence[Node]) -> list[LocalizedText]:
    """One line per flowchart question: which parts are unknown and which cards depend on them."""
    steps: dict[tuple[Text, Text], tuple[list[Text], set[str]]] = {}
    for node in deciding:
        labels, changed = steps.setdefault((node.step, node.question), ([], set()))
        if node.atom.label not in labels:
            labels.append(node.atom.label)
        changed |= (_common(node.yes) ^ _common(node.no))
    lines = []
    for (step, question), (labels, changed) in steps.items():
        shown = sorted({c for c in changed if not c.startswith(MARKER)})
        options = any(c.startswith(MARKER) for c in changed)

        def line(lang: str) -> str:
            w = _WORDS[lang]
            unknown = ", ".join(f"'{text_in(label, lang)}'" for label in labels)
            cards = shown + ([w["options"]] if options else [])
            decides = f"{w['decides']}{', '.join(cards)}" if cards else ""
            return f"{text_in(step, lang)}: {text_in(question, lang)} → {w['unknown']} ({unknown}){decides}"

        lines.append(_per_language(line))
    return lines


def _with_unknown_notes(finding: Finding, facts: Facts, unknown_met: set[str]) -> Finding:
    extra = tuple(
        f"{UNKNOWN_OK}{name}"
        for name in finding.facts_used
        if name in unknown_met and not facts.known(name) and f"{UNKNOWN_OK}{name}" not in finding.notes
    )
    return replace(finding, notes=finding.notes + extra) if extra else finding


def _split_known(finding: Finding, facts: Facts) -> Finding:
    """Facts used are those with a value; the unknown ones are listed as missing."""
    used = tuple(n for n in finding.facts_used if facts.known(n))
    missing = tuple(dict.fromkeys(finding.facts_missing + tuple(n for n in finding.facts_used if not facts.known(n))))
    return replace(finding, facts_used=used, facts_missing=missing)


def run(section: Section, facts: Facts, identity: Identity = by_rule) -> Combined:
    """Explore and combine in one call."""
    return combine(explore(section, identity=identity), facts)
