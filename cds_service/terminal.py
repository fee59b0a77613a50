"""Terminal output of the command line: a rich console, and text from records made safe to print.

Text that comes from outside (card text from a service, FHIR server messages,
feedback sent by an EHR, values read from a patient record) may hold control
characters: an ESC sequence can recolour, move the cursor or rewrite what the
user reads, a BiDi override can reorder it. :func:`printable` removes them
before anything is printed. :func:`console` is a ``rich`` console that wraps
to the terminal's width, honours ``NO_COLOR`` (and ``FORCE_COLOR``), and
writes no colours when the output is not a terminal.
"""

from __future__ import annotations

import re
from typing import IO, Any

from rich.console import Console

# ANSI escape sequences (CSI, OSC, two-byte), then the remaining C0/C1 controls, DEL and the
# Unicode BiDi embedding/override/isolate characters. Tab and newline are kept when multi-line.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\t\n\r\v\f\u2028\u2029]+")


def printable(value: Any, *, multiline: bool = False) -> str:
    """``value`` as text without escape sequences and control characters.

    ``multiline=False`` (labels, table cells, one-line messages) also turns line breaks and tabs
    into single spaces; ``multiline=True`` keeps newlines and tabs (card details in Markdown).
    """
    text = "" if value is None else str(value)
    text = _ESCAPES.sub("", text.replace("\r\n", "\n"))
    if not multiline:
        text = _LINE_BREAKS.sub(" ", text)
    return _CONTROLS.sub("", text)


def console(file: IO[str] | None = None, *, stderr: bool = False, width: int | None = None,
            color: bool | None = None) -> Console:
    """A console for command output. ``file=None`` writes to the current ``sys.stdout`` (or stderr).

    ``color=None`` decides as rich does (a terminal, unless ``NO_COLOR`` is set); ``False`` never
    colours (tests, logs); ``True`` forces colours (tests of the styling).
    """
    return Console(file=file, stderr=stderr, width=width, highlight=False, markup=False, emoji=False,
                   force_terminal=True if color else None, no_color=True if color is False else None,
                   color_system="standard" if color else "auto", soft_wrap=False)
