"""Render the cards of every fixture case in Dutch and English and report the detail lengths.

    .venv/bin/python tools/card_lengths.py [--dump cards.json] [--show RULE-ID ...]

Prints the distribution of ``card.detail`` lengths (characters) over all cards of all fixture cases
(``fixtures/cases/*.yaml``, every service each case expects) per language, and the longest cards.
``--dump`` writes every rendered card (case, service, language, rule, summary, detail) as JSON so two
versions of the templates can be compared side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "cards"))

from cards_corpus import render_all  # noqa: E402  (tests/cards_corpus.py: shared with the tests)


def _percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", help="write every rendered card to this JSON file")
    parser.add_argument("--show", nargs="*", default=[], help="print the cards of these rule ids")
    args = parser.parse_args(argv)
    cards = render_all()
    for language in ("nl", "en"):
        lengths = [len(c["detail"]) for c in cards if c["language"] == language]
        over_1200 = sum(n > 1200 for n in lengths)
        print(f"{language}: {len(lengths)} cards; detail chars median {statistics.median(lengths):.0f}, "
              f"p90 {_percentile(lengths, 0.9)}, max {max(lengths)}; "
              f"≤1200: {100 * (len(lengths) - over_1200) / len(lengths):.1f}%, >2500: {sum(n > 2500 for n in lengths)}")
    longest = sorted(cards, key=lambda c: -len(c["detail"]))[:8]
    print("longest:", ", ".join(f"{c['rule']} {c['language']} {len(c['detail'])} ({c['case']})" for c in longest))
    for rule in args.show:
        for card in cards:
            if card["rule"] == rule:
                print(f"\n=== {card['rule']} {card['language']} ({card['case']})\n{card['summary']}\n\n{card['detail']}")
                break
    if args.dump:
        Path(args.dump).write_text(json.dumps(cards, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
