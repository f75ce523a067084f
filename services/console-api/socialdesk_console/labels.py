"""Display names for the platform's codes (intents, flags, outcomes, statuses, channels,
roles, SLA clocks), marked for the catalogues here and translated where shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from socialdesk_console.i18n import N_, _, current

LABELS = {
    # Intents
    "crime_report": N_("crime report"),
    "asb": N_("anti-social behaviour"),
    "welfare_concern": N_("welfare concern"),
    "information": N_("information"),
    "road_traffic": N_("road traffic"),
    "enquiry": N_("enquiry"),
    "complaint": N_("complaint"),
    "appreciation": N_("appreciation"),
    "abuse": N_("abuse"),
    "other": N_("other"),
    # Risk flags
    "weapon": N_("weapon"),
    "domestic_abuse": N_("domestic abuse"),
    "self_harm": N_("self harm"),
    "child_at_risk": N_("child at risk"),
    "missing_person": N_("missing person"),
    "sexual_offence": N_("sexual offence"),
    "hate_crime": N_("hate crime"),
    "fraud": N_("fraud"),
    "drugs": N_("drugs"),
    "welsh_language": N_("Welsh language"),
    # Outcomes
    "advised_999": N_("advised 999"),
    "crime_recorded": N_("crime recorded"),
    "signposted": N_("signposted"),
    "information_passed": N_("information passed"),
    "no_action": N_("no action"),
    "duplicate": N_("duplicate"),
    # Statuses
    "new": N_("new"),
    "assigned": N_("assigned"),
    "in_progress": N_("in progress"),
    "awaiting_public": N_("awaiting public"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
    # Channels
    "public_mention": N_("public mention"),
    "reply": N_("reply"),
    "comment": N_("comment"),
    "direct_message": N_("direct message"),
    # Roles
    "operator": N_("operator"),
    "supervisor": N_("supervisor"),
    "force_admin": N_("force admin"),
    "national_viewer": N_("national viewer"),
    "national_duty": N_("national duty"),
    "comms": N_("communications officer"),
    "approver": N_("publishing approver"),
    "dpo": N_("data protection officer"),
    # An operator's presence
    "online": N_("online"),
    "busy": N_("busy"),
    "offline": N_("offline"),
    # What happened to an item (its timeline)
    "created": N_("created"),
    "routed": N_("routed"),
    "claimed": N_("claimed"),
    "released": N_("released"),
    "replied": N_("replied"),
    "noted": N_("noted"),
    "regraded": N_("regraded"),
    "recategorised": N_("recategorised"),
    "transferred": N_("transferred"),
    "public_replied": N_("public replied"),
    "reopened": N_("reopened"),
    "merged": N_("merged"),
    "absorbed": N_("absorbed"),
    "handed_over": N_("handed over"),
    "control_room_updated": N_("control room updated"),
    "sent_by_hand": N_("sent by hand"),
    "rejected": N_("rejected"),
    # SLA clocks and their states
    "first_response": N_("first response"),
    "next_response": N_("next response"),
    "resolution": N_("resolution"),
    "met": N_("met"),
    "paused": N_("paused"),
    "running": N_("running"),
    "warning": N_("warning"),
    "at_risk": N_("at risk"),
    "breached": N_("breached"),
}

# The listening report's topics (socialdesk.subjects), by their own names.
SUBJECT_LABELS = {
    "violence_weapons": N_("violence weapons"),
    "burglary_theft": N_("burglary theft"),
    "fraud_scams": N_("fraud scams"),
    "drugs": N_("drugs"),
    "asb": N_("asb"),
    "roads": N_("roads"),
    "missing_people": N_("missing people"),
    "welfare": N_("welfare"),
    "domestic_sexual": N_("domestic sexual"),
    "hate_crime": N_("hate crime"),
    "child_safety": N_("child safety"),
    "community": N_("community"),
    "recruitment": N_("recruitment"),
    "feedback": N_("feedback"),
    "other": N_("other"),
}


def subject_label(code: str) -> str:
    known = SUBJECT_LABELS.get(code)
    return _(known) if known else code.replace("_", " ")


def label(code: str | None) -> str:
    """A code's name in the request's language (an unknown code: itself, spaced)."""
    if not code:
        return ""
    known = LABELS.get(code)
    return _(known) if known else code.replace("_", " ")


def js_labels() -> dict[str, str]:
    """Every code's name in the request's language, for the scripts that redraw rows."""
    return {code: _(name) for code, name in LABELS.items()}


def language_of(doc: Mapping[str, Any] | None, default: str = "en") -> str:
    """The language a text from the public is in: Welsh if detected or flagged so, else
    the language recorded, else the default."""
    doc = doc or {}
    if doc.get("language") == "cy" or "welsh_language" in (doc.get("flags") or []):
        return "cy"
    code = doc.get("language")
    return code if isinstance(code, str) and re.fullmatch(r"[a-z]{2,3}", code) else default


def text_lang(doc: Mapping[str, Any] | None, default: str = "en") -> Markup:
    """` lang="xx"` for a text whose language differs from the page's (WCAG 3.1.2)."""
    code = language_of(doc, default)
    return Markup(f' lang="{code}"') if code != current() else Markup("")  # noqa: S704 - a-z only
