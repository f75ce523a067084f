"""The data protection officer's page (docs/data-protection.md): erasure, restriction and
subject access of one person, for the DPO's own force; and legal holds on an item, for
supervisors, force administrators and the DPO. Every action and consultation is audited;
the erasure runs in the background and its page shows its progress."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from elasticsearch import NotFoundError
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socialdesk import indices
from socialdesk.access import build_zip, collect
from socialdesk.erasing import (
    Eraser,
    active_holds,
    kafka_eraser,
    new_request_id,
    object_store,
    place_hold,
    release_hold,
    set_restricted,
)
from socialdesk.erasure import (
    ACCESS_ACTION,
    DPO_ROLE,
    ERASED_ACTION,
    ERASURE_PLANNED_ACTION,
    HELD_ACTION,
    HOLD_ROLES,
    RELEASED_ACTION,
    REQUESTED_ACTION,
    RESTRICTED_ACTION,
    UNRESTRICTED_ACTION,
    ErasureReport,
    Hold,
    HoldScope,
    Person,
    Store,
)
from socialdesk.events import utcnow
from socialdesk.taxonomy import Platform
from socialdesk_console.audit import audit_event
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import Ctx, api_user, page_user
from socialdesk_console.i18n import N_, _
from socialdesk_console.items import fetch_item
from socialdesk_console.protection import summary_language

log = logging.getLogger(__name__)
router = APIRouter()
RUNNING: set[asyncio.Task[None]] = set()  # referenced until done, so none is collected
JOB_STATUS_NAMES = (N_("running"), N_("done"), N_("failed"))  # the report page's statuses
STORE_NAMES = {
    Store.items: N_("their items, deleted"),
    Store.items_redacted: N_("other people's items, their messages removed"),
    Store.events: N_("timeline entries"),
    Store.sla: N_("SLA clocks"),
    Store.corrections: N_("operators' corrections"),
    Store.author_days: N_("author history (days)"),
    Store.attachments: N_("attachment records"),
    Store.objects: N_("attachment files"),
    Store.kafka: N_("Kafka tombstones"),
}
STEP_NAMES = {
    "": N_("starting"),
    "finding": N_("finding their data"),
    "items": N_("deleting their items"),
    "redacting": N_("removing their messages from other items"),
    "author_history": N_("deleting author history"),
    "attachments": N_("deleting attachments"),
    "kafka": N_("making Kafka copies unreadable"),
    "finished": N_("finished"),
}


def _dpo(user: User) -> User:
    if user.role != DPO_ROLE or user.force is None:
        raise HTTPException(403, N_("data protection requests are for the force's DPO"))
    return user


def dpo_user(user: Annotated[User, Depends(api_user)]) -> User:
    return _dpo(user)


def dpo_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    return _dpo(user)


def hold_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    if user.role not in HOLD_ROLES or user.force is None:
        raise HTTPException(403, N_("legal holds are for supervisors, admins and the DPO"))
    return user


DpoUser = Annotated[User, Depends(dpo_user)]
DpoPageUser = Annotated[User, Depends(dpo_page_user)]
HoldPageUser = Annotated[User, Depends(hold_page_user)]
Text = Annotated[str, Form(max_length=300)]
ERASE_UNCONFIRMED = N_("Tick to confirm: an erasure cannot be undone (or tick Dry run)")


def _check_csrf(user: User, csrf: str) -> None:
    if not secrets.compare_digest(user.csrf, csrf):
        raise HTTPException(403, N_("CSRF check failed: reload the page and try again"))


def person_errors(platform: str, author: str, reason: str | None) -> dict[str, str]:
    """Each field's problem (the page shows it next to the field), none if all is well."""
    errors = {}
    if platform not in {p.value for p in Platform}:
        errors["platform"] = N_("Choose the platform")
    if not author.strip():
        errors["author"] = N_("Enter the author's id on that platform")
    if reason is not None and len(reason.strip()) < 5:
        errors["reason"] = N_("Enter the request's reference (at least 5 characters)")
    return errors


async def recent_erasures(ctx: ConsoleContext, force: str | None) -> list[dict[str, Any]]:
    resp = await ctx.search(
        index=ctx.index(indices.ERASURES),
        query={"term": {"force": force}},
        sort=[{"at": "desc"}],
        size=20,
    )
    return [h["_source"] for h in resp["hits"]["hits"]]


async def dp_page(
    request: Request, ctx: ConsoleContext, user: User, status: int = 200, **extra: Any
) -> Response:
    """The DPO's page: the three forms and the force's recent erasures."""
    resp = ctx.page(
        request,
        "dataprotection.html",
        user,
        platforms=[p.value for p in Platform],
        erasures=await recent_erasures(ctx, user.force),
        holds=[
            h.document()
            for h in await active_holds(ctx.es, ctx.settings, utcnow())
            if h.force == user.force
        ],
        errors=extra.pop("errors", {}),
        form=extra.pop("form", {}),
        **extra,
    )
    resp.status_code = status
    return resp


@router.get("/data-protection", response_class=HTMLResponse, tags=["pages"])
async def data_protection_page(request: Request, user: DpoPageUser, ctx: Ctx) -> Response:
    await ctx.audit.write([audit_event(user, request, "erasures.listed", "erasures", None)])
    return await dp_page(request, ctx, user)


async def _save(ctx: ConsoleContext, report: ErasureReport) -> None:
    await ctx.es.index(
        index=ctx.index(indices.ERASURES),
        id=report.request_id,
        document=report.document(),
        refresh=True,
    )


async def _run_erasure(
    ctx: ConsoleContext, user: User, request: Request, person: Person, form: dict[str, Any]
) -> None:
    """The erasure itself, saving its report at each step; its audit record at the end."""
    eraser = Eraser(
        ctx.es,
        ctx.settings,
        objects=object_store(ctx.settings),
        kafka=kafka_eraser(),
        progress=lambda r: _save(ctx, r),
        force=user.force,
    )
    report = await eraser.run(
        person,
        requested_by=user.username,
        reason=form["reason"],
        dry_run=form["dry_run"],
        request_id=form["request_id"],
    )
    action = ERASURE_PLANNED_ACTION if report.dry_run else ERASED_ACTION
    try:
        await ctx.audit.write(
            [
                audit_event(
                    user, request, action, "erasure", report.request_id, **report.audit_details()
                )
            ]
        )
    except HTTPException:
        log.error("erasure not audited", extra={"request_id": report.request_id})


async def _person_form(
    request: Request,
    ctx: ConsoleContext,
    user: User,
    csrf: str,
    which: str,
    platform: str,
    author: str,
    reason: str | None,
) -> tuple[dict[str, str], Response | None]:
    """A DPO's person form, checked: the form as entered, and the page again with the
    errors beside their fields when it is incomplete."""
    _check_csrf(user, csrf)
    form = {"platform": platform, "author": author.strip()}
    if reason is not None:
        form["reason"] = reason.strip()
    errors = person_errors(platform, author, reason)
    if errors:
        return form, await dp_page(request, ctx, user, 422, errors=errors, form=form, which=which)
    return form, None


@router.post("/data-protection/erase", response_class=HTMLResponse, tags=["pages"])
async def erase_person(
    request: Request,
    user: DpoPageUser,
    ctx: Ctx,
    csrf: Text,
    platform: Text = "",
    author: Text = "",
    reason: Text = "",
    dry_run: Annotated[bool, Form()] = False,
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    """Start an erasure (or a dry run) of one person in the DPO's force; a real one only
    once the DPO has ticked that it cannot be undone."""
    form, refused = await _person_form(request, ctx, user, csrf, "erase", platform, author, reason)
    if refused is not None:
        return refused
    if not dry_run and not confirm:
        errors = {"confirm": ERASE_UNCONFIRMED}
        return await dp_page(request, ctx, user, 422, errors=errors, form=form, which="erase")
    request_id = new_request_id()
    await ctx.audit.write(
        [audit_event(user, request, REQUESTED_ACTION, "erasure", request_id, dry_run=dry_run)]
    )
    person = Person(platform, form["author"])
    job = {**form, "dry_run": dry_run, "request_id": request_id}
    task = asyncio.create_task(_run_erasure(ctx, user, request, person, job))
    RUNNING.add(task)
    task.add_done_callback(RUNNING.discard)
    return RedirectResponse(f"/data-protection/erasures/{request_id}", status_code=303)


async def _report(ctx: ConsoleContext, user: User, request_id: str) -> dict[str, Any]:
    """One erasure's report, if it is the user's force's (else 404, as if none)."""
    doc: Any
    try:
        doc = await ctx.es.get(index=ctx.index(indices.ERASURES), id=request_id[:100])
    except NotFoundError:
        doc = {}
    src: dict[str, Any] = doc.get("_source") or {}
    if not src or src.get("force") != user.force:
        raise HTTPException(404, N_("no such erasure"))
    return src


@router.get("/data-protection/erasures/{request_id}", response_class=HTMLResponse, tags=["pages"])
async def erasure_page(request: Request, request_id: str, user: DpoPageUser, ctx: Ctx) -> Response:
    # Saved as the first step runs: a page opened at once may find it a moment later.
    for _attempt in range(20):
        try:
            report = await _report(ctx, user, request_id)
            break
        except HTTPException:
            await asyncio.sleep(0.1)
    else:
        report = await _report(ctx, user, request_id)
    await ctx.audit.write([audit_event(user, request, "erasure.viewed", "erasure", request_id)])
    return ctx.page(
        request,
        "erasure.html",
        user,
        report=report,
        store_names={s.value: _(n) for s, n in STORE_NAMES.items()},
        step_names={k: _(n) for k, n in STEP_NAMES.items()},
    )


@router.get("/api/data-protection/erasures/{request_id}", tags=["api"])
async def api_erasure(request: Request, request_id: str, user: DpoUser, ctx: Ctx) -> dict[str, Any]:
    """An erasure's report as JSON: counts per store, held items skipped, who and when."""
    report = await _report(ctx, user, request_id)
    await ctx.audit.write([audit_event(user, request, "erasure.viewed", "erasure", request_id)])
    return report


@router.get("/api/data-protection/erasures/{request_id}/progress", tags=["api"])
async def api_erasure_progress(request_id: str, user: DpoUser, ctx: Ctx) -> dict[str, Any]:
    """What the page polls: status, step and counts (no personal data, so not audited)."""
    report = await _report(ctx, user, request_id)
    return {k: report.get(k) for k in ("status", "step", "counts")}


@router.post("/data-protection/restrict", response_class=HTMLResponse, tags=["pages"])
async def restrict_person(
    request: Request,
    user: DpoPageUser,
    ctx: Ctx,
    csrf: Text,
    platform: Text = "",
    author: Text = "",
    reason: Text = "",
    lift: Annotated[bool, Form()] = False,
) -> Response:
    """Restrict (or lift the restriction on) one person's data."""
    form, refused = await _person_form(
        request, ctx, user, csrf, "restrict", platform, author, reason
    )
    if refused is not None:
        return refused
    person = Person(platform, form["author"])
    action = UNRESTRICTED_ACTION if lift else RESTRICTED_ACTION
    await ctx.audit.write(
        [audit_event(user, request, action, "person", person.key, reason=form["reason"])]
    )
    await set_restricted(
        ctx.es, ctx.settings, person, by=user.username, reason=form["reason"], restricted=not lift
    )
    done = N_("Restriction lifted.") if lift else N_("Restricted: only you can see their items.")
    return await dp_page(request, ctx, user, done=done)


@router.post("/data-protection/access", tags=["pages"])
async def subject_access(
    request: Request,
    user: DpoPageUser,
    ctx: Ctx,
    csrf: Text,
    platform: Text = "",
    author: Text = "",
    reason: Text = "",
) -> Response:
    """A subject access export as a ZIP of the DPO's force's records (each force answers
    for its own; `socialdesk sar` exports every force's). The request's reference is the
    disclosure's justification in the audit trail (DPA 2018 s.62)."""
    form, refused = await _person_form(request, ctx, user, csrf, "access", platform, author, reason)
    if refused is not None:
        return refused
    person = Person(platform, form["author"])
    record = audit_event(user, request, ACCESS_ACTION, "person", person.key, reason=form["reason"])
    await ctx.audit.write([record])
    bundle = await collect(
        ctx.es,
        ctx.settings,
        person,
        requested_by=user.username,
        at=utcnow(),
        blobs=object_store(ctx.settings),
        force=user.force,
    )
    return Response(
        build_zip(bundle, summary_language(ctx, user)),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="sar-{person.key}.zip"'},
    )


def _until(value: str) -> datetime | None:
    if not value:
        return None
    day = datetime.fromisoformat(value)
    return day.replace(tzinfo=UTC) if day.tzinfo is None else day


@router.get("/items/{item_id}/hold", response_class=HTMLResponse, tags=["pages"])
async def hold_page(request: Request, item_id: str, user: HoldPageUser, ctx: Ctx) -> Response:
    item = await fetch_item(ctx, user, item_id)
    return ctx.page(request, "hold.html", user, item=item, errors={}, form={})


@router.post("/items/{item_id}/hold", response_class=HTMLResponse, tags=["pages"])
async def place_item_hold(
    request: Request,
    item_id: str,
    user: HoldPageUser,
    ctx: Ctx,
    csrf: Text,
    reason: Text = "",
    until: Annotated[str, Form(max_length=40)] = "",
    scope: Annotated[HoldScope, Form()] = HoldScope.item,
) -> Response:
    """Put the item (or all its author's items) under legal hold: kept from retention and
    erasure until the date or until released."""
    _check_csrf(user, csrf)
    item = await fetch_item(ctx, user, item_id)
    errors: dict[str, str] = {}
    if len(reason.strip()) < 5:
        errors["reason"] = N_("Enter why the item is held (at least 5 characters)")
    try:
        end = _until(until)
        if end is not None and end <= utcnow():
            errors["until"] = N_("The end date must be in the future")
    except ValueError:
        end, errors["until"] = None, N_("Enter a date as YYYY-MM-DD")
    if errors:
        form = {"reason": reason, "until": until, "scope": scope.value}
        resp = ctx.page(request, "hold.html", user, item=item, errors=errors, form=form)
        resp.status_code = 422
        return resp
    by_author = scope == HoldScope.author
    hold = Hold(
        hold_id=f"hold_{secrets.token_hex(8)}",
        scope=scope,
        force=user.force,
        reason=reason.strip(),
        by=user.username,
        at=utcnow(),
        item_id=None if by_author else item_id,
        author_key=Person(item["platform"], str(item["author_id"])).key if by_author else None,
        platform=item["platform"] if by_author else None,
        author_id=str(item["author_id"]) if by_author else None,
        until=end,
    )
    await ctx.audit.write(
        [
            audit_event(
                user,
                request,
                HELD_ACTION,
                "item",
                item_id,
                hold_id=hold.hold_id,
                scope=scope.value,
                reason=hold.reason,
                until=until or None,
            )
        ]
    )
    await place_hold(ctx.es, ctx.settings, hold)
    return RedirectResponse(f"/items/{item_id}", status_code=303)


@router.post("/items/{item_id}/holds/{hold_id}/release", tags=["pages"])
async def release_item_hold(
    request: Request, item_id: str, hold_id: str, user: HoldPageUser, ctx: Ctx, csrf: Text
) -> Response:
    _check_csrf(user, csrf)
    await fetch_item(ctx, user, item_id)
    await ctx.audit.write(
        [audit_event(user, request, RELEASED_ACTION, "item", item_id, hold_id=hold_id)]
    )
    if not await release_hold(ctx.es, ctx.settings, hold_id[:100], user.force):
        raise HTTPException(404, N_("no such hold"))
    return RedirectResponse(f"/items/{item_id}", status_code=303)
