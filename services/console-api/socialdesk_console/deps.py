"""FastAPI dependency aliases: who is asking, and checks every route shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from socialdesk_console.auth import User

COOKIE = "sd_session"


class NotSignedIn(Exception):
    """Raised for a page request without a valid session: redirect to sign-in."""


def current_user_or_none(request: Request) -> User | None:
    user: User | None = request.app.state.sessions.read(request.cookies.get(COOKIE))
    return user


def api_user(request: Request) -> User:
    user = current_user_or_none(request)
    if user is None:
        raise HTTPException(status_code=401, detail="sign in first")
    return user


def page_user(request: Request) -> User:
    user = current_user_or_none(request)
    if user is None:
        raise NotSignedIn()
    return user


ApiUser = Annotated[User, Depends(api_user)]
PageUser = Annotated[User, Depends(page_user)]
