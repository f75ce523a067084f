"""The publishing desk's own rules, with no I/O: a compose form becomes a PostDraft, every
problem the author must fix before anything is sent (check_draft's, plus the desk's:
the checklist, the time, the approval), the commands one press of a button sends, and
the desk's columns. The outbound service applies the commands and has the last word."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from socialdesk.config import TOKEN_WARNING_DAYS, ForceConfig
from socialdesk.events import Actor, utcnow
from socialdesk.publishing import (
    TEXT_LIMITS,
    AccountRef,
    ApprovalRule,
    ChecklistItem,
    Objective,
    Post,
    PostCommand,
    PostCommandType,
    PostDraft,
    PostKind,
    PostMedia,
    PostStatus,
    Problem,
    PublishingRole,
    approval_reasons,
    check_draft,
    checklist_complete,
)
from socialdesk.taxonomy import Platform
from socialdesk_console.i18n import N_
from socialdesk_console.library import Campaign, PostTemplate

LONDON = ZoneInfo("Europe/London")
MEDIA_ROWS = 2  # image rows on the form (the contract allows 4)


class Action(StrEnum):
    """The compose form's buttons."""

    save = "save"
    submit = "submit"
    schedule = "schedule"
    publish = "publish"


class Column(StrEnum):
    """The desk's columns, each a set of post statuses."""

    drafts = "drafts"
    awaiting = "awaiting"
    scheduled = "scheduled"
    published = "published"


COLUMNS: dict[Column, frozenset[PostStatus]] = {
    Column.drafts: frozenset({PostStatus.draft}),
    Column.awaiting: frozenset({PostStatus.awaiting_approval}),
    Column.scheduled: frozenset({PostStatus.approved, PostStatus.scheduled, PostStatus.publishing}),
    Column.published: frozenset(
        {PostStatus.published, PostStatus.partly_published, PostStatus.failed, PostStatus.by_hand}
    ),
}
# An approved post goes out as approved: a changed text would skip the approver.
CHANGED_AFTER_APPROVAL = "approved as it was: to change it, send it back to draft first"
# Problems a draft may still have when only saved: it is not going anywhere yet.
UNFINISHED = ("write the text", "choose at least one account")


def force_accounts(fc: ForceConfig) -> dict[str, list[str]]:
    """The force's accounts on platforms the desk can post to (check_draft's shape)."""
    return {p.value: list(hs) for p, hs in fc.accounts.items() if p in TEXT_LIMITS and hs}


def platforms_of(fc: ForceConfig) -> list[Platform]:
    return [p for p in TEXT_LIMITS if fc.accounts.get(p)]


def approval_rule(fc: ForceConfig) -> ApprovalRule:
    """The force's `publishing:` rule (the national default where its config has none)."""
    return fc.publishing


def roles_of(role: str) -> list[str]:
    """The publishing roles a console role carries (PostCommand.actor_roles): outbound's
    `apply` lets only an approver decide, and never on their own post."""
    if role in ("approver", "force_admin"):
        return [PublishingRole.comms.value, PublishingRole.approver.value]
    return [PublishingRole.comms.value] if role == "comms" else []


def draft_from_form(
    form: Mapping[str, Any], accounts: list[str]
) -> tuple[PostDraft, list[Problem]]:
    """The draft the form describes, and what could not even be read from it. `form`
    maps field names to strings; `accounts` is the checked `platform:handle` values."""
    problems: list[Problem] = []
    refs = []
    for key in accounts:
        platform, _, handle = key.partition(":")
        if platform not in {p.value for p in Platform} or not handle:
            problems.append(Problem(field="accounts", message=f"unknown account {key[:80]}"))
            continue
        refs.append(AccountRef(platform=Platform(platform), handle=handle))
    objective = form.get("objective") or ""
    if objective not in {o.value for o in Objective}:
        problems.append(Problem(field="objective", message="choose the objective"))
        objective = Objective.engage.value  # stands in so the rest can be checked
    kind = form.get("kind") or PostKind.general.value
    if kind not in {k.value for k in PostKind}:
        problems.append(Problem(field="kind", message="choose a kind of post"))
        kind = PostKind.general.value
    text = {
        p: str(form.get(f"text.{p.value}", "")) for p in TEXT_LIMITS if form.get(f"text.{p.value}")
    }
    text_cy = {
        p: str(form.get(f"text_cy.{p.value}", ""))
        for p in TEXT_LIMITS
        if form.get(f"text_cy.{p.value}")
    }
    media = []
    for i in range(MEDIA_ROWS):
        url = str(form.get(f"media.{i}.url", "")).strip()
        alt = str(form.get(f"media.{i}.alt_text", "")).strip()
        if url:
            media.append(PostMedia(url=url[:2000], alt_text=alt[:1000]))
        elif alt:
            problems.append(Problem(field=f"media.{i}.url", message="give the image's address"))
    links = [ln.strip() for ln in str(form.get("links", "")).splitlines() if ln.strip()]
    try:
        draft = PostDraft(
            kind=PostKind(kind),
            objective=Objective(objective),
            expected_measure=str(form.get("expected_measure", ""))[:500],
            accounts=refs,
            text=text,
            text_cy=text_cy,
            media=media,
            links=links[:10],
            sensitive=bool(form.get("sensitive")),
            names_person=bool(form.get("names_person")),
            checklist={c: bool(form.get(f"checklist.{c.value}")) for c in ChecklistItem},
            campaign_id=(str(form.get("campaign_id") or "")[:200] or None),
        )
    except ValidationError as exc:  # only a length the form does not bound itself
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        problems.append(Problem(field=field, message=err["msg"]))
        draft = PostDraft(objective=Objective(objective))
    if len(links) > 10:
        problems.append(Problem(field="links", message="at most 10 links"))
    return draft, problems


def publish_at_utc(local: str) -> datetime | None:
    """A `datetime-local` value read as UK time (Europe/London), in UTC; None if unreadable."""
    try:
        naive = datetime.fromisoformat(local)
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=LONDON).astimezone(UTC)


def london(at: datetime | str | None) -> str:
    """A time as the desk shows it: UK local, to the minute."""
    if at is None:
        return ""
    when = datetime.fromisoformat(at) if isinstance(at, str) else at
    return when.astimezone(LONDON).strftime("%Y-%m-%d %H:%M")


def problems_for(
    action: Action,
    draft: PostDraft,
    fc: ForceConfig,
    publish_at: datetime | None = None,
    approved: bool = False,
    now: datetime | None = None,
) -> list[Problem]:
    """Everything to fix before this action sends anything (empty: send it)."""
    problems = check_draft(draft, force_accounts(fc), welsh=fc.welsh_language_standards)
    if action is Action.save:
        return [p for p in problems if p.message not in UNFINISHED]
    if not checklist_complete(draft):
        problems.append(
            Problem(field="checklist", message="tick every item of the legal checklist")
        )
    if action is Action.schedule:
        if publish_at is None:
            problems.append(Problem(field="publish_at", message="give a date and time"))
        elif publish_at <= (now or utcnow()):
            problems.append(Problem(field="publish_at", message="choose a time in the future"))
    if action in (Action.schedule, Action.publish) and not approved:
        reasons = approval_reasons(draft, approval_rule(fc))
        if reasons:
            problems.append(
                Problem(
                    field="approval",
                    message="needs approval first (" + "; ".join(reasons) + "): submit it",
                )
            )
    return problems


def new_post_id() -> str:
    return "pst_" + uuid.uuid4().hex[:20]


def actor_of(username: str, force: str | None) -> Actor:
    return Actor(kind="operator", id=username, force=force)


def command(
    type_: PostCommandType,
    post_id: str,
    force: str,
    actor: Actor,
    roles: list[str] | None = None,
    **fields: Any,
) -> PostCommand:
    return PostCommand(
        actor_roles=roles or [],
        command_id=str(uuid.uuid4()),
        post_id=post_id,
        force=force,
        type=type_,
        actor=actor,
        at=utcnow(),
        **fields,
    )


def commands_for(
    action: Action,
    post_id: str,
    force: str,
    actor: Actor,
    draft: PostDraft,
    publish_at: datetime | None,
    expected_version: int | None,
    roles: list[str] | None = None,
) -> list[PostCommand]:
    """What one press sends, in order on the post's partition: the draft saved, then the
    step asked for (outbound applies them in turn; the last one's outcome is shown)."""
    out = [
        command(
            PostCommandType.save_draft,
            post_id,
            force,
            actor,
            roles,
            draft=draft,
            expected_version=expected_version,
        )
    ]
    if action is Action.submit:
        out.append(command(PostCommandType.submit, post_id, force, actor, roles))
    elif action is Action.schedule:
        out.append(
            command(PostCommandType.schedule, post_id, force, actor, roles, publish_at=publish_at)
        )
    elif action is Action.publish:
        out.append(command(PostCommandType.publish_now, post_id, force, actor, roles))
    return out


def decision_problem(
    post: Post, username: str, approve: bool, checklist_seen: bool, reason: str
) -> str | None:
    """Why this approver's decision cannot be sent (None: send it)."""
    if post.status != PostStatus.awaiting_approval:
        return N_("this post is not awaiting approval")
    if post.author.id == username:
        return N_("you wrote this post: another approver must decide on it")
    if approve and not checklist_seen:
        return N_("confirm you have read the author's checklist")
    if not approve and not reason.strip():
        return N_("say why you refuse it, so the author can put it right")
    return None


CANCELLABLE = frozenset(
    {PostStatus.draft, PostStatus.awaiting_approval, PostStatus.approved, PostStatus.scheduled}
)


def cancel_problem(post: Post, username: str, approver: bool) -> str | None:
    """Why this user cannot withdraw the post (None: they can)."""
    if post.status not in CANCELLABLE:
        return N_("this post has gone out or was withdrawn: it cannot be cancelled")
    if post.author.id != username and not approver:
        return N_("only the author or an approver can cancel this post")
    return None


def columns(posts: list[Post]) -> dict[Column, list[Post]]:
    """The desk's columns, newest change first in each; scheduled posts by their time."""
    out: dict[Column, list[Post]] = {c: [] for c in Column}
    for post in sorted(posts, key=lambda p: p.updated_at, reverse=True):
        for col, statuses in COLUMNS.items():
            if post.status in statuses:
                out[col].append(post)
    # What goes out next comes first (unscheduled approved posts after).
    far = datetime.max.replace(tzinfo=UTC)
    out[Column.scheduled].sort(key=lambda p: p.publish_at or far)
    return out


def form_of(draft: PostDraft) -> dict[str, Any]:
    """A draft as the compose form's values (editing a post, a template, a campaign)."""
    form: dict[str, Any] = {
        "objective": draft.objective.value,
        "kind": draft.kind.value,
        "expected_measure": draft.expected_measure,
        "links": "\n".join(draft.links),
        "sensitive": draft.sensitive,
        "names_person": draft.names_person,
        "campaign_id": draft.campaign_id or "",
        "accounts": [a.key for a in draft.accounts],
    }
    for p, t in draft.text.items():
        form[f"text.{p.value}"] = t
    for p, t in draft.text_cy.items():
        form[f"text_cy.{p.value}"] = t
    for i, m in enumerate(draft.media[:MEDIA_ROWS]):
        form[f"media.{i}.url"] = m.url
        form[f"media.{i}.alt_text"] = m.alt_text
    for c, ticked in draft.checklist.items():
        form[f"checklist.{c.value}"] = ticked
    return form


def draft_from_template(t: PostTemplate, fc: ForceConfig) -> PostDraft:
    """A template's text in every platform field (X gets the short one); Welsh beside
    it where the force posts in Welsh. Every account of the force starts unticked."""
    welsh = fc.welsh_language_standards
    text = {p: (t.short.en if p is Platform.x else t.long.en) for p in platforms_of(fc)}
    text_cy = {p: (t.short.cy if p is Platform.x else t.long.cy) for p in platforms_of(fc)}
    return PostDraft(
        kind=t.kind,
        objective=t.objective,
        expected_measure=t.expected_measure,
        text=text,
        text_cy=text_cy if welsh else {},
        names_person=t.names_person,
        sensitive=t.sensitive,
    )


def draft_from_campaign(c: Campaign, fc: ForceConfig) -> PostDraft:
    """A campaign's content, adopted: its text per platform (the long one where it has
    none for a platform), its images with their alt text, its links and its id."""
    welsh = fc.welsh_language_standards
    fallback = c.text.get(Platform.facebook) or next(iter(c.text.values()))
    texts = {p: c.text.get(p, fallback) for p in platforms_of(fc)}
    return PostDraft(
        kind=c.kind,
        objective=c.objective,
        expected_measure=c.results[0].measure if c.results else "",
        text={p: b.en for p, b in texts.items()},
        text_cy={p: b.cy for p, b in texts.items()} if welsh else {},
        media=[PostMedia(url=i.url, alt_text=i.alt_text.en) for i in c.images[:MEDIA_ROWS]],
        links=list(c.links),
        campaign_id=c.id,
    )


@dataclass(frozen=True)
class TokenNotice:
    platform: str
    handle: str
    expires: date
    days: int  # negative once expired


def token_notices(fc: ForceConfig, today: date) -> list[TokenNotice]:
    """The force's account tokens expiring within TOKEN_WARNING_DAYS (or expired), soonest
    first: the team sees them where it posts, not only in outbound's alerts."""
    out = [
        TokenNotice(platform.value, handle, cred.expires, (cred.expires - today).days)
        for platform, creds in fc.credentials.items()
        for handle, cred in creds.items()
        if cred.expires is not None and (cred.expires - today).days <= TOKEN_WARNING_DAYS
    ]
    return sorted(out, key=lambda n: n.days)


def post_links(post: Post) -> dict[str, str]:
    """Where each delivered account's post can be seen, by account key: X's address is
    the handle and the post's id (Facebook and Instagram answer with ids that are not
    addresses, so they get none here)."""
    return {
        d.account.key: f"https://x.com/{d.account.handle}/status/{d.platform_id}"
        for d in post.deliveries
        if d.status == "delivered" and d.platform_id and d.account.platform == Platform.x
    }
