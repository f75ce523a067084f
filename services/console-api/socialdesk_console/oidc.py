"""OpenID Connect sign-in for forces: authorization code flow with PKCE against one
configured issuer. The discovery document and the JWKS are fetched and cached; an ID
token is accepted only with a valid signature (asymmetric algorithms only), the right
issuer and audience, an unexpired `exp` and the nonce this browser was given. Claims
become a force, teams and a role through config/oidc.yaml, so each force's identity
provider can keep its own claim names."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import yaml
from pydantic import BaseModel, ConfigDict, Field

from socialdesk.config import PlatformConfig
from socialdesk_console.auth import ROLES, MappedIdentity

ALLOWED_ALGS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}
ROLE_ORDER = {
    "national_viewer": 0,
    "national_duty": 1,
    "operator": 2,
    "comms": 3,
    "approver": 4,
    "supervisor": 5,
    "force_admin": 6,
    "dpo": 7,  # data protection officer: erasure, restriction, subject access
}


class OidcError(Exception):
    """Sign-in refused; the message is safe to show to the user."""


class ClaimMapping(BaseModel):
    """config/oidc.yaml: which claims carry the user's identity, force, teams and role."""

    model_config = ConfigDict(extra="forbid")

    username_claim: str = "preferred_username"
    name_claim: str = "name"
    force_claim: str = "force"
    force_values: dict[str, str] = Field(
        default_factory=dict, description="claim value -> force id, when they differ"
    )
    fixed_force: str | None = Field(None, description="one IdP per force: every user's force")
    teams_claim: str = "teams"
    role_claim: str = "roles"
    roles: dict[str, str] = Field(
        default_factory=lambda: {r: r for r in ROLES},
        description="claim value -> role; the highest role found wins",
    )
    skills_claim: str = "skills"


def load_mapping(path: Path) -> ClaimMapping:
    if not path.is_file():
        return ClaimMapping()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    mapping = ClaimMapping.model_validate(data)
    bad = {v for v in mapping.roles.values() if v not in ROLES}
    if bad:
        raise ValueError(f"{path}: roles: unknown role(s) {sorted(bad)}; use {ROLES}")
    return mapping


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def map_claims(
    claims: dict[str, Any], mapping: ClaimMapping, config: PlatformConfig
) -> MappedIdentity:
    """Claims to a user. No known role, or a force this platform doesn't know: refused."""
    username = claims.get(mapping.username_claim) or claims.get("sub")
    if not isinstance(username, str) or not username:
        raise OidcError("the identity provider sent no user name")
    roles = [
        mapping.roles[v] for v in _as_list(claims.get(mapping.role_claim)) if v in mapping.roles
    ]
    if not roles:
        raise OidcError("your account has no socialdesk role; ask your force administrator")
    role = max(roles, key=lambda r: ROLE_ORDER[r])
    force: str | None = mapping.fixed_force
    if force is None:
        raw = claims.get(mapping.force_claim)
        force = mapping.force_values.get(str(raw), str(raw)) if raw else None
    if role in ("national_viewer", "national_duty"):
        force = None
    elif force not in config.forces:
        raise OidcError("your account names no force this platform serves")
    teams: list[str] = []
    if force is not None:
        known = {t.id for t in config.forces[force].teams}
        teams = [t for t in _as_list(claims.get(mapping.teams_claim)) if t in known]
        teams = teams or ["digital-desk"]
    elif role == "national_duty":
        teams = [config.national.duty_queue.team]
    name = claims.get(mapping.name_claim)
    return MappedIdentity(
        username=username,
        display_name=str(name) if name else username,
        force=force,
        role=role,
        teams=tuple(teams),
        skills=tuple(_as_list(claims.get(mapping.skills_claim))),
    )


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) as RFC 7636 describes."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class _Cached:
    value: dict[str, Any]
    at: float


class OidcClient:
    """Talks to the issuer. The HTTP client is injectable so tests can use a fake issuer."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        scopes: str = "openid profile email",
        jwks_cache_s: int = 3600,
        leeway_s: int = 30,
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = scopes
        self.jwks_cache_s = jwks_cache_s
        self.leeway_s = leeway_s
        self.http = http or httpx.AsyncClient(timeout=timeout_s)
        self._discovery: _Cached | None = None
        self._jwks: _Cached | None = None
        self._last_forced_refresh = 0.0

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            resp = await self.http.get(url)
            resp.raise_for_status()
            data = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError("the identity provider is unavailable; try again shortly") from exc
        if not isinstance(data, dict):
            raise OidcError("the identity provider answered with something unexpected")
        return data

    async def discovery(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._discovery is None or now - self._discovery.at > self.jwks_cache_s:
            doc = await self._get_json(self.issuer + "/.well-known/openid-configuration")
            if doc.get("issuer", "").rstrip("/") != self.issuer:
                raise OidcError("the identity provider's discovery document names another issuer")
            self._discovery = _Cached(doc, now)
        return self._discovery.value

    async def jwks(self, force: bool = False) -> dict[str, Any]:
        now = time.monotonic()
        if force or self._jwks is None or now - self._jwks.at > self.jwks_cache_s:
            disc = await self.discovery()
            self._jwks = _Cached(await self._get_json(disc["jwks_uri"]), now)
        return self._jwks.value

    async def authorization_url(self, state: str, nonce: str, challenge: str) -> str:
        disc = await self.discovery()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{disc['authorization_endpoint']}?{urlencode(query)}"

    async def exchange(self, code: str, verifier: str) -> str:
        """Trade the code (and the PKCE verifier) for an ID token."""
        disc = await self.discovery()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier,
        }
        if self.client_secret:
            form["client_secret"] = self.client_secret
        try:
            resp = await self.http.post(disc["token_endpoint"], data=form)
        except httpx.HTTPError as exc:
            raise OidcError("the identity provider is unavailable; try again shortly") from exc
        if resp.status_code != 200:
            raise OidcError(f"the identity provider refused the sign-in ({resp.status_code})")
        token = resp.json().get("id_token")
        if not isinstance(token, str):
            raise OidcError("the identity provider sent no ID token")
        return token

    async def _key_for(self, kid: str | None) -> jwt.PyJWK:
        for force in (False, True):
            if force:
                # An unknown key id may mean the issuer rotated keys: refetch, at most
                # once a minute so forged kids can't make us hammer the issuer.
                if time.monotonic() - self._last_forced_refresh < 60:
                    break
                self._last_forced_refresh = time.monotonic()
            keys = (await self.jwks(force=force)).get("keys", [])
            for k in keys:
                if kid is None or k.get("kid") == kid:
                    try:
                        return jwt.PyJWK(k)
                    except jwt.PyJWTError as exc:
                        raise OidcError("the identity provider's signing key is unusable") from exc
        raise OidcError("ID token signed with an unknown key")

    async def validate(self, token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims, or OidcError naming what was wrong."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise OidcError("ID token is malformed") from exc
        alg = header.get("alg")
        if alg not in ALLOWED_ALGS:
            raise OidcError(f"ID token algorithm {alg!r} is not accepted")
        key = await self._key_for(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.client_id,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise OidcError("ID token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise OidcError("ID token was issued for another application (audience)") from exc
        except jwt.InvalidIssuerError as exc:
            raise OidcError("ID token comes from another issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise OidcError("ID token signature is not valid") from exc
        except jwt.PyJWTError as exc:
            raise OidcError(f"ID token refused: {exc}") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("ID token nonce does not match this sign-in")
        return claims
