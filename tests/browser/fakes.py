"""Small local stand-ins for outside parties the console talks to over HTTP: an OpenID
Connect issuer (discovery, JWKS, authorize, token; signs with a key generated here) and
a platform API that can fail on demand. Real HTTP servers on free ports, so the console
runs unchanged against them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from socialdesk_tools.stack import free_port, port_open, wait_for


class Served:
    """Runs an ASGI app with uvicorn in a thread until stop()."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Served:
        self.thread.start()
        wait_for(lambda: port_open(self.port), 20, "fake server")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class FakeIssuer:
    """An OIDC issuer. `mode` says what the next ID token looks like: valid, tampered,
    wrong_audience, expired (or wrong_nonce)."""

    client_id: str = "socialdesk-console"
    mode: str = "valid"
    claims: dict[str, Any] = field(
        default_factory=lambda: {
            "preferred_username": "oidc.operator",
            "name": "Olly OIDC (Merseyside)",
            "force": "Merseyside Police",
            "teams": ["digital-desk"],
            "roles": ["socialdesk-operator"],
        }
    )
    issuer: str = ""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    kid: str = "test-key-1"

    def jwk(self) -> dict[str, Any]:
        import json

        data: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {
            **self.claims,
            "iss": self.issuer,
            "sub": "sub-" + str(self.claims.get("preferred_username")),
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        }
        if self.mode == "wrong_audience":
            claims["aud"] = "some-other-app"
        if self.mode == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        if self.mode == "wrong_nonce":
            claims["nonce"] = "not-the-nonce"
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        if self.mode == "tampered":
            head, body, sig = token.split(".")
            payload = jwt.utils.base64url_decode(body.encode())
            payload = payload.replace(b"socialdesk-operator", b"socialdesk-force-admin")
            token = ".".join([head, jwt.utils.base64url_encode(payload).decode(), sig])
        return token

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            return {"keys": [self.jwk()]}

        @app.get("/authorize")
        async def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            assert q["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "nonce": q["nonce"],
                "challenge": q["code_challenge"],
                "redirect_uri": q["redirect_uri"],
            }
            target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(target, status_code=302)

        @app.post("/token")
        async def token(
            code: str = Form(),
            code_verifier: str = Form(),
            client_id: str = Form(),
            redirect_uri: str = Form(),
        ) -> JSONResponse:
            grant = self.codes.pop(code, None)
            if grant is None or client_id != self.client_id:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                return JSONResponse({"error": "invalid_grant", "why": "pkce"}, status_code=400)
            return JSONResponse(
                {
                    "access_token": "at",
                    "token_type": "Bearer",
                    "id_token": self.id_token(grant["nonce"]),
                }
            )

        return app


@dataclass
class FakePlatform:
    """X API v2 and Graph API stand-in: answers 503 to the first `fail_first` sends, and
    while `hold` is set takes each send (recorded) but keeps the answer back. Takes X
    posts and replies (/2/tweets) and Facebook Page posts (/me/feed, /me/photos), each
    recorded with the token it came with (`auth`), so a test counts what each account
    received; X image uploads and their alt text (/2/media/upload, /2/media/metadata) are
    kept in `media`, and posted_media() says which images each post carried."""

    fail_first: int = 0
    hold: bool = False
    refused_tokens: set[str] = field(default_factory=set)  # answered 401, as X an expired one
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)  # X uploads by media id

    def received(self) -> dict[tuple[str | None, str], int]:
        """How many times each (token, text) arrived: 2 is a post sent twice."""
        with self.lock:
            out: dict[tuple[str | None, str], int] = {}
            for c in self.calls:
                key = (c["auth"], str(c["body"].get("text") or c["body"].get("message") or ""))
                out[key] = out.get(key, 0) + 1
            return out

    async def _take(self, path: str, body: dict[str, Any], auth: str | None) -> JSONResponse:
        with self.lock:
            self.calls.append({"path": path, "body": body, "auth": auth})
            n = len(self.calls)
            failing = self.fail_first > 0
            if failing:
                self.fail_first -= 1
        while self.hold:  # noqa: ASYNC110 - released from the test's thread, not this loop
            await asyncio.sleep(0.05)
        if (auth or "").removeprefix("Bearer ") in self.refused_tokens:
            return JSONResponse({"title": "Unauthorized"}, status_code=401)
        if failing:
            return JSONResponse({"title": "Service Unavailable"}, status_code=503)
        return JSONResponse(
            {"data": {"id": str(1000 + n), "text": body.get("text")}, "id": f"{n}"}, status_code=201
        )

    def _token_refused(self, auth: str | None) -> bool:
        token = (auth or "").removeprefix("Bearer ")
        return not token or token in self.refused_tokens

    def posted_media(self) -> dict[str, list[tuple[str, str, str]]]:
        """Per post text, its images as X has them: (content type, alt text, token)."""
        with self.lock:
            out: dict[str, list[tuple[str, str, str]]] = {}
            for c in [call for call in self.calls if call["path"] == "/2/tweets"]:
                ids = (c["body"].get("media") or {}).get("media_ids") or []
                media = [self.media[i] for i in ids]
                out[str(c["body"].get("text"))] = [
                    (m["content_type"], m["alt_text"], m["auth"]) for m in media
                ]
            return out

    async def _upload(self, request: Request) -> JSONResponse:
        """X's POST /2/media/upload (multipart): keeps the file's type and size."""
        auth = request.headers.get("authorization")
        if self._token_refused(auth):
            return JSONResponse({"title": "Unauthorized"}, status_code=401)
        form = await request.form()
        media = form.get("media")
        if media is None or isinstance(media, str) or not form.get("media_category"):
            return JSONResponse({"title": "Invalid Request"}, status_code=400)
        body = await media.read()
        with self.lock:
            media_id = str(7000 + len(self.media))
            self.media[media_id] = {
                "content_type": media.content_type or "",
                "bytes": len(body),
                "category": form.get("media_category"),
                "alt_text": "",
                "auth": auth,
            }
        return JSONResponse({"data": {"id": media_id, "media_key": f"3_{media_id}"}})

    async def _metadata(self, request: Request) -> JSONResponse:
        """X's POST /2/media/metadata: the alt text of media this token uploaded."""
        auth = request.headers.get("authorization")
        if self._token_refused(auth):
            return JSONResponse({"title": "Unauthorized"}, status_code=401)
        body = await request.json()
        with self.lock:
            found = self.media.get(str(body.get("id")))
            if found is None or found["auth"] != auth:
                return JSONResponse({"title": "Not Found"}, status_code=404)
            found["alt_text"] = body["metadata"]["alt_text"]["text"]
        return JSONResponse({"data": {"id": body["id"]}})

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/2/tweets")
        async def tweet(request: Request) -> JSONResponse:
            body = await request.json()
            ids = (body.get("media") or {}).get("media_ids") or []
            if any(i not in self.media for i in ids):
                return JSONResponse({"title": "Invalid Request"}, status_code=400)
            return await self._take("/2/tweets", body, request.headers.get("authorization"))

        app.post("/2/media/upload")(self._upload)
        app.post("/2/media/metadata")(self._metadata)

        @app.post("/me/feed")
        @app.post("/me/photos")
        async def page(request: Request) -> JSONResponse:
            body = await request.json()
            return await self._take(
                request.url.path, body, request.query_params.get("access_token")
            )

        return app


@dataclass
class FakeCdn:
    """A platform's media host (docs/media.md): serves `files` by name with the type the
    platform would claim; `huge.jpg` is a JPEG of `huge_bytes` sent in chunks with no
    length, counting what it has sent; names starting `dm-` need `Bearer <token>`."""

    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    token: str = "cdn-token"
    huge_bytes: int = 64 * 1024 * 1024
    huge_sent: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/media/{name}")
        async def media(name: str, request: Request) -> Response:
            auth = request.headers.get("authorization")
            self.calls.append({"name": name, "auth": auth})
            if name == "huge.jpg":
                return StreamingResponse(self._huge(), media_type="image/jpeg")
            if name.startswith("dm-") and auth != f"Bearer {self.token}":
                return Response(status_code=403)
            if name not in self.files:
                return Response(status_code=404)
            body, content_type = self.files[name]
            return Response(body, media_type=content_type)

        return app

    async def _huge(self) -> Any:
        chunk = b"\xff\xd8\xff\xe0" + bytes(256 * 1024 - 4)
        while self.huge_sent < self.huge_bytes:
            self.huge_sent += len(chunk)
            yield chunk
            chunk = bytes(256 * 1024)
