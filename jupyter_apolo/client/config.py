"""Where credentials come from, resolved once into an immutable ``ApoloConfig``.

Order (as the design says, mirroring the apolo CLI): explicit arguments > ``APOLO_PASSED_CONFIG``
/ ``NEURO_PASSED_CONFIG`` (reference §1.5) > the apolo CLI's config db (``APOLO_CONFIG`` or
``~/.apolo/db``, read-only, schema §1.4) > the embedded platform the launcher started (a JSON
file named by ``JUPYTER_APOLO_EMBEDDED``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import jwt

from .errors import ConfigError
from .jobs import current_job

IDENTITY_CLAIMS = ("identity", "https://platform.neuromation.io/user")  # sdk _login._AuthToken.username
PASSED_CONFIG_VARS = ("APOLO_PASSED_CONFIG", "NEURO_PASSED_CONFIG")
EMBEDDED_VAR = "JUPYTER_APOLO_EMBEDDED"
DEFAULT_EMBEDDED = "~/.local/share/jupyter-apolo/embedded.json"

HOW_TO_LOGIN = (
    "No Apolo credentials found. Run one of: `apolo login` (your platform account), "
    "`apolo config login-with-token TOKEN URL` (a token, URL ending in /api/v1), "
    "or `jupyter apolo lab` (starts the embedded platform)."
)


@dataclass(frozen=True)
class ApoloConfig:
    """Connection settings for one platform user.

    ``url``: API base including ``/api/v1``; ``token``: bearer token (never shown in repr);
    ``cluster``/``org``/``project``: the current ones (None until known: ``AsyncApolo`` fills
    them from ``/config`` as ``apolo config login-with-token`` does); ``username``: the JWT
    identity claim; ``source``: ``"explicit" | "passed-config" | "apolo-cli" | "embedded"``.
    """

    url: str
    token: str = field(repr=False)
    cluster: str | None = None
    org: str | None = None
    project: str | None = None
    username: str = ""
    source: str = "explicit"

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url.rstrip("/"))
        if not self.username:
            object.__setattr__(self, "username", username_from_token(self.token))

    def with_scope(self, *, cluster: str | None = None, org: str | None = None,
                   project: str | None = None) -> "ApoloConfig":
        """A copy with the given cluster/org/project replaced (None keeps the current value)."""
        return replace(self, cluster=cluster or self.cluster, org=org or self.org, project=project or self.project)


def username_from_token(token: str) -> str:
    """The user named by a platform JWT, read without verifying the signature (as the SDK does).

    Raises ``ConfigError`` if ``token`` is not a JWT carrying an identity claim.
    """
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ConfigError("The Apolo token is not a JWT; get a fresh one with `apolo config show-token`.") from None
    for claim in IDENTITY_CLAIMS:
        if isinstance(claims.get(claim), str) and claims[claim]:
            return claims[claim]
    raise ConfigError("The Apolo token carries no identity claim; get a fresh one with `apolo config show-token`.")


def resolve_config(
    *,
    url: str | None = None,
    token: str | None = None,
    cluster: str | None = None,
    org: str | None = None,
    project: str | None = None,
    environ: Mapping[str, str] | None = None,
    apolo_config_dir: str | os.PathLike[str] | None = None,
) -> ApoloConfig:
    """The first credential source found, with explicit ``cluster``/``org``/``project`` applied on top.

    ``url`` + ``token`` together make an explicit config; ``environ`` defaults to ``os.environ``;
    ``apolo_config_dir`` overrides ``APOLO_CONFIG``. Raises ``ConfigError`` when nothing is found
    (the message says exactly what to run) or a source is malformed.
    """
    env = os.environ if environ is None else environ
    if url or token:
        if not (url and token):
            missing = "token" if url else "url"
            raise ConfigError(f"Explicit Apolo config needs both url and token; {missing} is missing.")
        found: ApoloConfig | None = ApoloConfig(url=url, token=token, source="explicit")
    else:
        found = (
            _from_passed_config(env)
            or _from_apolo_cli(_apolo_config_dir(env, apolo_config_dir))
            or _from_embedded(env)
        )
    if found is None:
        job = current_job(env)
        raise ConfigError(HOW_TO_LOGIN if job is None else (
            f"No Apolo credentials in this job ({job.id}): it was started without its owner's config. Run it with "
            "`pass_config: true` on the job in .neuro/live.yml (apolo-flow) or `apolo run --pass-config`, "
            "or log in here with `apolo config login-with-token TOKEN URL`."))
    return found.with_scope(cluster=cluster, org=org, project=project)


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def _expand(path: str, env: Mapping[str, str]) -> Path:
    return _home(env) / path[2:] if path.startswith("~/") else Path(path)


def _from_passed_config(env: Mapping[str, str]) -> ApoloConfig | None:
    for var in PASSED_CONFIG_VARS:
        blob = env.get(var)
        if not blob:
            continue
        try:
            data = json.loads(base64.b64decode(blob.encode(), validate=False))
            token, cluster, url = data["token"], data["cluster"], data["url"]
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise ConfigError(f"{var} is malformed: expected base64 of JSON with token, cluster and url "
                              "(as `apolo run --pass-config` sets it). Unset it or fix it.") from None
        return ApoloConfig(url=url, token=token, cluster=cluster, org=data.get("org_name"),
                           project=data.get("project_name"), source="passed-config")
    return None


def _apolo_config_dir(env: Mapping[str, str], override: str | os.PathLike[str] | None) -> Path:
    if override:
        return Path(override)
    if env.get("APOLO_CONFIG"):
        return _expand(env["APOLO_CONFIG"], env)
    default = _home(env) / ".apolo"
    if not (default / "db").exists():  # the SDK falls back to the Neuro-era location
        legacy = _expand(env["NEUROMATION_CONFIG"], env) if env.get("NEUROMATION_CONFIG") else _home(env) / ".neuro"
        if (legacy / "db").exists():
            return legacy
    return default


def _from_apolo_cli(config_dir: Path) -> ApoloConfig | None:
    """Read the CLI's ``db`` read-only (never creating or locking it; permission bits are the CLI's business)."""
    db = config_dir / "db"
    if not db.is_file():
        return None
    row = None
    for mode in ("ro", "ro&immutable=1"):  # immutable: a WAL db in a dir we may not write to
        try:
            con = sqlite3.connect(f"{db.resolve().as_uri()}?mode={mode}", uri=True)
            try:
                con.row_factory = sqlite3.Row
                row = con.execute("SELECT * FROM main LIMIT 1").fetchone()
            finally:
                con.close()
            break
        except sqlite3.Error as exc:
            error = exc
    else:
        raise ConfigError(f"Cannot read the apolo CLI config {db}: {error}. Run `apolo login` again.")
    if row is None or not row["token"] or not row["url"]:
        return None
    if row["expiration_time"] and row["expiration_time"] < time.time() and not row["refresh_token"]:
        raise ConfigError(f"The apolo CLI token in {db} has expired. Run `apolo login` again.")
    return ApoloConfig(url=row["url"], token=row["token"], cluster=row["cluster_name"], org=row["org_name"],
                       project=row["project_name"], source="apolo-cli")


def embedded_file(environ: Mapping[str, str] | None = None) -> Path:
    """Path of the embedded platform's credentials file (``JUPYTER_APOLO_EMBEDDED`` or the default)."""
    env = os.environ if environ is None else environ
    return _expand(env.get(EMBEDDED_VAR) or DEFAULT_EMBEDDED, env)


def _from_embedded(env: Mapping[str, str]) -> ApoloConfig | None:
    path = embedded_file(env)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        url, token = data["url"], data["token"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"{path} is malformed (expected JSON with url, token, cluster, org, project). "
                          "Restart `jupyter apolo lab` to rewrite it.") from None
    return ApoloConfig(url=url, token=token, cluster=data.get("cluster"), org=data.get("org"),
                       project=data.get("project"), source="embedded")
