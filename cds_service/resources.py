"""Where the data packages live: in the installed wheel, or at the top of a source checkout.

The data (``mappings/``, ``cards/``, ``fixtures/``) sits at the top of the
repository, beside ``cds_service/``, and the wheel ships it as the packages
``cds_service.mappings``, ``cds_service.card_templates`` and
``cds_service.fixtures`` (``[tool.setuptools.package-dir]`` in pyproject).
Every loader reads it with ``importlib.resources.files("cds_service.…")``.

In a checkout used without installing (``gunicorn cds_service.wsgi:app`` or
``python -m pytest`` from the repository root) those packages do not exist
under ``cds_service/``. :func:`install` then adds a finder that maps the three
names onto the top-level folders, so the same loaders work unchanged. It does
nothing in an installed wheel (the packages are real there) and nothing in an
editable install (setuptools' own finder already maps them).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Sequence

# package name -> folder at the top of the repository (as in pyproject's package-dir)
DATA_PACKAGES = {
    "cds_service.mappings": "mappings",
    "cds_service.card_templates": "cards",
    "cds_service.fixtures": "fixtures",
}

PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root(package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The repository root when ``cds_service`` is imported from a source checkout, else None."""
    root = package_dir.parent
    if (root / "pyproject.toml").is_file() and all((root / d / "__init__.py").is_file()
                                                  for d in DATA_PACKAGES.values()):
        return root
    return None


class CheckoutDataFinder(importlib.abc.MetaPathFinder):
    """Finds ``cds_service.mappings`` & co. in the top-level folders of a checkout."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        folder = DATA_PACKAGES.get(fullname)
        if folder is None:
            return None
        location = self.root / folder
        return importlib.util.spec_from_file_location(
            fullname, location / "__init__.py", submodule_search_locations=[str(location)])


def install(package_dir: Path = PACKAGE_DIR) -> CheckoutDataFinder | None:
    """Register the finder when running from a checkout whose data packages are not importable otherwise."""
    if all((package_dir / name.rsplit(".", 1)[1]).is_dir() for name in DATA_PACKAGES):
        return None  # an installed wheel: the data packages are real
    root = checkout_root(package_dir)
    if root is None or any(isinstance(f, CheckoutDataFinder) for f in sys.meta_path):
        return None
    finder = CheckoutDataFinder(root)
    sys.meta_path.append(finder)  # last: an editable install's finder, if any, wins
    return finder
