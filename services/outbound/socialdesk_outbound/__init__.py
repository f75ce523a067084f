"""outbound: sends operators' replies to the platforms (items.events -> X, Meta), with
its delivery state per reply in its own changelog store."""
