"""Regenerate the rule table in README.md from `cds-service rules --markdown` (run after adding a rule)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from cds_service.cli import rules_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- rules:start -->\n).*?(<!-- rules:end -->)", re.S)


def render(readme: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + rules_markdown() + "\n" + m.group(2), readme)


if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    README.write_text(render(text), encoding="utf-8")
    sys.exit(0)
