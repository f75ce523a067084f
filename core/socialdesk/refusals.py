"""Why the publishing state machine (socialdesk.publishing.apply) refuses a command: a
code the console can say in the reader's language, beside the reason in English."""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """Why `apply` refused a command (PostEvent.reason_code), for the console to say in
    the reader's language; `reason` is the same in English, with the particulars."""

    wrong_force = "wrong_force"
    no_such_post = "no_such_post"
    nothing_to_save = "nothing_to_save"
    stale = "stale"
    not_author = "not_author"
    not_a_draft = "not_a_draft"
    draft_problems = "draft_problems"
    checklist_incomplete = "checklist_incomplete"
    not_awaiting_approval = "not_awaiting_approval"
    not_an_approver = "not_an_approver"
    own_post = "own_post"  # an approval (or refusal) by the author
    checklist_not_seen = "checklist_not_seen"
    reason_missing = "reason_missing"
    time_in_past = "time_in_past"
    not_publishable = "not_publishable"
    not_author_or_approver = "not_author_or_approver"
    needs_approval = "needs_approval"
    not_cancellable = "not_cancellable"
    unknown_force = "unknown_force"
    not_by_hand = "not_by_hand"
    not_reopenable = "not_reopenable"


# The reason in English for each code, with its particulars ({status}, {version} ...).
REASONS: dict[Refusal, str] = {
    Refusal.wrong_force: "you can act only on your own force's posts",
    Refusal.no_such_post: "no such post",
    Refusal.nothing_to_save: "nothing to save",
    Refusal.stale: "this post has changed since you opened it (now version {version}): "
    "reload it and try again",
    Refusal.not_author: "only the author can {what}",
    Refusal.not_a_draft: "only a draft can be {what}; this post is {status}",
    Refusal.draft_problems: "fix the post first: {problems}",
    Refusal.checklist_incomplete: "tick every item of the legal checklist before asking for "
    "approval",
    Refusal.not_awaiting_approval: "this post is not awaiting approval; it is {status}",
    Refusal.not_an_approver: "only an approver can approve or refuse a post",
    Refusal.own_post: "you wrote this post: another approver must decide on it",
    Refusal.checklist_not_seen: "confirm you have read the author's legal checklist",
    Refusal.reason_missing: "say why you refuse it, so the author can put it right",
    Refusal.time_in_past: "choose a time in the future to publish it",
    Refusal.not_publishable: "a post that is {status} cannot be published",
    Refusal.not_author_or_approver: "only the author or an approver can {what} this post",
    Refusal.needs_approval: "it needs approval first: {reasons}",
    Refusal.not_cancellable: "a post that is {status} cannot be cancelled",
    Refusal.unknown_force: "unknown force {force!r}",
    Refusal.not_by_hand: "that account's post is not waiting to be posted by hand",
    Refusal.not_reopenable: "only an approved or scheduled post can go back to draft; this "
    "post is {status}",
}


class Refused(Exception):
    """A command `apply` will not carry out: the code, and the reason the console shows."""

    def __init__(self, code: Refusal, **particulars: object) -> None:
        super().__init__(REASONS[code].format(**particulars))
        self.code = code
