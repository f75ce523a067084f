"""assign: the one writer of inbox items (mentions.triaged, items.commands -> items.events)."""
