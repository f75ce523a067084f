"""triage: grades each mention's urgency, intent and flags (mentions.raw -> mentions.triaged)."""
