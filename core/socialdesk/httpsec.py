"""The security headers every HTTP service sends, and whether it serves API docs.

One set for all (console, ingest, and the ops endpoints of every other service), so an
IT health check finds the same answer wherever it looks. The console adds its own page
Content-Security-Policy; the others serve JSON and text only, so theirs forbids
everything. Interactive docs (/docs, /redoc) exist in development only: they need inline
scripts the CSP forbids, and they list every route to whoever asks."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def security_headers(environment: str, csp: str = API_CSP) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if environment == "production":  # served over TLS there (the settings insist)
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def docs_options(environment: str) -> dict[str, Any]:
    """FastAPI's docs_url and redoc_url: on in development, off anywhere else."""
    if environment == "development":
        return {"docs_url": "/docs", "redoc_url": "/redoc"}
    return {"docs_url": None, "redoc_url": None}


def wrap_send(send: Send, scope: Scope, headers: list[tuple[bytes, bytes]]) -> Send:
    """`send`, adding the headers to the response start (a header the handler set itself
    wins) and Cache-Control: no-store except under /static/."""
    no_store = not str(scope.get("path", "")).startswith("/static/")

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            have = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in headers if k not in have]
            if no_store and b"cache-control" not in have:
                extra.append((b"cache-control", b"no-store"))
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sender


class SecurityHeaders:
    """Pure ASGI middleware: every HTTP answer carries the headers, errors included."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, wrap_send(send, scope, self.headers))
