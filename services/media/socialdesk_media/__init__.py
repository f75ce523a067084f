"""media: keeps the attachments sent with messages as evidence (docs/media.md)."""
