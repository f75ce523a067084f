"""sla: 101-style clocks per item (items.events -> sla.events)."""
