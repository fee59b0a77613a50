"""The start-up YAML reader: the C parser when PyYAML has it, same data as the pure-Python parser."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from cds_service import yaml_load


def _data_files() -> list:
    files = []
    for package in ("cds_service.mappings", "cds_service.card_templates"):
        files += [f for f in resources.files(package).iterdir() if f.name.endswith(".yaml")]
    cases = resources.files("cds_service.fixtures") / "cases"
    files += [f for f in cases.iterdir() if f.name.endswith(".yaml")]
    return sorted(files, key=lambda f: f.name)


def test_uses_libyaml_when_pyyaml_has_it() -> None:
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert yaml_load.SafeLoader is expected


@pytest.mark.parametrize("path", _data_files(), ids=lambda f: f.name)
def test_reads_every_data_file_as_the_python_parser_does(path) -> None:
    text = path.read_text(encoding="utf-8")
    assert yaml_load.safe_load(text) == yaml.load(text, Loader=yaml.SafeLoader)


def test_is_safe_and_reports_errors_as_yaml_errors() -> None:
    with pytest.raises(yaml.YAMLError):
        yaml_load.safe_load("!!python/object/apply:os.system ['true']")
    with pytest.raises(yaml.YAMLError):
        yaml_load.safe_load("facts: [")
