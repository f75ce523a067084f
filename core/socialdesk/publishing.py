"""What a force publishes: the post a communications officer composes, the commands that
move it from draft to published, and the checks every writer of a post applies (no I/O).

A post is one message (an appeal, an incident update, a court result...) sent from one or
more of a force's accounts. The console sends `PostCommand`s on `posts.commands` (keyed by
post id); outbound is the one writer of each post's state: it applies the command with
`apply` (or refuses it), publishes `PostEvent`s on `posts.events` carrying the whole
post, delivers it from each account when due, and writes each delivery to
`posts.outbound` with the post's objective so reports can measure what followed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from socialdesk.events import Actor, Model
from socialdesk.post_model import (  # noqa: F401 (re-exported: the publishing contract)
    OPEN_POST_STATUSES,
    TEXT_LIMITS,
    X_LINK_LENGTH,
    AccountDelivery,
    AccountRef,
    Approval,
    ChecklistItem,
    Objective,
    Post,
    PostCommand,
    PostCommandType,
    PostDraft,
    PostEvent,
    PostEventType,
    PostKind,
    PostMedia,
    PostStatus,
    Problem,
    PublishingRole,
)
from socialdesk.refusals import Refusal, Refused
from socialdesk.taxonomy import Platform


def text_length(platform: Platform, text: str) -> int:
    """The length the platform counts: X counts every link as 23 characters."""
    if platform != Platform.x:
        return len(text)
    links = re.findall(r"https?://\S+", text)
    return len(re.sub(r"https?://\S+", "", text)) + X_LINK_LENGTH * len(links)


def check_draft(
    draft: PostDraft, force_accounts: dict[str, list[str]], welsh: bool = False
) -> list[Problem]:
    """Every problem with a draft before it can be submitted, scheduled or published.

    `force_accounts` is the force's `accounts` from its config (platform -> handles);
    `welsh` is the force's `welsh_language_standards`."""
    problems: list[Problem] = []
    if not draft.accounts:
        problems.append(Problem(field="accounts", message="choose at least one account"))
    for acc in draft.accounts:
        if acc.handle not in force_accounts.get(acc.platform.value, []):
            problems.append(
                Problem(field="accounts", message=f"unknown account {acc.key} for this force")
            )
    for platform in sorted({a.platform for a in draft.accounts}):
        for lang, texts in (("text", draft.text), ("text_cy", draft.text_cy)):
            if lang == "text_cy" and not welsh:
                continue
            body = texts.get(platform, "").strip()
            if not body:
                problems.append(Problem(field=f"{lang}.{platform.value}", message="write the text"))
                continue
            limit = TEXT_LIMITS.get(platform)
            n = text_length(platform, body)
            if limit is not None and n > limit:
                problems.append(
                    Problem(
                        field=f"{lang}.{platform.value}",
                        message=f"{n} characters; {platform.value} allows {limit}",
                    )
                )
        problems.extend(_bilingual_problems(draft, platform, welsh))
    for i, m in enumerate(draft.media):
        if not m.alt_text.strip():
            problems.append(Problem(field=f"media.{i}.alt_text", message="add alt text"))
    for link in draft.links:
        if not link.startswith(("https://", "http://")):
            problems.append(Problem(field="links", message=f"not a web address: {link[:80]}"))
    return problems


def message_text(draft: PostDraft, platform: Platform, welsh: bool) -> str:
    """What one account posts: for a force under the Welsh Language Standards, the Welsh
    and the English in one message, Welsh first (neither treated less favourably)."""
    en = draft.text.get(platform, "").strip()
    cy = draft.text_cy.get(platform, "").strip() if welsh else ""
    return f"{cy}\n\n{en}" if cy and en else (cy or en)


def _bilingual_problems(draft: PostDraft, platform: Platform, welsh: bool) -> list[Problem]:
    """Both languages go out in one message, so together they must fit the limit."""
    limit = TEXT_LIMITS.get(platform)
    if not welsh or limit is None or not draft.text_cy.get(platform, "").strip():
        return []
    alone = [draft.text.get(platform, "").strip(), draft.text_cy[platform].strip()]
    if not alone[0] or any(text_length(platform, t) > limit for t in alone):
        return []  # a missing or too long text is reported on its own
    n = text_length(platform, message_text(draft, platform, welsh))
    if n <= limit:
        return []
    return [
        Problem(
            field=f"text_cy.{platform.value}",
            message=f"Welsh and English together are {n} characters; "
            f"{platform.value} allows {limit}",
        )
    ]


class ApprovalRule(Model):
    """A force's rule for what needs a second person (`publishing:` in its config)."""

    kinds: list[PostKind] = Field(default_factory=lambda: [PostKind.appeal, PostKind.court_result])
    names_person: bool = True
    sensitive: bool = True
    all_posts: bool = False


def approval_reasons(draft: PostDraft, rule: ApprovalRule) -> list[str]:
    """Why this draft needs approval (empty: the author may publish it)."""
    reasons: list[str] = []
    if rule.all_posts:
        reasons.append("every post needs approval in this force")
    if draft.kind in rule.kinds:
        reasons.append(f"{draft.kind.value.replace('_', ' ')} posts need approval")
    if rule.names_person and draft.names_person:
        reasons.append("it names a person")
    if rule.sensitive and draft.sensitive:
        reasons.append("it is marked sensitive")
    return reasons


def checklist_complete(draft: PostDraft) -> bool:
    return all(draft.checklist.get(item, False) for item in ChecklistItem)


def due(post: Post, now: datetime) -> bool:
    """A scheduled post whose time has come."""
    return post.status == PostStatus.scheduled and (
        post.publish_at is None or post.publish_at <= now
    )


# ---- the state machine: the one place that decides what a command does to a post ------
SYSTEM = Actor(kind="system", id="outbound")
# Statuses a person may still change their mind in (cancel); publishing is under way after.
_CANCELLABLE = OPEN_POST_STATUSES | {PostStatus.awaiting_approval}
_SCHEDULABLE = frozenset({PostStatus.draft, PostStatus.approved, PostStatus.scheduled})


def post_event(
    post: Post, kind: PostEventType, at: datetime, actor: Actor, **extra: Any
) -> PostEvent:
    """An event carrying the post after it; its id is the post's version, so a replayed
    command makes the same event again (the indexer keeps the newest version)."""
    return PostEvent(
        event_id=f"{post.id}:{post.version}",
        post_id=post.id,
        force=post.force,
        type=kind,
        at=at,
        actor=actor,
        post=post,
        **extra,
    )


def rejected(
    post: Post | None,
    cmd: PostCommand,
    now: datetime,
    reason: str,
    code: Refusal | None = None,
) -> PostEvent:
    """A refused command: the post is unchanged and the reason goes back to the console."""
    return PostEvent(
        event_id=f"{cmd.post_id}:rejected:{cmd.command_id}",
        post_id=cmd.post_id,
        force=cmd.force,
        type=PostEventType.rejected,
        at=now,
        actor=cmd.actor,
        post=post,
        reason=reason,
        reason_code=code,
        command_id=cmd.command_id,
    )


def _problems_text(problems: list[Problem]) -> str:
    return "; ".join(f"{p.field}: {p.message}" for p in problems)


def _is_approver(cmd: PostCommand) -> bool:
    return PublishingRole.approver.value in cmd.actor_roles


def _approved(post: Post) -> bool:
    """Approved and unchanged since: a refusal sends the post back to draft, and only a
    draft can be edited, so the last decision still covers the text."""
    last = post.approvals[-1] if post.approvals else None
    return (
        last is not None
        and last.decision == "approved"
        and post.status in (PostStatus.approved, PostStatus.scheduled)
    )


def _ready_to_publish(
    post: Post,
    cmd: PostCommand,
    rule: ApprovalRule,
    force_accounts: dict[str, list[str]],
    welsh: bool,
) -> None:
    """Schedule and publish_now: the author or an approver; a clean draft; approval
    first where the rule (or an earlier submission) asks for it."""
    if post.status not in _SCHEDULABLE:
        raise Refused(Refusal.not_publishable, status=post.status.value.replace("_", " "))
    if cmd.actor.id != post.author.id and not _is_approver(cmd):
        raise Refused(Refusal.not_author_or_approver, what="schedule or publish")
    problems = check_draft(post.draft, force_accounts, welsh)
    if problems:
        raise Refused(Refusal.draft_problems, problems=_problems_text(problems))
    reasons = sorted(set(approval_reasons(post.draft, rule)) | set(post.approval_reasons))
    if reasons and not _approved(post):
        raise Refused(Refusal.needs_approval, reasons="; ".join(reasons))


def _check(
    post: Post | None,
    cmd: PostCommand,
    now: datetime,
    rule: ApprovalRule,
    force_accounts: dict[str, list[str]],
    welsh: bool,
) -> None:
    """Raise Refused with the reason a person would be given, or return to go ahead."""
    if cmd.actor.force is not None and cmd.actor.force != cmd.force:
        raise Refused(Refusal.wrong_force)
    if post is None:
        if cmd.type != PostCommandType.save_draft:
            raise Refused(Refusal.no_such_post)
        if cmd.draft is None:
            raise Refused(Refusal.nothing_to_save)
        return
    if post.force != cmd.force:  # another force's post is answered as a missing one
        raise Refused(Refusal.no_such_post)
    if cmd.expected_version is not None and cmd.expected_version != post.version:
        raise Refused(Refusal.stale, version=post.version)
    _check_step(post, cmd, now, rule, force_accounts, welsh)


def _check_step(
    post: Post,
    cmd: PostCommand,
    now: datetime,
    rule: ApprovalRule,
    force_accounts: dict[str, list[str]],
    welsh: bool,
) -> None:
    t, status, is_author = cmd.type, post.status, cmd.actor.id == post.author.id
    if t == PostCommandType.save_draft:
        if cmd.draft is None:
            raise Refused(Refusal.nothing_to_save)
        if not is_author:
            raise Refused(Refusal.not_author, what="edit this draft")
        if status != PostStatus.draft:
            raise Refused(Refusal.not_a_draft, what="edited", status=status.value)
    elif t == PostCommandType.submit:
        if not is_author:
            raise Refused(Refusal.not_author, what="submit this post for approval")
        if status != PostStatus.draft:
            raise Refused(Refusal.not_a_draft, what="submitted", status=status.value)
        problems = check_draft(post.draft, force_accounts, welsh)
        if problems:
            raise Refused(Refusal.draft_problems, problems=_problems_text(problems))
        if not checklist_complete(post.draft):
            raise Refused(Refusal.checklist_incomplete)
    elif t in (PostCommandType.approve, PostCommandType.refuse):
        if status != PostStatus.awaiting_approval:
            raise Refused(Refusal.not_awaiting_approval, status=status.value)
        if not _is_approver(cmd):
            raise Refused(Refusal.not_an_approver)
        if is_author:
            raise Refused(Refusal.own_post)
        if t == PostCommandType.approve and not cmd.checklist_seen:
            raise Refused(Refusal.checklist_not_seen)
        if t == PostCommandType.refuse and not cmd.reason.strip():
            raise Refused(Refusal.reason_missing)
    elif t in (PostCommandType.schedule, PostCommandType.publish_now):
        if t == PostCommandType.schedule and (cmd.publish_at is None or cmd.publish_at <= now):
            raise Refused(Refusal.time_in_past)
        _ready_to_publish(post, cmd, rule, force_accounts, welsh)
    elif t == PostCommandType.cancel:
        if status not in _CANCELLABLE:
            raise Refused(Refusal.not_cancellable, status=status.value)
        if not is_author and not _is_approver(cmd):
            raise Refused(Refusal.not_author_or_approver, what="cancel")
    elif t == PostCommandType.reopen:
        if status not in (PostStatus.approved, PostStatus.scheduled):
            raise Refused(Refusal.not_reopenable, status=status.value.replace("_", " "))
        if not is_author and not _is_approver(cmd):
            raise Refused(Refusal.not_author_or_approver, what="reopen")
    elif t == PostCommandType.posted_by_hand:
        if not any(d.account == cmd.account and d.status in BY_HAND for d in post.deliveries):
            raise Refused(Refusal.not_by_hand)
        if not is_author and not _is_approver(cmd):
            raise Refused(Refusal.not_author_or_approver, what="record a post by hand for")


def apply(
    post: Post | None,
    cmd: PostCommand,
    now: datetime,
    rule: ApprovalRule,
    force_accounts: dict[str, list[str]],
    welsh: bool = False,
) -> tuple[Post | None, list[PostEvent]]:
    """What a person's command does to a post: the post after it and its events, or the
    post unchanged and one `rejected` event with the reason (nothing is ever sent then).

    `rule` is the force's ApprovalRule, `force_accounts` its accounts and `welsh` its
    `welsh_language_standards`, all from its config."""
    try:
        _check(post, cmd, now, rule, force_accounts, welsh)
    except Refused as exc:
        return post, [rejected(post, cmd, now, str(exc), exc.code)]
    t = cmd.type
    if post is None:
        assert cmd.draft is not None
        new = Post(
            id=cmd.post_id,
            force=cmd.force,
            author=cmd.actor,
            draft=cmd.draft,
            created_at=now,
            updated_at=now,
            approval_reasons=approval_reasons(cmd.draft, rule),
            version=1,
        )
        return new, [
            post_event(new, PostEventType.saved, now, cmd.actor, command_id=cmd.command_id)
        ]
    if t == PostCommandType.publish_now:
        return start_publishing(post, now, cmd.actor, cmd.command_id)
    if t == PostCommandType.posted_by_hand:
        return _posted_by_hand(post, cmd, now)
    changes: dict[str, Any] = {"updated_at": now, "version": post.version + 1}
    kind, reason = _STEP_EVENTS[t], ""
    if t == PostCommandType.save_draft:
        assert cmd.draft is not None
        changes |= {"draft": cmd.draft, "approval_reasons": approval_reasons(cmd.draft, rule)}
    elif t == PostCommandType.submit:
        reasons = approval_reasons(post.draft, rule) or ["the author asked for approval"]
        changes |= {"status": PostStatus.awaiting_approval, "approval_reasons": reasons}
    elif t in (PostCommandType.approve, PostCommandType.refuse):
        decision: Literal["approved", "refused"] = (
            "approved" if t == PostCommandType.approve else "refused"
        )
        reason = cmd.reason.strip()
        approval = Approval(by=cmd.actor, at=now, decision=decision, reason=reason)
        changes |= {
            "status": PostStatus.approved if decision == "approved" else PostStatus.draft,
            "approvals": [*post.approvals, approval],
        }
    elif t == PostCommandType.schedule:
        changes |= {"status": PostStatus.scheduled, "publish_at": cmd.publish_at}
    elif t == PostCommandType.reopen:  # the last approval no longer covers what follows
        changes |= {"status": PostStatus.draft, "publish_at": None}
    elif t == PostCommandType.cancel:
        changes["status"] = PostStatus.cancelled
        reason = cmd.reason.strip()
    after = post.model_copy(update=changes)
    return after, [
        post_event(after, kind, now, cmd.actor, command_id=cmd.command_id, reason=reason)
    ]


_STEP_EVENTS: dict[PostCommandType, PostEventType] = {
    PostCommandType.save_draft: PostEventType.saved,
    PostCommandType.submit: PostEventType.submitted,
    PostCommandType.approve: PostEventType.approved,
    PostCommandType.refuse: PostEventType.refused,
    PostCommandType.schedule: PostEventType.scheduled,
    PostCommandType.cancel: PostEventType.cancelled,
    PostCommandType.reopen: PostEventType.reopened,
}


def start_publishing(
    post: Post, now: datetime, actor: Actor = SYSTEM, command_id: str | None = None
) -> tuple[Post, list[PostEvent]]:
    """Publish now (a person's publish_now, or a scheduled post come due): one pending
    delivery per account, sent by outbound."""
    after = post.model_copy(
        update={
            "status": PostStatus.publishing,
            "publish_at": post.publish_at or now,
            "updated_at": now,
            "version": post.version + 1,
            "deliveries": [
                AccountDelivery(account=a, status="pending") for a in post.draft.accounts
            ],
        }
    )
    return after, [post_event(after, PostEventType.publishing, now, actor, command_id=command_id)]


# Deliveries an officer may finish by hand: left to them, or not (surely) sent by outbound.
BY_HAND = frozenset({"by_hand", "undeliverable", "unconfirmed"})


def final_status(deliveries: list[AccountDelivery]) -> PostStatus | None:
    """A post's status once every account has an outcome (None before): an account left
    for an officer to post by hand is a task, not a failure."""
    states = [d.status for d in deliveries]
    if any(s in ("pending", "sending") for s in states):
        return None
    failed = sum(s in ("undeliverable", "unconfirmed") for s in states)
    if failed == len(states):
        return PostStatus.failed
    if failed:
        return PostStatus.partly_published
    return PostStatus.by_hand if "by_hand" in states else PostStatus.published


def _posted_by_hand(post: Post, cmd: PostCommand, now: datetime) -> tuple[Post, list[PostEvent]]:
    """An officer posted one account's post themselves: that account is done."""
    deliveries = [
        d.model_copy(update={"status": "posted_by_hand", "at": now})
        if d.account == cmd.account and d.status in BY_HAND
        else d
        for d in post.deliveries
    ]
    status = post.status
    if status in (PostStatus.by_hand, PostStatus.partly_published, PostStatus.failed):
        status = final_status(deliveries) or status
    after = post.model_copy(
        update={
            "deliveries": deliveries,
            "status": status,
            "updated_at": now,
            "version": post.version + 1,
        }
    )
    event = post_event(
        after,
        PostEventType.posted_by_hand,
        now,
        cmd.actor,
        account=cmd.account,
        command_id=cmd.command_id,
    )
    return after, [event]
