"""The national taxonomy from the design brief: grades, intents, flags, outcomes."""

from __future__ import annotations

from enum import StrEnum


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Intent(StrEnum):
    crime_report = "crime_report"
    asb = "asb"
    welfare_concern = "welfare_concern"
    information = "information"
    road_traffic = "road_traffic"
    enquiry = "enquiry"
    complaint = "complaint"
    appreciation = "appreciation"
    abuse = "abuse"
    other = "other"


class Flag(StrEnum):
    weapon = "weapon"
    domestic_abuse = "domestic_abuse"
    self_harm = "self_harm"
    child_at_risk = "child_at_risk"
    missing_person = "missing_person"
    sexual_offence = "sexual_offence"
    hate_crime = "hate_crime"
    fraud = "fraud"
    drugs = "drugs"
    welsh_language = "welsh_language"


class Platform(StrEnum):
    x = "x"
    facebook = "facebook"
    instagram = "instagram"
    tiktok = "tiktok"
    whatsapp = "whatsapp"
    webchat = "webchat"
    web_form = "web_form"
    other = "other"


class Channel(StrEnum):
    public_mention = "public_mention"
    reply = "reply"
    comment = "comment"
    direct_message = "direct_message"


class ItemStatus(StrEnum):
    new = "new"
    assigned = "assigned"
    in_progress = "in_progress"
    awaiting_public = "awaiting_public"
    resolved = "resolved"
    closed = "closed"


class Outcome(StrEnum):
    advised_999 = "advised_999"
    crime_recorded = "crime_recorded"
    signposted = "signposted"
    information_passed = "information_passed"
    no_action = "no_action"
    duplicate = "duplicate"


PRIORITY_ORDER = {Priority.P1: 1, Priority.P2: 2, Priority.P3: 3, Priority.P4: 4}
# An item someone still has to act on; resolved and closed are the rest.
OPEN_STATUSES = frozenset(
    {ItemStatus.new, ItemStatus.assigned, ItemStatus.in_progress, ItemStatus.awaiting_public}
)
