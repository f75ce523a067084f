"""The publishing desk: the force's posts by status, compose (from nothing, a template or
a campaign), and the approval page. Forms post back to the page they came from: a problem
is shown next to its field and nothing is sent; otherwise the commands go to outbound
(posts.commands) with their audit records and the desk shows outbound's answer."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import FormData

from socialdesk.config import ForceConfig
from socialdesk.events import utcnow
from socialdesk.publishing import (
    BY_HAND,
    TEXT_LIMITS,
    ChecklistItem,
    Objective,
    Post,
    PostCommandType,
    PostDraft,
    PostKind,
    PostStatus,
    Problem,
    approval_reasons,
    message_text,
)
from socialdesk_console.audit import audit_event
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import Ctx, api_user, csrf_user, page_user
from socialdesk_console.desk import (
    CHANGED_AFTER_APPROVAL,
    LONDON,
    MEDIA_ROWS,
    Action,
    Column,
    actor_of,
    approval_rule,
    cancel_problem,
    columns,
    command,
    commands_for,
    decision_problem,
    draft_from_campaign,
    draft_from_form,
    draft_from_template,
    form_of,
    london,
    new_post_id,
    platforms_of,
    post_links,
    problems_for,
    publish_at_utc,
    roles_of,
    token_notices,
)
from socialdesk_console.i18n import N_, _
from socialdesk_console.impact import PUBLISHED, thread_item_ids
from socialdesk_console.posts import get_post, list_posts, rejected, send, thread_mentions
from socialdesk_console.pub_labels import kind_label

router = APIRouter()
FIELD_MAX = 70_000  # the longest form field the desk reads (Facebook's limit and some)


def _publisher(user: User) -> User:
    if not user.publishes:
        raise HTTPException(
            403, N_("the publishing desk is for communications officers and approvers")
        )
    return user


def publishing_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    return _publisher(user)


def publishing_api_user(user: Annotated[User, Depends(api_user)]) -> User:
    return _publisher(user)


def publishing_csrf_user(user: Annotated[User, Depends(csrf_user)]) -> User:
    return _publisher(user)


PublisherPage = Annotated[User, Depends(publishing_page_user)]
PublisherApi = Annotated[User, Depends(publishing_api_user)]
PublisherCsrf = Annotated[User, Depends(publishing_csrf_user)]


def force_of(ctx: ConsoleContext, user: User) -> ForceConfig:
    fc = ctx.config.forces.get(user.force or "")
    if fc is None:
        raise HTTPException(
            403, N_("the publishing desk is for communications officers and approvers")
        )
    return fc


async def read_form(request: Request, user: User) -> FormData:
    """The form, once its CSRF token is the session's (a forged post is a 403)."""
    form = await request.form(max_fields=200, max_part_size=FIELD_MAX)
    token = form.get("csrf")
    if not isinstance(token, str) or not secrets.compare_digest(token, user.csrf):
        raise HTTPException(403, N_("form expired or forged (CSRF check failed); reload and retry"))
    return form


def compose_page(
    ctx: ConsoleContext,
    request: Request,
    user: User,
    form: dict[str, Any],
    problems: list[Problem] | None = None,
    post: Post | None = None,
    status_code: int = 200,
) -> Response:
    """The compose form with its values and, next to each field, what is wrong with it."""
    fc = force_of(ctx, user)
    resp = ctx.page(
        request,
        "compose.html",
        user,
        form=form,
        problems=problems_by_field(problems or []),
        problem_list=problems or [],
        post=post,
        accounts=[(p.value, h) for p in platforms_of(fc) for h in fc.accounts.get(p, [])],
        platforms=[p.value for p in platforms_of(fc)],
        limits={p.value: n for p, n in TEXT_LIMITS.items()},
        welsh=fc.welsh_language_standards,
        objectives=[o.value for o in Objective],
        kinds=[k.value for k in PostKind],
        checklist=[c.value for c in ChecklistItem],
        media_rows=range(MEDIA_ROWS),
        templates=ctx.library.templates,
        rule_text=rule_text(fc),
    )
    resp.status_code = status_code
    return resp


def rule_text(fc: ForceConfig) -> str:
    """The force's approval rule in words, for the author before they choose."""
    rule = approval_rule(fc)
    if rule.all_posts:
        return _("Every post needs approval in this force.")
    parts = [_("%(kind)s posts") % {"kind": kind_label(k.value)} for k in rule.kinds]
    if rule.names_person:
        parts.append(_("posts that name a person"))
    if rule.sensitive:
        parts.append(_("posts marked sensitive"))
    if not parts:
        return _("No post needs approval in this force.")
    return _("In this force an approver must approve: %(what)s.") % {"what": "; ".join(parts)}


def problems_by_field(problems: list[Problem]) -> dict[str, list[str]]:
    """Problems keyed by the form field they belong next to (`text.x`, `media.0.alt_text`)."""
    out: dict[str, list[str]] = {}
    for p in problems:
        out.setdefault(p.field, []).append(p.message)
    return out


async def audited(
    ctx: ConsoleContext,
    request: Request,
    user: User,
    action: str,
    target: str | None,
    **details: Any,
) -> None:
    await ctx.audit.write([audit_event(user, request, action, "post", target, **details)])


async def step(
    ctx: ConsoleContext,
    request: Request,
    user: User,
    post: Post,
    type_: PostCommandType,
    audit_details: dict[str, Any] | None = None,
    **fields: Any,
) -> str | None:
    """Send one person's step on a post, audited as `post.<type>`: why it was refused, or
    None once it is done."""
    cmd = command(
        type_,
        post.id,
        post.force,
        actor_of(user.username, user.force),
        roles_of(user.role),
        **fields,
    )
    details = audit_details or {}
    audit = [
        audit_event(
            user,
            request,
            f"post.{type_.value}",
            "post",
            post.id,
            command_id=cmd.command_id,
            **details,
        )
    ]
    return rejected(await send(ctx, ctx.post_outcomes, [cmd], audit))


@router.get("/publishing", response_class=HTMLResponse, tags=["pages"])
async def desk_page(
    request: Request,
    user: PublisherPage,
    ctx: Ctx,
    sent: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The force's posts in four columns: drafts, awaiting approval, scheduled, published."""
    fc = force_of(ctx, user)
    posts = await list_posts(ctx, fc.id)
    await audited(ctx, request, user, "posts.viewed", None, count=len(posts))
    return ctx.page(
        request,
        "publishing.html",
        user,
        columns=columns(posts),
        column_names=[c.value for c in Column],
        london=london,
        sent=sent,
        templates=ctx.library.templates,
        token_notices=token_notices(fc, utcnow().astimezone(LONDON).date()),
    )


@router.get("/api/posts", tags=["api"])
async def api_posts(request: Request, user: PublisherApi, ctx: Ctx) -> dict[str, Any]:
    """The force's posts by desk column."""
    posts = await list_posts(ctx, force_of(ctx, user).id)
    await audited(ctx, request, user, "posts.viewed", None, count=len(posts), via="api")
    return {c.value: [p.model_dump(mode="json") for p in ps] for c, ps in columns(posts).items()}


@router.get("/publishing/new", response_class=HTMLResponse, tags=["pages"])
async def new_post_page(
    request: Request,
    user: PublisherPage,
    ctx: Ctx,
    template: Annotated[str | None, Query(max_length=100)] = None,
    campaign: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Compose: empty, prefilled from a template, or a campaign adopted."""
    fc = force_of(ctx, user)
    form: dict[str, Any] = {}
    if template:
        t = ctx.library.template(template)
        if t is None:
            raise HTTPException(404, N_("no such template"))
        form = form_of(draft_from_template(t, fc))
    elif campaign:
        c = ctx.library.campaign(fc.id, campaign)
        if c is None:
            raise HTTPException(404, N_("no such campaign"))
        form = form_of(draft_from_campaign(c, fc))
    await audited(
        ctx, request, user, "post.compose_opened", None, template=template, campaign=campaign
    )
    return compose_page(ctx, request, user, form)


def form_values(form: FormData) -> dict[str, Any]:
    """The form's fields as the page shows them back (accounts as the list ticked)."""
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    values["accounts"] = [a for a in form.getlist("accounts") if isinstance(a, str)]
    return values


async def compose_submit(
    ctx: ConsoleContext, request: Request, user: User, post: Post | None
) -> Response:
    """One press of a compose button: check everything, send nothing unless all is well."""
    fc = force_of(ctx, user)
    form = await read_form(request, user)
    values = form_values(form)
    try:
        action = Action(values.get("action") or "")
    except ValueError:
        raise HTTPException(422, N_("unknown action")) from None
    draft, problems = draft_from_form(values, values["accounts"])
    publish_at = (
        publish_at_utc(str(values.get("publish_at", ""))) if values.get("publish_at") else None
    )
    approved = post is not None and post.status == PostStatus.approved
    problems += problems_for(action, draft, fc, publish_at, approved)
    if approved and post is not None and draft != post.draft:
        problems.append(Problem(field="approval", message=CHANGED_AFTER_APPROVAL))
    if problems:
        await audited(
            ctx,
            request,
            user,
            "post.refused_by_checks",
            post.id if post else None,
            step=action.value,
            problems=[p.field for p in problems],
        )
        return compose_page(ctx, request, user, values, problems, post, status_code=422)
    post_id = post.id if post else new_post_id()
    cmds = commands_for(
        action,
        post_id,
        fc.id,
        actor_of(user.username, user.force),
        draft,
        publish_at,
        post.version if post else None,
        roles_of(user.role),
    )
    if approved and action in (Action.schedule, Action.publish):
        cmds = cmds[1:]  # an approved post is sent as approved: no edit after approval
    audit = [
        audit_event(
            user,
            request,
            f"post.{c.type.value}",
            "post",
            post_id,
            command_id=c.command_id,
            objective=draft.objective.value,
            kind=draft.kind.value,
        )
        for c in cmds
    ]
    reason = rejected(await send(ctx, ctx.post_outcomes, cmds, audit))
    if reason is not None:
        problems = [Problem(field="outcome", message=reason)]
        return compose_page(ctx, request, user, values, problems, post, status_code=409)
    return RedirectResponse(f"/publishing?sent={action.value}", status_code=303)


@router.post("/publishing/new", tags=["pages"])
async def new_post(request: Request, user: PublisherPage, ctx: Ctx) -> Response:
    return await compose_submit(ctx, request, user, None)


@router.get("/publishing/posts/{post_id}", response_class=HTMLResponse, tags=["pages"])
async def post_page(request: Request, post_id: str, user: PublisherPage, ctx: Ctx) -> Response:
    """A post: editable while a draft, the approval form while it awaits approval."""
    post = await get_post(ctx, user, post_id)
    await audited(ctx, request, user, "post.viewed", post_id, status=post.status.value)
    if post.status in (PostStatus.draft, PostStatus.approved):
        return compose_page(ctx, request, user, form_of(post.draft), post=post)
    threads = None
    if post.status in PUBLISHED:  # what the public said back, where the platform tells us
        threads = sum((await thread_mentions(ctx, thread_item_ids(post))).values())
    return approval_page(ctx, request, user, post, thread_count=threads)


@router.post("/publishing/posts/{post_id}", tags=["pages"])
async def edit_post(request: Request, post_id: str, user: PublisherPage, ctx: Ctx) -> Response:
    post = await get_post(ctx, user, post_id)
    if post.status not in (PostStatus.draft, PostStatus.approved):
        raise HTTPException(409, N_("only a draft can be changed"))
    return await compose_submit(ctx, request, user, post)


def approval_page(
    ctx: ConsoleContext,
    request: Request,
    user: User,
    post: Post,
    problem: str | None = None,
    reason: str = "",
    status_code: int = 200,
    by_hand_problem: str | None = None,
    thread_count: int | None = None,
) -> Response:
    fc = force_of(ctx, user)
    welsh = fc.welsh_language_standards
    resp = ctx.page(
        request,
        "post.html",
        user,
        post=post,
        draft=post.draft,
        reasons=post.approval_reasons or approval_reasons(post.draft, approval_rule(fc)),
        checklist=[c.value for c in ChecklistItem],
        london=london,
        problem=problem,
        reason=reason,
        own=post.author.id == user.username,
        by_hand_problem=by_hand_problem,
        post_links=post_links(post),
        by_hand_statuses=BY_HAND,
        thread_count=thread_count,
        by_hand_text={
            d.account.key: message_text(post.draft, d.account.platform, welsh)
            for d in post.deliveries
            if d.status in BY_HAND
        },
    )
    resp.status_code = status_code
    return resp


@router.post("/publishing/posts/{post_id}/decision", tags=["pages"])
async def decide(request: Request, post_id: str, user: PublisherPage, ctx: Ctx) -> Response:
    """Approve or refuse (with a reason). Never the author's own post: the page says so
    and nothing is sent."""
    form = await read_form(request, user)
    post = await get_post(ctx, user, post_id)
    if not user.approves:
        raise HTTPException(403, N_("only an approver can approve or refuse a post"))
    approve = form.get("decision") == PostCommandType.approve.value
    reason = str(form.get("reason") or "")[:2000]
    problem = decision_problem(
        post, user.username, approve, bool(form.get("checklist_seen")), reason
    )
    if problem is not None:
        await audited(ctx, request, user, "post.decision_refused", post_id, problem=problem)
        return approval_page(ctx, request, user, post, problem, reason, status_code=422)
    type_ = PostCommandType.approve if approve else PostCommandType.refuse
    why = await step(
        ctx,
        request,
        user,
        post,
        type_,
        reason=reason,
        checklist_seen=approve,
        expected_version=post.version,
    )
    if why is not None:
        return approval_page(ctx, request, user, post, why, reason, status_code=409)
    return RedirectResponse(f"/publishing?sent={type_.value}", status_code=303)


@router.post("/publishing/posts/{post_id}/schedule", tags=["pages"])
async def reschedule(request: Request, post_id: str, user: PublisherPage, ctx: Ctx) -> Response:
    """A new time for a scheduled post (UK time), by its author or an approver."""
    form = await read_form(request, user)
    post = await get_post(ctx, user, post_id)
    problem = cancel_problem(post, user.username, user.approves)
    if problem is not None or post.status != PostStatus.scheduled:
        raise HTTPException(409, problem or N_("only a scheduled post can be rescheduled"))
    raw = str(form.get("publish_at") or "")
    publish_at = publish_at_utc(raw) if raw else None
    found = problems_for(Action.schedule, post.draft, force_of(ctx, user), publish_at, True)
    when = [p for p in found if p.field == "publish_at"]
    if when:
        await audited(ctx, request, user, "post.decision_refused", post_id, problem="publish_at")
        return approval_page(ctx, request, user, post, when[0].message, status_code=422)
    why = await step(
        ctx,
        request,
        user,
        post,
        PostCommandType.schedule,
        publish_at=publish_at,
        expected_version=post.version,
    )
    if why is not None:
        return approval_page(ctx, request, user, post, why, status_code=409)
    return RedirectResponse("/publishing?sent=schedule", status_code=303)


@router.post("/publishing/posts/{post_id}/cancel", tags=["pages"])
async def cancel(request: Request, post_id: str, user: PublisherPage, ctx: Ctx) -> Response:
    """Withdraw a post that has not gone out (a draft, awaiting approval, approved or
    scheduled): its author or an approver. Outbound has the last word."""
    form = await read_form(request, user)
    post = await get_post(ctx, user, post_id)
    problem = cancel_problem(post, user.username, user.approves)
    if problem is not None:
        raise HTTPException(409, problem)
    reason = str(form.get("reason") or "")[:2000]
    why = await step(
        ctx,
        request,
        user,
        post,
        PostCommandType.cancel,
        reason=reason,
        expected_version=post.version,
    )
    if why is not None:
        raise HTTPException(409, why)
    return RedirectResponse("/publishing?sent=cancel", status_code=303)


@router.post("/publishing/posts/{post_id}/reopen", tags=["pages"])
async def reopen(request: Request, post_id: str, user: PublisherPage, ctx: Ctx) -> Response:
    """An approved or scheduled post back to draft, to change it (its author or an
    approver); where the force's rule asks for approval, it is approved again."""
    await read_form(request, user)
    post = await get_post(ctx, user, post_id)
    if post.status not in (PostStatus.approved, PostStatus.scheduled):
        raise HTTPException(409, N_("only an approved or scheduled post can go back to draft"))
    if post.author.id != user.username and not user.approves:
        raise HTTPException(403, N_("only the author or an approver can do that"))
    why = await step(
        ctx, request, user, post, PostCommandType.reopen, expected_version=post.version
    )
    if why is not None:
        raise HTTPException(409, why)
    return RedirectResponse("/publishing?sent=reopen", status_code=303)


@router.post("/publishing/posts/{post_id}/by-hand", tags=["pages"])
async def posted_by_hand(request: Request, post_id: str, user: PublisherPage, ctx: Ctx) -> Response:
    """Record that an officer posted one account's post on the platform themselves (an
    account outbound has no publisher or token for): its author or an approver."""
    form = await read_form(request, user)
    post = await get_post(ctx, user, post_id)
    key = str(form.get("account") or "")
    waiting = [d.account for d in post.deliveries if d.status in BY_HAND and d.account.key == key]
    if post.author.id != user.username and not user.approves:
        raise HTTPException(403, N_("only the author or an approver can do that"))
    if not waiting:
        problem = N_("that account's post is not waiting to be posted by hand")
        return approval_page(ctx, request, user, post, status_code=409, by_hand_problem=problem)
    why = await step(
        ctx,
        request,
        user,
        post,
        PostCommandType.posted_by_hand,
        {"account": key},
        account=waiting[0],
    )
    if why is not None:
        return approval_page(ctx, request, user, post, status_code=409, by_hand_problem=why)
    return RedirectResponse("/publishing?sent=posted_by_hand", status_code=303)


class DraftRequest(BaseModel):
    action: Action
    draft: PostDraft
    publish_at: str | None = Field(default=None, max_length=40, description="UK local time")


@router.post("/api/posts", tags=["api"])
async def api_new_post(
    request: Request, body: DraftRequest, user: PublisherCsrf, ctx: Ctx
) -> JSONResponse:
    """Compose over the API: 422 with every problem (field and message) and nothing sent,
    else 200 with outbound's answer, 409 refused, 202 still pending."""
    fc = force_of(ctx, user)
    publish_at = publish_at_utc(body.publish_at) if body.publish_at else None
    problems = problems_for(body.action, body.draft, fc, publish_at)
    if problems:
        return JSONResponse(
            {
                "error": "the post has problems; nothing was sent",
                "problems": [p.model_dump() for p in problems],
            },
            status_code=422,
        )
    post_id = new_post_id()
    cmds = commands_for(
        body.action,
        post_id,
        fc.id,
        actor_of(user.username, user.force),
        body.draft,
        publish_at,
        None,
        roles_of(user.role),
    )
    audit = [
        audit_event(
            user,
            request,
            f"post.{c.type.value}",
            "post",
            post_id,
            command_id=c.command_id,
            via="api",
        )
        for c in cmds
    ]
    ev = await send(ctx, ctx.post_outcomes, cmds, audit)
    if ev is None:
        return JSONResponse({"status": "pending", "post_id": post_id}, status_code=202)
    reason = rejected(ev)
    if reason is not None:
        return JSONResponse({"status": "rejected", "reason": reason}, status_code=409)
    return JSONResponse({"status": "applied", "post_id": post_id, "event": ev})
