"""Package data (see pyproject: shipped in the wheel)."""
