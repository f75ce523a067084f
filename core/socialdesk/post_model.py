"""The publishing desk's vocabulary and records: objectives, kinds of post, the legal
checklist, statuses, and the post, command and event models (no I/O, no rules: those are
socialdesk.publishing, which re-exports all of this)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from socialdesk.events import Actor, Model
from socialdesk.refusals import Refusal
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
    by_hand = "by_hand"  # the rest went; an officer posts it from an account we cannot
    cancelled = "cancelled"


OPEN_POST_STATUSES = frozenset(
    {PostStatus.draft, PostStatus.awaiting_approval, PostStatus.approved, PostStatus.scheduled}
)


class PublishingRole(StrEnum):
    """The console roles `apply` asks about (PostCommand.actor_roles)."""

    comms = "comms"  # composes posts
    approver = "approver"  # approves or refuses others' posts


class PostCommandType(StrEnum):
    save_draft = "save_draft"  # create or edit (only while draft or refused back to draft)
    submit = "submit"  # ask for approval
    approve = "approve"
    refuse = "refuse"  # back to draft with the approver's reason
    schedule = "schedule"  # publish at `publish_at` (approval first where the rule says)
    publish_now = "publish_now"
    cancel = "cancel"
    posted_by_hand = "posted_by_hand"  # an officer posted an account's post themselves
    reopen = "reopen"  # an approved or scheduled post back to draft, to change it


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
    posted_by_hand = "posted_by_hand"  # from one account, by an officer (`account`)
    by_hand = "by_hand"  # one account left for an officer to post (no publisher or token)
    reopened = "reopened"  # back to draft; approval again where the rule asks for it


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
    # by_hand: no publisher or token for it, an officer posts it (then posted_by_hand)
    status: Literal[
        "pending",
        "sending",
        "delivered",
        "undeliverable",
        "unconfirmed",
        "by_hand",
        "posted_by_hand",
    ]
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
    actor_roles: list[str] = Field(default_factory=list, max_length=20)  # PublishingRole
    account: AccountRef | None = None  # posted_by_hand: the account it was posted from


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
    reason_code: Refusal | None = None  # rejected: the reason as a code, to translate
    command_id: str | None = None


class Problem(Model):
    """One thing wrong with a draft, for the author: which field and what to do."""

    field: str
    message: str
