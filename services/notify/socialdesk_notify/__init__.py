"""notify: tells people outside the platform (unclaimed-P1 ladder, control-room handover)."""
