"""The publishing state machine (socialdesk.publishing.apply) as a communications team
meets it: who may do what to a post, when, and the reason given when a step is refused
(the post unchanged, nothing sent). Plus the force's approval rule in its config."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from socialdesk.config import ConfigError, load_config
from socialdesk.events import Actor
from socialdesk.publishing import (
    AccountRef,
    ApprovalRule,
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
    PublishingRole,
    apply,
    check_draft,
    message_text,
)
from socialdesk.refusals import Refusal
from socialdesk.settings import BaseServiceSettings
from socialdesk.taxonomy import Platform
from socialdesk.topics import schemas_dir
from socialdesk_indexer.posts import post_docs
from socialdesk_outbound.posting import record_delivery
from socialdesk_tools.configcheck import run_checks
from tests.unit.conftest import CONFIG_DIR

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
FORCE = "merseyside"
ACCOUNTS = {"x": ["MerseyPolice"], "facebook": ["MerseysidePolice"]}
RULE = ApprovalRule()
AUTHOR = Actor(kind="operator", id="comms.amy", force=FORCE)
APPROVER = Actor(kind="operator", id="approver.bo", force=FORCE)
OTHER = Actor(kind="operator", id="comms.cy", force=FORCE)
TICKED = {item: True for item in ChecklistItem}


def draft(**kw: object) -> PostDraft:
    base: dict[str, object] = {
        "kind": PostKind.prevention,
        "objective": Objective.prevent,
        "accounts": [AccountRef(platform=Platform.x, handle="MerseyPolice")],
        "text": {Platform.x: "Lock your car and keep valuables out of sight."},
        "checklist": TICKED,
    }
    return PostDraft.model_validate({**base, **kw})


class Desk:
    """One post's life: each step is a command through `apply`, as outbound runs it."""

    def __init__(self, rule: ApprovalRule = RULE, welsh: bool = False) -> None:
        self.post: Post | None = None
        self.rule, self.welsh, self.n = rule, welsh, 0
        self.code: Refusal | None = None
        self.accounts = dict(ACCOUNTS)

    def do(
        self,
        type_: PostCommandType,
        actor: Actor = AUTHOR,
        roles: tuple[str, ...] = (PublishingRole.comms,),
        at: datetime = T0,
        **kw: object,
    ) -> tuple[PostEventType, str]:
        self.n += 1
        cmd = PostCommand.model_validate(
            {
                "command_id": f"c{self.n}",
                "post_id": "pst_1",
                "force": kw.pop("force", FORCE),
                "type": type_,
                "actor": actor,
                "at": at,
                "actor_roles": list(roles),
                **kw,
            }
        )
        before = self.post
        self.post, events = apply(self.post, cmd, at, self.rule, self.accounts, self.welsh)
        (ev,) = events
        if ev.type == PostEventType.rejected:
            assert self.post is before  # a refused command changes nothing
            assert ev.reason_code is not None  # the console can say it in Welsh too
            self.code = ev.reason_code
        return ev.type, ev.reason

    def approve(self, actor: Actor = APPROVER) -> tuple[PostEventType, str]:
        return self.do(
            PostCommandType.approve, actor, (PublishingRole.approver,), checklist_seen=True
        )

    @property
    def status(self) -> PostStatus:
        assert self.post is not None
        return self.post.status


REJECTED = PostEventType.rejected
LATER = T0 + timedelta(hours=2)


def test_a_post_that_needs_no_approval_is_saved_scheduled_and_goes_out_when_due() -> None:
    desk = Desk()
    assert desk.do(PostCommandType.save_draft, draft=draft()) == (PostEventType.saved, "")
    assert desk.status == PostStatus.draft and desk.post is not None
    assert desk.post.author == AUTHOR and desk.post.approval_reasons == []
    assert desk.do(PostCommandType.schedule, publish_at=LATER)[0] == PostEventType.scheduled
    assert desk.status == PostStatus.scheduled and desk.post.publish_at == LATER


def test_an_appeal_needs_approval_before_it_can_be_scheduled_or_published() -> None:
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft(kind=PostKind.appeal))
    ev, reason = desk.do(PostCommandType.publish_now)
    assert ev == REJECTED and reason == "it needs approval first: appeal posts need approval"
    assert desk.do(PostCommandType.schedule, publish_at=LATER)[0] == REJECTED
    assert desk.do(PostCommandType.submit)[0] == PostEventType.submitted
    assert desk.status == PostStatus.awaiting_approval
    assert desk.approve() == (PostEventType.approved, "")
    assert desk.status == PostStatus.approved
    ev, _ = desk.do(PostCommandType.publish_now)
    assert ev == PostEventType.publishing and desk.post is not None
    assert [d.status for d in desk.post.deliveries] == ["pending"]
    assert desk.post.publish_at == T0


def test_the_author_cannot_approve_their_own_post_even_as_an_approver() -> None:
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft(names_person=True))
    desk.do(PostCommandType.submit)
    ev, reason = desk.approve(actor=AUTHOR)
    assert ev == REJECTED and reason == "you wrote this post: another approver must decide on it"
    assert desk.code == Refusal.own_post
    assert desk.status == PostStatus.awaiting_approval


def test_only_an_approver_approves_and_only_after_reading_the_checklist() -> None:
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft(sensitive=True))
    desk.do(PostCommandType.submit)
    ev, reason = desk.do(PostCommandType.approve, OTHER, checklist_seen=True)
    assert ev == REJECTED and reason == "only an approver can approve or refuse a post"
    ev, reason = desk.do(PostCommandType.approve, APPROVER, (PublishingRole.approver,))
    assert ev == REJECTED and "legal checklist" in reason
    assert desk.approve()[0] == PostEventType.approved


def test_a_refusal_needs_a_reason_and_sends_the_post_back_to_its_author() -> None:
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft(kind=PostKind.court_result))
    desk.do(PostCommandType.submit)
    refuse = (PostCommandType.refuse, APPROVER, (PublishingRole.approver,))
    ev, reason = desk.do(*refuse)
    assert ev == REJECTED and "say why" in reason
    assert desk.do(*refuse, reason="names the victim")[0] == PostEventType.refused
    assert desk.status == PostStatus.draft and desk.post is not None
    assert desk.post.approvals[-1].reason == "names the victim"
    # Edited and submitted again, it needs a fresh approval: the refusal does not carry.
    desk.do(PostCommandType.save_draft, draft=draft(kind=PostKind.court_result))
    assert desk.do(PostCommandType.publish_now)[0] == REJECTED


def test_submitting_needs_a_clean_draft_and_every_checklist_item_ticked() -> None:
    desk = Desk()
    half = {ChecklistItem.contempt_of_court: True}
    desk.do(PostCommandType.save_draft, draft=draft(kind=PostKind.appeal, checklist=half))
    ev, reason = desk.do(PostCommandType.submit)
    assert ev == REJECTED and "legal checklist" in reason
    too_long = draft(kind=PostKind.appeal, text={Platform.x: "x" * 281})
    desk.do(PostCommandType.save_draft, draft=too_long)
    ev, reason = desk.do(PostCommandType.submit)
    assert ev == REJECTED and reason == "fix the post first: text.x: 281 characters; x allows 280"


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        ({"text": {Platform.x: "y" * 300}}, "text.x", "300 characters; x allows 280"),
        ({"media": [PostMedia(url="https://img/1.jpg")]}, "media.0.alt_text", "add alt text"),
        (
            {"accounts": [AccountRef(platform=Platform.x, handle="KentPolice")]},
            "accounts",
            "unknown account x:KentPolice for this force",
        ),
    ],
)
def test_bad_input_is_refused_with_the_field_and_nothing_is_published(
    bad: dict[str, object], field: str, message: str
) -> None:
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft(**bad))
    ev, reason = desk.do(PostCommandType.publish_now)
    assert ev == REJECTED and f"{field}: {message}" in reason
    assert desk.status == PostStatus.draft and desk.post is not None
    assert desk.post.deliveries == []


def test_only_the_author_edits_a_draft_and_only_while_it_is_a_draft() -> None:
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft())
    ev, reason = desk.do(PostCommandType.save_draft, OTHER, draft=draft(text={Platform.x: "hi"}))
    assert ev == REJECTED and reason == "only the author can edit this draft"
    desk.do(PostCommandType.schedule, publish_at=LATER)
    ev, reason = desk.do(PostCommandType.save_draft, draft=draft())
    assert ev == REJECTED and reason == "only a draft can be edited; this post is scheduled"


def test_a_command_made_on_a_stale_page_is_refused() -> None:
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft())
    desk.do(PostCommandType.save_draft, draft=draft(text={Platform.x: "newer"}))
    ev, reason = desk.do(PostCommandType.schedule, publish_at=LATER, expected_version=1)
    assert ev == REJECTED and "changed since you opened it (now version 2)" in reason
    ok = desk.do(PostCommandType.schedule, publish_at=LATER, expected_version=2)
    assert ok[0] == PostEventType.scheduled


def test_a_schedule_in_the_past_is_refused() -> None:
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft())
    ev, reason = desk.do(PostCommandType.schedule, publish_at=T0 - timedelta(minutes=1))
    assert ev == REJECTED and reason == "choose a time in the future to publish it"


def test_another_forces_post_is_answered_as_a_missing_one() -> None:
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft())
    kent = Actor(kind="operator", id="kent.approver", force="kent")
    ev, reason = desk.do(PostCommandType.cancel, kent, (PublishingRole.approver,), force="kent")
    assert (ev, reason) == (REJECTED, "no such post")
    ev, reason = desk.do(PostCommandType.cancel, kent, (PublishingRole.approver,))
    assert (ev, reason) == (REJECTED, "you can act only on your own force's posts")
    assert Desk().do(PostCommandType.submit) == (REJECTED, "no such post")


def test_cancel_by_the_author_or_an_approver_until_publishing_starts() -> None:
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft())
    assert desk.do(PostCommandType.cancel, OTHER)[0] == REJECTED
    assert desk.do(PostCommandType.cancel, APPROVER, (PublishingRole.approver,))[0] == (
        PostEventType.cancelled
    )
    again = Desk()
    again.do(PostCommandType.save_draft, draft=draft())
    again.do(PostCommandType.publish_now)
    ev, reason = again.do(PostCommandType.cancel)
    assert ev == REJECTED and reason == "a post that is publishing cannot be cancelled"


def test_a_force_that_approves_everything_and_a_voluntary_submission() -> None:
    strict = Desk(ApprovalRule(all_posts=True))
    strict.do(PostCommandType.save_draft, draft=draft())
    assert strict.do(PostCommandType.publish_now)[1] == (
        "it needs approval first: every post needs approval in this force"
    )
    # Under the default rule an author may still ask; then it waits for the approver.
    asked = Desk()
    asked.do(PostCommandType.save_draft, draft=draft())
    asked.do(PostCommandType.submit)
    assert asked.post is not None
    assert asked.post.approval_reasons == ["the author asked for approval"]
    assert asked.do(PostCommandType.publish_now)[0] == REJECTED
    asked.approve()
    assert asked.do(PostCommandType.schedule, publish_at=LATER)[0] == PostEventType.scheduled


def test_welsh_and_english_go_out_together_and_must_fit_together() -> None:
    both = draft(
        text={Platform.x: "Road closed at Llandudno Junction."},
        text_cy={Platform.x: "Ffordd ar gau wrth Gyffordd Llandudno."},
    )
    assert message_text(both, Platform.x, welsh=True) == (
        "Ffordd ar gau wrth Gyffordd Llandudno.\n\nRoad closed at Llandudno Junction."
    )
    wales = {"x": ["MerseyPolice"]}
    assert check_draft(both, wales, welsh=True) == []
    long = draft(text={Platform.x: "e" * 200}, text_cy={Platform.x: "c" * 200})
    (problem,) = check_draft(long, wales, welsh=True)
    assert problem.field == "text_cy.x" and "together are 402 characters" in problem.message
    assert message_text(long, Platform.x, welsh=False) == "e" * 200


# ---- the force's rule, from its config ----------------------------------------------
def test_each_force_has_its_approval_rule_and_the_national_default_otherwise() -> None:
    config = load_config(CONFIG_DIR)
    assert PostKind.incident_update in config.forces["north-wales"].publishing.kinds
    assert config.forces["kent"].publishing == ApprovalRule()


def test_a_mistyped_rule_stops_start_up_naming_the_file_and_field(tmp_path: Path) -> None:
    root = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, root)
    path = root / "forces" / "kent.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["publishing"] = {"kinds": ["appeals"]}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as exc:
        load_config(root)
    assert exc.value.path.endswith("kent.yaml") and exc.value.field == "publishing.kinds.0"
    (problem,) = run_checks(root, lambda line: None)  # `socialdesk config-check` says so too
    assert "kent.yaml: publishing.kinds.0:" in problem


# ---- the topics' examples -----------------------------------------------------------
def test_the_command_examples_tell_one_posts_story_and_every_event_example_indexes() -> None:
    """schemas/examples/posts.commands, applied in order under North Wales's rule: the
    author's own approval is refused, the second person's accepted; each posts.events
    example makes the posts index document of its post at its version (a rejection
    changes nothing, so it writes nothing)."""
    config = load_config(CONFIG_DIR)
    nw = config.forces["north-wales"]
    accounts = {p.value: list(h) for p, h in nw.accounts.items()}
    examples = schemas_dir() / "examples"
    order = ["save-draft-appeal", "submit", "approve-by-the-author", "approve", "schedule"]
    post, seen = None, []
    for name in order:
        cmd = PostCommand.model_validate_json(
            (examples / "posts.commands" / "1" / f"{name}.json").read_bytes()
        )
        post, (ev,) = apply(post, cmd, cmd.at, nw.publishing, accounts, welsh=True)
        seen.append(ev.type.value)
    assert seen == ["saved", "submitted", "rejected", "approved", "scheduled"]
    for path in sorted((examples / "posts.events" / "1").glob("*.json")):
        ev = PostEvent.model_validate_json(path.read_bytes())
        docs = post_docs(BaseServiceSettings(index_prefix="sd"), ev)
        want = [] if ev.type == "rejected" else [(ev.post_id, ev.post and ev.post.version)]
        assert [(d.id, d.version) for d in docs] == want, path.name


def test_an_account_that_failed_or_may_have_posted_is_finished_by_hand() -> None:
    """A post that failed on one account (a refused token) and may have gone on another
    (outbound stopped mid-call) is closed by an officer who checked or posted it by hand:
    only the author or an approver, only for such an account; then it is published."""
    desk = Desk()
    fb = AccountRef(platform=Platform.facebook, handle="MerseysidePolice")
    x = AccountRef(platform=Platform.x, handle="MerseyPolice")
    text = {Platform.x: "Lock your car.", Platform.facebook: "Lock your car, please."}
    desk.do(PostCommandType.save_draft, draft=draft(accounts=[x, fb], text=text))
    desk.do(PostCommandType.publish_now)
    assert desk.post is not None
    post, _ = record_delivery(desk.post, x, "unconfirmed", T0, 1, None, "may have been sent")
    desk.post, _ = record_delivery(post, fb, "undeliverable", T0, 1, None, "credentials: 401")
    assert desk.status == PostStatus.failed
    assert desk.do(PostCommandType.posted_by_hand, OTHER, account=x)[0] == REJECTED
    assert desk.code == Refusal.not_author_or_approver
    assert desk.do(PostCommandType.posted_by_hand, account=x)[0] == PostEventType.posted_by_hand
    assert desk.status == PostStatus.partly_published  # Facebook still not posted
    assert desk.do(PostCommandType.posted_by_hand, account=x)[0] == REJECTED  # done already
    assert desk.code == Refusal.not_by_hand
    desk.do(PostCommandType.posted_by_hand, APPROVER, (PublishingRole.approver,), account=fb)
    assert desk.status == PostStatus.published
    assert desk.post is not None
    assert [d.status for d in desk.post.deliveries] == ["posted_by_hand", "posted_by_hand"]


def test_a_scheduled_post_goes_back_to_draft_to_change_it_and_is_approved_again() -> None:
    """A typo spotted in a scheduled appeal: back to draft (its author or an approver,
    nobody else; only approved or scheduled posts), edited, and approved again before it
    can be scheduled; a post that needs no approval is simply scheduled again."""
    desk = Desk()
    desk.do(PostCommandType.save_draft, draft=draft(kind=PostKind.appeal))
    assert desk.do(PostCommandType.reopen)[0] == REJECTED  # a draft already
    assert desk.code == Refusal.not_reopenable
    desk.do(PostCommandType.submit)
    desk.approve()
    desk.do(PostCommandType.schedule, publish_at=LATER)
    assert desk.do(PostCommandType.reopen, OTHER)[0] == REJECTED
    assert desk.code == Refusal.not_author_or_approver
    assert desk.do(PostCommandType.reopen)[0] == PostEventType.reopened
    assert desk.status == PostStatus.draft and desk.post is not None
    assert desk.post.publish_at is None
    fixed = draft(kind=PostKind.appeal, text={Platform.x: "Seen this bike? Call 101."})
    assert desk.do(PostCommandType.save_draft, draft=fixed)[0] == PostEventType.saved
    ev, reason = desk.do(PostCommandType.schedule, publish_at=LATER)
    assert ev == REJECTED and reason.startswith("it needs approval first")
    desk.do(PostCommandType.submit)
    desk.approve()
    assert desk.do(PostCommandType.schedule, publish_at=LATER)[0] == PostEventType.scheduled

    advice = Desk()
    advice.do(PostCommandType.save_draft, draft=draft())
    advice.do(PostCommandType.schedule, publish_at=LATER)
    reopened = advice.do(PostCommandType.reopen, APPROVER, (PublishingRole.approver,))
    assert reopened[0] == PostEventType.reopened
    assert advice.do(PostCommandType.schedule, publish_at=LATER)[0] == PostEventType.scheduled
