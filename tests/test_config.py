"""Config: CDS_* variables, the TOML file, defaults, validation and production rules."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cds_service.config import Config, ConfigError, default_database, is_loopback_host, normalise_base_url


def test_defaults_are_safe(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = Config.from_env({})
    assert config.jwt_required is False
    assert config.trusted_issuers == {}
    assert config.jwt_leeway == 60
    assert config.allowed_fhir_servers == ()
    assert config.language == "nl"
    assert config.timezone == "Europe/Amsterdam"
    assert config.cors_origins == ("*",)
    assert config.fixed_now is None
    assert config.demo_fhir is False
    assert config.public_base_url is None
    assert config.database == str(tmp_path / "data" / "neuro-onc-cds" / "feedback.sqlite3")


def test_default_database_is_absolute_and_not_in_cwd(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    path = Path(default_database())
    assert path.is_absolute()
    assert path.name == "feedback.sqlite3"
    assert "neuro-onc-cds" in path.parts
    assert tmp_path not in path.parents


ENV = {
    "CDS_JWT_REQUIRED": "true",
    "CDS_TRUSTED_ISSUERS": '{"https://ehr.example.org": "https://ehr.example.org/jwks.json",'
                           ' "https://local": "file:/etc/cds/jwks.json"}',
    "CDS_JWT_LEEWAY": "30",
    "CDS_ALLOWED_FHIR_SERVERS": "https://fhir.example.org/r4, http://127.0.0.1:8080/fhir",
    "CDS_DATABASE": "/var/lib/cds/feedback.sqlite3",
    "CDS_LANGUAGE": "EN",
    "CDS_TIMEZONE": "UTC",
    "CDS_FHIR_TIMEOUT": "2.5",
    "CDS_FHIR_MAX_PAGES": "3",
    "CDS_FHIR_WORKERS": "4",
    "CDS_CORS_ORIGINS": "https://sandbox.cds-hooks.org,https://ehr.example.org",
    "CDS_FIXED_NOW": "2026-11-24T10:00:00+01:00",
    "CDS_DEMO_FHIR": "yes",
    "CDS_PUBLIC_BASE_URL": "https://cds.example.org",
}


def test_every_variable_is_read():
    config = Config.from_env(ENV)
    assert config == Config(
        jwt_required=True,
        trusted_issuers={"https://ehr.example.org": ("https://ehr.example.org/jwks.json",),
                         "https://local": ("file:/etc/cds/jwks.json",)},
        jwt_leeway=30,
        allowed_fhir_servers=("https://fhir.example.org/r4", "http://127.0.0.1:8080/fhir"),
        database="/var/lib/cds/feedback.sqlite3",
        language="en",
        timezone="UTC",
        fhir_timeout=2.5,
        fhir_max_pages=3,
        fhir_workers=4,
        cors_origins=("https://sandbox.cds-hooks.org", "https://ehr.example.org"),
        fixed_now=datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc),
        demo_fhir=True,
        public_base_url="https://cds.example.org",
    )


def test_toml_file_with_env_precedence(tmp_path):
    path = tmp_path / "cds.toml"
    path.write_text(
        'language = "en"\n'
        'fhir_workers = 3\n'
        'allowed_fhir_servers = ["https://fhir.example.org/r4"]\n'
        '[trusted_issuers]\n"https://ehr.example.org" = "https://ehr.example.org/jwks.json"\n',
        encoding="utf-8",
    )
    config = Config.from_env({"CDS_CONFIG_FILE": str(path), "CDS_FHIR_WORKERS": "5"})
    assert config.language == "en"
    assert config.fhir_workers == 5
    assert config.allowed_fhir_servers == ("https://fhir.example.org/r4",)
    assert config.trusted_issuers == {"https://ehr.example.org": ("https://ehr.example.org/jwks.json",)}


def test_toml_unknown_key_is_an_error(tmp_path):
    path = tmp_path / "cds.toml"
    path.write_text('langauge = "en"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'langauge'"):
        Config.from_env({"CDS_CONFIG_FILE": str(path)})


def test_missing_toml_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Config.from_env({"CDS_CONFIG_FILE": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize(
    "env, message",
    [
        ({"CDS_JWT_REQUIRED": "maybe"}, "CDS_JWT_REQUIRED must be true or false"),
        ({"CDS_JWT_REQUIRED": "true"}, "CDS_TRUSTED_ISSUERS is empty"),
        ({"CDS_TRUSTED_ISSUERS": "not json"}, "CDS_TRUSTED_ISSUERS must be a JSON object"),
        ({"CDS_TRUSTED_ISSUERS": '["https://x"]'}, "CDS_TRUSTED_ISSUERS must be a JSON object"),
        ({"CDS_TRUSTED_ISSUERS": '{"https://ehr": "http://ehr.example.org/jwks"}'}, "must be an https URL"),
        ({"CDS_TRUSTED_ISSUERS": '{"https://ehr": 5}'}, "needs a JWKS URL"),
        ({"CDS_JWT_LEEWAY": "sixty"}, "CDS_JWT_LEEWAY must be a whole number"),
        ({"CDS_JWT_LEEWAY": "-1"}, "CDS_JWT_LEEWAY must be between"),
        ({"CDS_ALLOWED_FHIR_SERVERS": "fhir.example.org"}, "not an http(s) base URL"),
        ({"CDS_LANGUAGE": "de"}, "CDS_LANGUAGE must be one of"),
        ({"CDS_TIMEZONE": "Mars/Olympus"}, "CDS_TIMEZONE: unknown time zone"),
        ({"CDS_FHIR_TIMEOUT": "0"}, "CDS_FHIR_TIMEOUT must be > 0"),
        ({"CDS_FHIR_TIMEOUT": "soon"}, "CDS_FHIR_TIMEOUT must be a number"),
        ({"CDS_FHIR_MAX_PAGES": "0"}, "CDS_FHIR_MAX_PAGES must be between"),
        ({"CDS_FHIR_WORKERS": "0"}, "CDS_FHIR_WORKERS must be between"),
        ({"CDS_FIXED_NOW": "yesterday"}, "CDS_FIXED_NOW must be an ISO 8601"),
        ({"CDS_FIXED_NOW": "2026-11-24T09:00:00"}, "CDS_FIXED_NOW needs a time zone"),
        ({"CDS_DEMO_FHIR": "2"}, "CDS_DEMO_FHIR must be true or false"),
        ({"CDS_PUBLIC_BASE_URL": "cds.example.org"}, "CDS_PUBLIC_BASE_URL"),
        ({"CDS_CORS_ORIGINS": ","}, "CDS_CORS_ORIGINS must name"),
        ({"CDS_ALLOWED_FHIR_SERVERS": "http://attacker:9\\@fhir.example.org/r4"}, "backslashes"),
        ({"CDS_ALLOWED_FHIR_SERVERS": "https://user@fhir.example.org/r4"}, "user information"),
        ({"CDS_ALLOWED_FHIR_SERVERS": "https://fhir.example.org/r4?x=1"}, "must not have a query"),
        ({"CDS_ALLOWED_FHIR_SERVERS": "file:///etc/passwd"}, "only http and https"),
        ({"CDS_TRUSTED_ISSUERS": '{"https://ehr": "https://a\\\\@ehr.example.org/jwks"}'}, "must be an https URL"),
        ({"CDS_PUBLIC_BASE_URL": "https://cds.example.org\\@evil"}, "CDS_PUBLIC_BASE_URL"),
        ({"CDS_JWT_MAX_LIFETIME": "86400"}, "CDS_JWT_MAX_LIFETIME must be between"),
        ({"CDS_FHIR_TIMEOUT": "600"}, "CDS_FHIR_TIMEOUT must be > 0 and at most 60"),
        ({"CDS_FHIR_MAX_BYTES": "10"}, "CDS_FHIR_MAX_BYTES must be between"),
        ({"CDS_FHIR_MAX_RESOURCES": "0"}, "CDS_FHIR_MAX_RESOURCES must be between"),
    ],
)
def test_invalid_values_name_the_variable(env, message):
    with pytest.raises(ConfigError) as info:
        Config.from_env(env)
    assert message in str(info.value)


def test_http_jwks_allowed_on_loopback_only():
    config = Config.from_env({"CDS_TRUSTED_ISSUERS": '{"https://ehr": "http://127.0.0.1:9000/jwks"}'})
    assert config.trusted_issuers == {"https://ehr": ("http://127.0.0.1:9000/jwks",)}


def test_production_requires_allowed_fhir_servers():
    with pytest.raises(ConfigError, match="CDS_ALLOWED_FHIR_SERVERS must be set in production"):
        Config.from_env({"CDS_JWT_REQUIRED": "false"}, production=True)


def test_production_turns_jwt_on_by_default():
    env = {"CDS_ALLOWED_FHIR_SERVERS": "https://fhir.example.org/r4",
           "CDS_TRUSTED_ISSUERS": '{"https://ehr": "https://ehr/jwks"}',
           "CDS_PUBLIC_BASE_URL": "https://cds.example.org"}
    assert Config.from_env(env, production=True).jwt_required is True
    assert Config.from_env({**env, "CDS_JWT_REQUIRED": "false"}, production=True).jwt_required is False
    with pytest.raises(ConfigError, match="CDS_TRUSTED_ISSUERS is empty"):
        Config.from_env({"CDS_ALLOWED_FHIR_SERVERS": "https://fhir.example.org/r4"}, production=True)


def test_production_with_jwt_requires_the_public_base_url():
    """The JWT audience is configuration, never the Host header: production with JWT on needs it."""
    env = {"CDS_ALLOWED_FHIR_SERVERS": "https://fhir.example.org/r4",
           "CDS_TRUSTED_ISSUERS": '{"https://ehr": "https://ehr/jwks"}'}
    with pytest.raises(ConfigError, match="CDS_PUBLIC_BASE_URL must be set in production"):
        Config.from_env(env, production=True)
    assert Config.from_env({**env, "CDS_JWT_REQUIRED": "false"}, production=True).public_base_url is None
    assert Config.from_env(env).public_base_url is None  # development: the listening address is the audience


def test_security_limits_have_safe_defaults_and_are_read():
    config = Config.from_env({})
    assert (config.jwt_max_lifetime, config.fhir_timeout) == (300, 3.0)
    assert (config.fhir_max_bytes, config.fhir_max_resources) == (32 * 1024 * 1024, 20_000)
    config = Config.from_env({"CDS_JWT_MAX_LIFETIME": "120", "CDS_FHIR_MAX_BYTES": "2048",
                              "CDS_FHIR_MAX_RESOURCES": "50"})
    assert (config.jwt_max_lifetime, config.fhir_max_bytes, config.fhir_max_resources) == (120, 2048, 50)


def test_overrides_win_and_none_is_ignored():
    config = Config.from_env({"CDS_DEMO_FHIR": "false", "CDS_LANGUAGE": "en"}, demo_fhir=True, language=None)
    assert (config.demo_fhir, config.language) == (True, "en")


def test_empty_variable_means_default():
    assert Config.from_env({"CDS_LANGUAGE": "", "CDS_FHIR_WORKERS": " "}).fhir_workers == 8


@pytest.mark.parametrize(
    "url, normal",
    [
        ("https://FHIR.example.org/r4/", "https://fhir.example.org/r4"),
        ("https://fhir.example.org:443/r4", "https://fhir.example.org/r4"),
        ("http://127.0.0.1:80/fhir", "http://127.0.0.1/fhir"),
        ("http://127.0.0.1:8080/fhir//", "http://127.0.0.1:8080/fhir"),
        ("HTTPS://fhir.example.org", "https://fhir.example.org"),
    ],
)
def test_normalise_base_url(url, normal):
    assert normalise_base_url(url) == normal


@pytest.mark.parametrize(
    "host, loopback",
    [("localhost", True), ("127.0.0.1", True), ("127.5.5.5", True), ("::1", True), ("[::1]", True),
     ("10.0.0.1", False), ("example.org", False), (None, False)],
)
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


def test_is_postgres():
    assert Config(database="postgresql://127.0.0.1/test").is_postgres is True
    assert Config(database="/tmp/x.sqlite3").is_postgres is False


def test_wsgi_entry_point_is_production(monkeypatch, tmp_path, capsys):
    import gc
    import importlib
    import logging
    import sys as _sys

    import cds_service.engine

    for name in [n for n in os.environ if n.startswith("CDS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CDS_DATABASE", str(tmp_path / "f.sqlite3"))
    monkeypatch.setattr(cds_service.engine.Engine, "load", classmethod(lambda cls, tz="Europe/Amsterdam": "engine"))
    root_handlers = list(logging.getLogger().handlers)
    root_level = logging.getLogger().level
    gc_threshold = gc.get_threshold()
    try:
        _sys.modules.pop("cds_service.wsgi", None)
        with pytest.raises(SystemExit) as stop:  # one line and gunicorn's "App failed to load" status
            importlib.import_module("cds_service.wsgi")
        assert stop.value.code == 4
        assert "CDS_ALLOWED_FHIR_SERVERS must be set in production" in capsys.readouterr().err
        monkeypatch.setenv("CDS_ALLOWED_FHIR_SERVERS", "https://fhir.example.org/r4")
        _sys.modules.pop("cds_service.wsgi", None)
        with pytest.raises(SystemExit) as stop:  # one line and gunicorn's "App failed to load" status
            importlib.import_module("cds_service.wsgi")
        assert stop.value.code == 4
        assert "CDS_TRUSTED_ISSUERS is empty" in capsys.readouterr().err
        monkeypatch.setenv("CDS_TRUSTED_ISSUERS", '{"https://ehr.example.org": "https://ehr.example.org/jwks"}')
        _sys.modules.pop("cds_service.wsgi", None)
        with pytest.raises(SystemExit) as stop:
            importlib.import_module("cds_service.wsgi")
        assert stop.value.code == 4
        assert "CDS_PUBLIC_BASE_URL must be set in production" in capsys.readouterr().err
        monkeypatch.setenv("CDS_PUBLIC_BASE_URL", "https://cds.example.org")
        _sys.modules.pop("cds_service.wsgi", None)
        wsgi = importlib.import_module("cds_service.wsgi")
        state = wsgi.app.extensions["cds"]
        assert state.config.production is True
        assert state.config.jwt_required is True
        assert state.verifier is not None
        assert wsgi.app.test_client().get("/cds-services").status_code == 401
        assert gc.get_threshold()[0] > gc_threshold[0] and gc.get_freeze_count() > 0  # tuned for serving
        state.close()
    finally:
        gc.unfreeze()  # the worker's GC tuning must not outlive this test in the test process
        gc.set_threshold(*gc_threshold)
        _sys.modules.pop("cds_service.wsgi", None)
        root = logging.getLogger()
        for handler in list(root.handlers):
            if handler not in root_handlers:
                root.removeHandler(handler)
        root.setLevel(root_level)
