"""YAML reading for the data files loaded at start-up (mappings, card templates, order rules, cases).

PyYAML's pure-Python parser is slow: it made ``Engine.load()`` take about half a second per
worker (and the test suite re-parse for a minute). libyaml's C parser reads the same files
about four times faster with the same safe constructors; it is used whenever PyYAML was built
with it (the PyPI wheels are), else the pure-Python parser. Errors are ``yaml.YAMLError`` either way.
"""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with the C parser when available."""
    return yaml.load(text, Loader=SafeLoader)  # noqa: S506 — a safe loader (C or Python)
