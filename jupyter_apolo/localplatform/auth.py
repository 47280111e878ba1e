"""Bearer tokens of the embedded platform: HS256 JWTs signed with the platform's secret.

The identity claim is the one the apolo SDK reads without verifying the signature
(``https://platform.neuromation.io/user``, sdk ``_login._AuthToken.username``); the platform
itself verifies signature, expiry and that the user still exists on every request.
"""

from __future__ import annotations

import time
import uuid

import jwt

IDENTITY_CLAIM = "https://platform.neuromation.io/user"
JOB_CLAIM = "https://platform.neuromation.io/job"  # pass_config tokens die with their job


class TokenError(Exception):
    """The token is missing, malformed, forged or expired; the message says which."""


def mint(secret: bytes, user: str, *, lifetime: float | None = None, job_id: str | None = None) -> str:
    """A signed token for ``user``; ``lifetime`` in seconds (None: no expiry); ``job_id`` binds
    the token to a job's lifetime (used for ``pass_config``)."""
    now = int(time.time())
    claims: dict[str, object] = {IDENTITY_CLAIM: user, "identity": user, "iat": now, "jti": uuid.uuid4().hex}
    if lifetime is not None:
        claims["exp"] = now + int(lifetime)
    if job_id:
        claims[JOB_CLAIM] = job_id
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(secret: bytes, token: str) -> dict[str, object]:
    """The claims of a valid ``token``; raises ``TokenError`` naming what is wrong."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["iat"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("Token has expired: log in again") from None
    except jwt.InvalidSignatureError:
        raise TokenError("Invalid token signature") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"Invalid token: {exc}") from None
    if not isinstance(claims.get(IDENTITY_CLAIM), str):
        raise TokenError("Invalid token: no identity claim")
    return claims
