"""indexer: projects items.events, sla.events and audit.events into Elasticsearch."""
