"""ingest: turns incoming messages into normalised mentions on mentions.raw."""
