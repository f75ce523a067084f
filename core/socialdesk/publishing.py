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
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from socialdesk.events import Actor, Model
from socialdesk.taxonomy import Platform


class Objective(StrEnum):
    """Why a force posts (the national list); every post states one."""

    appeal = "appeal"  # appeal for information
    warn_inform = "warn_inform"
    prevent = "prevent"
    reassure = "reassure"
    recruit = "recruit"
    engage = "engage"


class PostKind(StrEnum):
    """The template a post was written from; some kinds need approval (ApprovalRule)."""

    appeal = "appeal"
    incident_update = "incident_update"
    court_result = "court_result"
    road_closure = "road_closure"
    prevention = "prevention"
    general = "general"


class ChecklistItem(StrEnum):
    """The legal checklist the author ticks and the approver sees."""

    contempt_of_court = "contempt_of_court"
    victims_children = "victims_children"  # no victim of a sexual offence or child named
    sub_judice = "sub_judice"
    personal_data = "personal_data"


class PostStatus(StrEnum):
    draft = "draft"
    awaiting_approval = "awaiting_approval"
    approved = "approved"  # approved, not yet scheduled or published
    scheduled = "scheduled"
    publishing = "publishing"
    published = "published"  # from every account chosen
    partly_published = "partly_published"  # some accounts refused it for good
    failed = "failed"  # no account could publish it
    cancelled = "cancelled"


OPEN_POST_STATUSES = frozenset(
    {PostStatus.draft, PostStatus.awaiting_approval, PostStatus.approved, PostStatus.scheduled}
)


class PostCommandType(StrEnum):
    save_draft = "save_draft"  # create or edit (only while draft or refused back to draft)
    submit = "submit"  # ask for approval
    approve = "approve"
    refuse = "refuse"  # back to draft with the approver's reason
    schedule = "schedule"  # publish at `publish_at` (approval first where the rule says)
    publish_now = "publish_now"
    cancel = "cancel"


class PostEventType(StrEnum):
    saved = "saved"
    submitted = "submitted"
    approved = "approved"
    refused = "refused"
    scheduled = "scheduled"
    publishing = "publishing"
    delivered = "delivered"  # from one account (`account` on the event)
    undeliverable = "undeliverable"  # from one account, for good
    published = "published"  # every account has an outcome
    cancelled = "cancelled"
    rejected = "rejected"  # a command refused; the post is unchanged


# Characters per post, as each platform documents them (X counts a link as 23).
TEXT_LIMITS: dict[Platform, int] = {
    Platform.x: 280,
    Platform.facebook: 63_206,
    Platform.instagram: 2_200,
    Platform.tiktok: 2_200,
}
X_LINK_LENGTH = 23


class PostMedia(Model):
    """An image attached to a post; alt text is required (WCAG and the platforms')."""

    url: str = Field(min_length=1, max_length=2000)
    alt_text: str = Field(default="", max_length=1000)


class AccountRef(Model):
    """A force account a post goes out from: `x:NWPolice`."""

    platform: Platform
    handle: str = Field(min_length=1, max_length=200)

    @property
    def key(self) -> str:
        return f"{self.platform.value}:{self.handle}"


class PostDraft(Model):
    """What the author writes. `text` is per platform (X is short); `text_cy` is the
    Welsh beside it, required where the force follows the Welsh Language Standards."""

    kind: PostKind = PostKind.general
    objective: Objective
    expected_measure: str = Field(default="", max_length=500)
    accounts: list[AccountRef] = Field(default_factory=list, max_length=50)
    text: dict[Platform, str] = Field(default_factory=dict)
    text_cy: dict[Platform, str] = Field(default_factory=dict)
    media: list[PostMedia] = Field(default_factory=list, max_length=4)
    links: list[str] = Field(default_factory=list, max_length=10)
    sensitive: bool = False
    names_person: bool = False
    checklist: dict[ChecklistItem, bool] = Field(default_factory=dict)
    campaign_id: str | None = Field(default=None, max_length=200)


class Approval(Model):
    by: Actor
    at: AwareDatetime
    decision: Literal["approved", "refused"]
    reason: str = Field(default="", max_length=2000)


class AccountDelivery(Model):
    """The outcome of publishing from one account."""

    account: AccountRef
    status: Literal["pending", "sending", "delivered", "undeliverable", "unconfirmed"]
    attempts: int = 0
    platform_id: str | None = None
    error: str | None = None
    at: AwareDatetime | None = None


class Post(Model):
    """The whole state of a post, as `posts.events` carries it and the `posts` index
    holds it (one document per post, replaced on every event)."""

    id: str = Field(min_length=3, max_length=200)
    force: str
    author: Actor
    draft: PostDraft
    status: PostStatus = PostStatus.draft
    created_at: AwareDatetime
    updated_at: AwareDatetime
    publish_at: AwareDatetime | None = None
    approval_reasons: list[str] = Field(default_factory=list)
    approvals: list[Approval] = Field(default_factory=list)
    deliveries: list[AccountDelivery] = Field(default_factory=list)
    version: int = 0


class PostCommand(Model):
    """One step a person takes on a post (posts.commands, keyed by post id)."""

    command_id: str = Field(min_length=1, max_length=200)
    post_id: str = Field(min_length=3, max_length=200)
    force: str
    type: PostCommandType
    actor: Actor
    at: AwareDatetime
    draft: PostDraft | None = None  # save_draft
    publish_at: AwareDatetime | None = None  # schedule
    reason: str = Field(default="", max_length=2000)  # refuse, cancel
    checklist_seen: bool = False  # approve: the approver saw the author's ticks
    expected_version: int | None = None  # refuse a command made on a stale page


class PostEvent(Model):
    """What happened to a post (posts.events, keyed by post id), with the post after it."""

    event_id: str
    post_id: str
    force: str
    type: PostEventType
    at: AwareDatetime
    actor: Actor
    post: Post | None = None  # absent only on `rejected` for an unknown post
    account: AccountRef | None = None  # delivered / undeliverable
    reason: str = ""  # rejected, refused, undeliverable
    command_id: str | None = None


class Problem(Model):
    """One thing wrong with a draft, for the author: which field and what to do."""

    field: str
    message: str


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
    for i, m in enumerate(draft.media):
        if not m.alt_text.strip():
            problems.append(Problem(field=f"media.{i}.alt_text", message="add alt text"))
    for link in draft.links:
        if not link.startswith(("https://", "http://")):
            problems.append(Problem(field="links", message=f"not a web address: {link[:80]}"))
    return problems


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
