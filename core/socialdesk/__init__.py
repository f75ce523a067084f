"""socialdesk core library: settings, event models, Kafka and Elasticsearch plumbing,
logging, metrics and the local stack, shared by every service."""

__version__ = "0.1.0"
