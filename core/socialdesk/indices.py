"""Elasticsearch index names (each the stem of `alias(settings, name)`), beside the topic
names in socialdesk.topics: code asks this module for them, never spells them itself."""

from __future__ import annotations

ITEMS = "items"
OPEN = "open"  # the open items only, same documents as ITEMS: what the live pages read
SLA = "sla"
CORRECTIONS = "corrections"
EVENTS = "events"
AUDIT = "audit"
ROLLUPS = "rollups"
ROLLUPS_TEAM = "rollups_team"
ROLLUPS_CHANNEL = "rollups_channel"
ROLLUPS_TC = "rollups_tc"
AUTHOR_DAYS = "author-days"  # the stem of daily indices: alias(settings, AUTHOR_DAYS)-YYYY.MM.DD
CONSOLE_SESSIONS = "console-sessions"
CONSOLE_GUARDS = "console-guards"
LEGAL_HOLDS = "legal-holds"  # items or authors kept from retention and erasure
RESTRICTIONS = "restrictions"  # authors whose processing is restricted (GDPR Art. 18)
ERASURES = "erasures"  # erasure requests: progress while running, then the report
ATTACHMENTS = "attachments"  # one document per attachment the media service kept or refused
POSTS = "posts"  # one document per force post (the Post), replaced by newer versions
AUTHOR_KEYS = "author-keys"  # per-author data keys, wrapped (socialdesk.vault)
AUTHOR_ERASURES = "author-erasures"  # which author keys were destroyed, when (socialdesk.vault)
