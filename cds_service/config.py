"""Settings: ``CDS_*`` environment variables over an optional TOML file, with safe defaults.

Every setting is validated when the configuration is built, so a wrong value
stops the service at startup with a message that names the variable, instead
of failing later in front of a clinician. The table of variables is in the
README, "Configuration".

Precedence: environment variable > TOML file (``CDS_CONFIG_FILE``; keys are the
variable names without the ``CDS_`` prefix, lower case, e.g. ``jwt_required =
true``) > default. ``production=True`` (the gunicorn entry point) turns JWT
verification on by default and requires ``CDS_ALLOWED_FHIR_SERVERS`` (and,
with JWT on, ``CDS_PUBLIC_BASE_URL``: the JWT audience is never taken from the
request's ``Host`` header).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tomllib
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cds_service.fhir.urls import UnsafeUrl, is_loopback_host, parse_target

log = logging.getLogger(__name__)

APP_DIR_NAME = "neuro-onc-cds"
LANGUAGES = ("nl", "en")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class ConfigError(ValueError):
    """A setting has an invalid value (raised at startup)."""


def data_dir() -> Path:
    """The platform's per-user data directory for this service (never the working directory)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_DIR_NAME


def default_database() -> str:
    return str(data_dir() / "feedback.sqlite3")


def normalise_base_url(url: str) -> str:
    """Compare FHIR base URLs as parsed parts: scheme, host, port, path (case-insensitive host, no trailing slash).

    Parsed by :func:`cds_service.fhir.urls.parse_target`, the parser that connects;
    raises :class:`~cds_service.fhir.urls.UnsafeUrl` for a URL the service would never contact.
    """
    return parse_target(url.strip(), allow_query=False).base


@dataclass(frozen=True)
class Config:
    """All settings of one service instance. Build with :meth:`from_env` or directly in tests."""

    jwt_required: bool = False
    trusted_issuers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # iss -> JWKS sources
    jwt_leeway: int = 60
    jwt_max_lifetime: int = 300  # exp - iat at most this; iat no older than this (+ leeway)
    allowed_fhir_servers: tuple[str, ...] = ()
    database: str = field(default_factory=default_database)
    language: str = "nl"
    timezone: str = "Europe/Amsterdam"
    fhir_timeout: float = 3.0  # wall-clock budget of all FHIR fetches of one hook call (bodies included)
    fhir_max_pages: int = 10
    fhir_max_bytes: int = 32 * 1024 * 1024  # bytes read from the FHIR server per hook call
    fhir_max_resources: int = 20_000  # resources fetched per hook call
    fhir_workers: int = 8
    cors_origins: tuple[str, ...] = ("*",)
    max_body_bytes: int = 10 * 1024 * 1024  # larger requests are answered 413
    fixed_now: datetime | None = None
    demo_fhir: bool = False
    public_base_url: str | None = None
    redis_url: str | None = None  # scale-out: shared jti replay cache across worker processes
    production: bool = False

    # -- building ----------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, production: bool = False,
                 **overrides: Any) -> "Config":
        """Read ``CDS_*`` variables (and ``CDS_CONFIG_FILE``), apply ``overrides``, validate."""
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        config_file = env.get("CDS_CONFIG_FILE")
        if config_file:
            raw.update(_read_toml(config_file))
        for f in fields(cls):
            if f.name == "production":
                continue
            name = "CDS_" + f.name.upper()
            if name in env and env[name].strip() != "":
                raw[f.name] = env[name]
        values: dict[str, Any] = {}
        for key, value in raw.items():
            parser = _PARSERS.get(key)
            if parser is None:
                raise ConfigError(f"{config_file}: unknown setting {key!r}")
            values[key] = parser("CDS_" + key.upper(), value)
        if production and "jwt_required" not in values:
            values["jwt_required"] = True
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(production=production, **values)
        config.validate()
        return config

    # -- checking ----------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the setting when a value makes no sense."""
        if self.language not in LANGUAGES:
            raise ConfigError(f"CDS_LANGUAGE must be one of {LANGUAGES}, got {self.language!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"CDS_TIMEZONE: unknown time zone {self.timezone!r}") from None
        if self.jwt_leeway < 0 or self.jwt_leeway > 600:
            raise ConfigError("CDS_JWT_LEEWAY must be between 0 and 600 seconds")
        if not 30 <= self.jwt_max_lifetime <= 3600:
            raise ConfigError("CDS_JWT_MAX_LIFETIME must be between 30 and 3600 seconds")
        if not 0 < self.fhir_timeout <= 60:
            raise ConfigError("CDS_FHIR_TIMEOUT must be > 0 and at most 60 seconds (it bounds every hook call)")
        if not 1024 <= self.fhir_max_bytes <= 1024 ** 3:
            raise ConfigError("CDS_FHIR_MAX_BYTES must be between 1024 and 1073741824")
        if not 1 <= self.fhir_max_resources <= 1_000_000:
            raise ConfigError("CDS_FHIR_MAX_RESOURCES must be between 1 and 1000000")
        if not 1 <= self.fhir_max_pages <= 1000:
            raise ConfigError("CDS_FHIR_MAX_PAGES must be between 1 and 1000")
        if not 1 <= self.fhir_workers <= 256:
            raise ConfigError("CDS_FHIR_WORKERS must be between 1 and 256")
        for iss, sources in self.trusted_issuers.items():
            if not iss:
                raise ConfigError("CDS_TRUSTED_ISSUERS: empty issuer")
            if not sources:
                raise ConfigError(f"CDS_TRUSTED_ISSUERS: issuer {iss!r} has no JWKS source")
            for source in sources:
                _check_jwks_source(iss, source)
        for url in self.allowed_fhir_servers:
            try:
                parse_target(url, allow_query=False)
            except UnsafeUrl as exc:
                raise ConfigError(f"CDS_ALLOWED_FHIR_SERVERS: {url!r} is not an http(s) base URL the service "
                                  f"can use ({exc})") from None
        if self.production and not self.allowed_fhir_servers:
            raise ConfigError(
                "CDS_ALLOWED_FHIR_SERVERS must be set in production (comma-separated FHIR base URLs "
                "the service may fetch from)"
            )
        if self.jwt_required and not self.trusted_issuers:
            raise ConfigError("CDS_JWT_REQUIRED is on but CDS_TRUSTED_ISSUERS is empty: no client could call")
        if self.public_base_url is not None:
            try:
                parse_target(self.public_base_url, allow_query=False)
            except UnsafeUrl as exc:
                raise ConfigError(f"CDS_PUBLIC_BASE_URL: {self.public_base_url!r} is not an absolute http(s) URL "
                                  f"({exc})") from None
        if self.production and self.jwt_required and not self.public_base_url:
            raise ConfigError(
                "CDS_PUBLIC_BASE_URL must be set in production when JWT verification is on: it is the JWT "
                "audience (the service never takes it from the Host or X-Forwarded-* headers)"
            )
        if self.fixed_now is not None and self.fixed_now.tzinfo is None:
            raise ConfigError("CDS_FIXED_NOW needs a time zone offset (e.g. 2026-11-24T09:00:00Z)")
        if not self.database:
            raise ConfigError("CDS_DATABASE must not be empty")
        if not self.cors_origins:
            raise ConfigError("CDS_CORS_ORIGINS must name at least one origin (or *)")
        if not 1024 <= self.max_body_bytes <= 1024 ** 3:
            raise ConfigError("CDS_MAX_BODY_BYTES must be between 1024 and 1073741824 bytes")

    @property
    def is_postgres(self) -> bool:
        return self.database.startswith(("postgresql://", "postgres://"))


# -- value parsers (env strings and TOML values) ----------------------------------

def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None


def _float(name: str, value: Any) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {value!r}")
    return value.strip()


def _lang(name: str, value: Any) -> str:
    return _str(name, value).lower()


def _list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        raise ConfigError(f"{name} must be a comma-separated list, got {value!r}")
    return tuple(i.strip() for i in items if i.strip())


def _issuers(name: str, value: Any) -> dict[str, tuple[str, ...]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name} must be a JSON object {{iss: JWKS URL}}: {exc.msg}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object mapping iss to a JWKS URL or file: path")
    out: dict[str, tuple[str, ...]] = {}
    for iss, sources in value.items():
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
            raise ConfigError(f"{name}: issuer {iss!r} needs a JWKS URL, a file: path or a list of them")
        out[str(iss)] = tuple(sources)
    return out


def _datetime(name: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{name} must be an ISO 8601 date-time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise ConfigError(f"{name} needs a time zone offset (e.g. 2026-11-24T09:00:00Z)")
    return parsed.astimezone(timezone.utc)


def _optional_str(name: str, value: Any) -> str | None:
    text = _str(name, value)
    return text or None


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "jwt_required": _bool,
    "trusted_issuers": _issuers,
    "jwt_leeway": _int,
    "jwt_max_lifetime": _int,
    "allowed_fhir_servers": _list,
    "database": _str,
    "language": _lang,
    "timezone": _str,
    "fhir_timeout": _float,
    "fhir_max_pages": _int,
    "fhir_max_bytes": _int,
    "fhir_max_resources": _int,
    "fhir_workers": _int,
    "cors_origins": _list,
    "max_body_bytes": _int,
    "fixed_now": _datetime,
    "demo_fhir": _bool,
    "public_base_url": _optional_str,
    "redis_url": _optional_str,
}


def _check_jwks_source(iss: str, source: str) -> None:
    if source.startswith("file:"):
        return
    try:
        target = parse_target(source)
    except UnsafeUrl:
        target = None
    if target is not None and (target.scheme == "https" or target.is_loopback):
        return
    raise ConfigError(
        f"CDS_TRUSTED_ISSUERS: JWKS source {source!r} of {iss!r} must be an https URL "
        "(http only on loopback) or a file: path"
    )


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"CDS_CONFIG_FILE: {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"CDS_CONFIG_FILE: {path} is not valid TOML: {exc}") from None
    # Accept a [cds] table as well as top-level keys; keys may be written with or without "cds_".
    if isinstance(data.get("cds"), dict):
        data = {**{k: v for k, v in data.items() if k != "cds"}, **data["cds"]}
    return {k.lower().removeprefix("cds_"): v for k, v in data.items()}
