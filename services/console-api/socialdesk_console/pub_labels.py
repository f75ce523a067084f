"""Display names for the publishing desk's codes (objectives, kinds of post, the legal
checklist, statuses, columns), and the draft checks' messages in the page's language.
Kept apart from labels.py: the same code can mean something else on the inbox."""

from __future__ import annotations

import re

from socialdesk.refusals import Refusal
from socialdesk_console.i18n import N_, _, current

PUB_LABELS = {
    # Objectives (the national list)
    "appeal": N_("appeal for information"),
    "warn_inform": N_("warn and inform"),
    "prevent": N_("prevent"),
    "reassure": N_("reassure"),
    "recruit": N_("recruit"),
    "engage": N_("engage"),
    # Kinds of post
    "incident_update": N_("incident update"),
    "court_result": N_("court result"),
    "road_closure": N_("road closure"),
    "prevention": N_("prevention advice"),
    "general": N_("general"),
    # The legal checklist
    "contempt_of_court": N_("Nothing in it risks contempt of court"),
    "victims_children": N_("No victim of a sexual offence and no child is named or identifiable"),
    "sub_judice": N_("Nothing prejudges a case before the courts (sub judice)"),
    "personal_data": N_("Personal data is only what the purpose needs, and lawful to share"),
    # Statuses
    "draft": N_("draft"),
    "awaiting_approval": N_("awaiting approval"),
    "approved": N_("approved"),
    "scheduled": N_("scheduled"),
    "publishing": N_("publishing"),
    "published": N_("published"),
    "partly_published": N_("partly published"),
    "failed": N_("failed"),
    "by_hand": N_("to post by hand"),
    # One account's delivery
    "pending": N_("waiting to be sent"),
    "sending": N_("sending"),
    "delivered": N_("posted"),
    "undeliverable": N_("not posted"),
    "unconfirmed": N_("may have been posted: check the platform"),
    "posted_by_hand": N_("posted by hand"),
    "cancelled": N_("cancelled"),
    # The desk's columns
    "drafts": N_("Drafts"),
    "awaiting": N_("Awaiting approval"),
}
# Kinds share a code with an objective ("appeal"): the kind's own name.
KIND_LABELS = {"appeal": N_("appeal"), "prevention": N_("prevention advice")}

# check_draft's and the desk's messages (English in core), in the page's language.
MESSAGES = {
    "choose at least one account": N_("choose at least one account"),
    "write the text": N_("write the text"),
    "add alt text": N_("add alt text: describe the image for people who cannot see it"),
    "choose the objective": N_("choose the objective"),
    "choose a kind of post": N_("choose a kind of post"),
    "give the image's address": N_("give the image's address"),
    "at most 10 links": N_("at most 10 links"),
    "tick every item of the legal checklist": N_("tick every item of the legal checklist"),
    "give a date and time": N_("give a date and time"),
    "choose a time in the future": N_("choose a time in the future"),
    "approved as it was: to change it, send it back to draft first": N_(
        "approved as it was: to change it, send it back to draft first"
    ),
}
# The platforms' own names (brands: the same in Welsh).
PLATFORM_NAMES = {"x": "X", "facebook": "Facebook", "instagram": "Instagram", "tiktok": "TikTok"}
TOGETHER = re.compile(r"^Welsh and English together are (\d+) characters; (\w+) allows (\d+)$")
TOO_LONG = re.compile(r"^(\d+) characters; (\w+) allows (\d+)$")
UNKNOWN_ACCOUNT = re.compile(r"^unknown account (.+?)( for this force)?$")
NOT_A_LINK = re.compile(r"^not a web address: (.*)$")
NEEDS_APPROVAL = re.compile(r"^needs approval first \((.*)\): submit it$")


def platform_name(code: str) -> str:
    return PLATFORM_NAMES.get(code, code)


def pub_label(code: str | None) -> str:
    if not code:
        return ""
    known = PUB_LABELS.get(code)
    return _(known) if known else code.replace("_", " ")


def kind_label(code: str | None) -> str:
    known = KIND_LABELS.get(code or "")
    return _(known) if known else pub_label(code)


def message(text: str) -> str:
    """A problem's message in the page's language (an unknown one as it came)."""
    known = MESSAGES.get(text)
    if known:
        return _(known)
    if m := TOO_LONG.match(text):
        return _(
            "%(n)s characters: %(platform)s allows %(limit)s. Shorten it: nothing was sent."
        ) % {"n": m.group(1), "platform": platform_name(m.group(2)), "limit": m.group(3)}
    if m := TOGETHER.match(text):
        return _(
            "Welsh and English go out together in one message: %(n)s characters, and "
            "%(platform)s allows %(limit)s. Shorten them: nothing was sent."
        ) % {"n": m.group(1), "platform": platform_name(m.group(2)), "limit": m.group(3)}
    if m := UNKNOWN_ACCOUNT.match(text):
        return _("%(account)s is not one of this force's accounts") % {"account": m.group(1)}
    if m := NOT_A_LINK.match(text):
        return _("not a web address: %(link)s") % {"link": m.group(1)}
    if m := NEEDS_APPROVAL.match(text):
        return _("needs approval first (%(reasons)s): submit it for approval") % {
            "reasons": m.group(1)
        }
    return text


# Why outbound refused a command (PostEvent.reason_code), said without its particulars
# where the page is not in English (the English reason carries them).
REFUSALS = {
    Refusal.wrong_force: N_("you can act only on your own force's posts"),
    Refusal.no_such_post: N_("no such post"),
    Refusal.nothing_to_save: N_("nothing to save"),
    Refusal.stale: N_("this post has changed since you opened it: reload it and try again"),
    Refusal.not_author: N_("only the author can do that"),
    Refusal.not_a_draft: N_("only a draft can be changed"),
    Refusal.draft_problems: N_("fix the post first"),
    Refusal.checklist_incomplete: N_("tick every item of the legal checklist"),
    Refusal.not_awaiting_approval: N_("this post is not awaiting approval"),
    Refusal.not_an_approver: N_("only an approver can approve or refuse a post"),
    Refusal.own_post: N_("you wrote this post: another approver must decide on it"),
    Refusal.checklist_not_seen: N_("confirm you have read the author's checklist"),
    Refusal.reason_missing: N_("say why you refuse it, so the author can put it right"),
    Refusal.time_in_past: N_("choose a time in the future"),
    Refusal.not_publishable: N_("this post cannot be published now"),
    Refusal.not_author_or_approver: N_("only the author or an approver can do that"),
    Refusal.needs_approval: N_("it needs approval first: submit it for approval"),
    Refusal.not_cancellable: N_("this post has gone out or was withdrawn: it cannot be cancelled"),
    Refusal.unknown_force: N_("unknown force"),
    Refusal.not_by_hand: N_("that account's post is not waiting to be posted by hand"),
    Refusal.not_reopenable: N_("only an approved or scheduled post can go back to draft"),
}


def refusal(code: str | None, reason: str) -> str:
    """Outbound's refusal in the page's language: its English reason in English (with
    the particulars), else the code's translation; an unknown code, the reason."""
    if current() == "en" or code not in {r.value for r in Refusal}:
        return reason
    return _(REFUSALS[Refusal(code)])
