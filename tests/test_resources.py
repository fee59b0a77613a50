"""The data packages are found in an installed wheel and in a source checkout alike.

The checkout tests run real subprocesses from the repository root (where ``cds_service`` is the
checkout, not the installed wheel): ``python -m cds_service.facts.docs``, ``python -m pytest`` on a
test file, and an import of every data package. The README's gunicorn command is run in
tests/integration/test_readme_commands.py.
"""

from __future__ import annotations

import importlib.resources
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cds_service import resources

REPO = Path(__file__).resolve().parents[1]
IN_CHECKOUT = resources.checkout_root(REPO / "cds_service") is not None


def _run_from_root(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NO_COLOR")}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_every_data_package_resolves_to_a_folder_with_its_files() -> None:
    for package, marker in (("cds_service.mappings", "facts.yaml"), ("cds_service.card_templates", "brain.yaml"),
                            ("cds_service.fixtures", "patients")):
        assert (importlib.resources.files(package) / marker).is_file() or \
            (importlib.resources.files(package) / marker).is_dir(), package


def test_the_finder_maps_the_package_names_onto_the_top_level_folders(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    for folder in resources.DATA_PACKAGES.values():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text(f"FOLDER = {folder!r}\n")
    package_dir = tmp_path / "cds_service"
    package_dir.mkdir()
    assert resources.checkout_root(package_dir) == tmp_path
    finder = resources.CheckoutDataFinder(tmp_path)
    spec = finder.find_spec("cds_service.card_templates")
    assert spec is not None and Path(spec.origin) == tmp_path / "cards" / "__init__.py"
    assert spec.submodule_search_locations == [str(tmp_path / "cards")]
    assert finder.find_spec("cds_service.engine") is None  # only the three data packages


def test_nothing_is_installed_for_a_wheel_or_a_folder_that_is_not_a_checkout(tmp_path: Path) -> None:
    wheel = tmp_path / "site-packages" / "cds_service"
    for name in resources.DATA_PACKAGES:
        (wheel / name.rsplit(".", 1)[1]).mkdir(parents=True)
    assert resources.install(wheel) is None
    bare = tmp_path / "elsewhere" / "cds_service"
    bare.mkdir(parents=True)
    assert resources.checkout_root(bare) is None
    assert resources.install(bare) is None


@pytest.mark.skipif(not IN_CHECKOUT, reason="needs the source checkout")
def test_python_m_docs_from_the_repository_root() -> None:
    result = _run_from_root("-m", "cds_service.facts.docs")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "docs" / "fact-codes.md").read_text(encoding="utf-8")


@pytest.mark.skipif(not IN_CHECKOUT, reason="needs the source checkout")
def test_the_checkout_is_the_package_from_the_repository_root() -> None:
    code = ("import cds_service, importlib.resources as r; from cds_service.engine import Engine; Engine.load(); "
            "print(cds_service.__file__); print(r.files('cds_service.card_templates'))")
    result = _run_from_root("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(REPO / "cds_service" / "__init__.py"), str(REPO / "cards")]


@pytest.mark.skipif(not IN_CHECKOUT, reason="needs the source checkout")
def test_python_m_pytest_from_the_repository_root() -> None:
    result = _run_from_root("-m", "pytest", "-p", "no:cacheprovider", "-q", "tests/test_readme.py",
                            "tests/ehr/test_ehr_fixtures.py")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "[100%]" in result.stdout  # tests ran (no tests at all would be exit code 5)
