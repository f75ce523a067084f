"""Service settings from the environment (SOCIALDESK_*), validated at start-up.

One class per concern; each service builds the settings it needs when it starts, never
at import time. Secrets come from the environment only and are refused when left at
their development defaults outside development.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-change-me"  # noqa: S105 - the sentinel we refuse outside development


class BaseServiceSettings(BaseSettings):
    """What every service needs: where Kafka and Elasticsearch are, and who it is."""

    model_config = SettingsConfigDict(env_prefix="SOCIALDESK_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="comma-separated host:port list")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    # Mutual TLS (e.g. a Strimzi KafkaUser with `tls` authentication): PEM files.
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    # noida-db never expires the sessions of consumers that died without leaving, so a
    # killed group leader wedges its group. When set, a single-instance service removes
    # the stale members of its own group before joining. Local stack only.
    kafka_evict_stale_members: bool = False
    kafka_session_timeout_ms: int = 10_000
    # Idempotent producers need InitProducerId, which Tansu does not answer; real Kafka
    # and noida-db do. Only the Tansu test runs turn it off.
    kafka_idempotent_producer: bool = True
    kafka_linger_ms: int = Field(5, ge=0, le=1000)
    kafka_compression: Literal["gzip", "none"] = Field(
        "gzip", description="producer batch compression (gzip level 1; see kafka.py)"
    )
    kafka_empty_fetch_wait_ms: int = Field(
        20, ge=0, le=500, description="least time between empty fetches (see kafka.py)"
    )
    kafka_busy_fetch_wait_ms: int = Field(
        10, ge=0, le=500, description="least time between fetches that return records"
    )
    kafka_idle_fetch_wait_ms: int = Field(
        0,
        ge=0,
        le=500,
        description="the empty-fetch wait doubles while a consumer stays idle, up to this",
    )
    topic_prefix: str = Field("", description="prefix for every topic name, e.g. 'force1.'")
    elasticsearch_url: str = "http://127.0.0.1:9200"
    elasticsearch_username: str | None = None
    elasticsearch_password: SecretStr | None = None
    elasticsearch_api_key: SecretStr | None = None
    elasticsearch_ca_certs: Path | None = Field(
        None, description="CA of Elasticsearch's HTTP certificate (e.g. ECK's self-signed one)"
    )
    index_prefix: str = "socialdesk"
    author_history_days: int = Field(
        8,
        ge=1,
        le=90,
        description="days before today of per-author summaries kept (socialdesk.authors); "
        "the indexer deletes older days",
    )
    config_dir: Path = Path("config")
    http_host: str = "127.0.0.1"
    http_port: int = 0
    log_level: str = "INFO"
    instance: str = Field("0", description="instance id, used in client ids and logs")
    # Per-author keys sealing personal topics (socialdesk.vault): on in production always,
    # elsewhere when asked, so tests and tools reading topics in clear keep working.
    vault_key: SecretStr = SecretStr(DEV_SECRET)
    vault_seal: bool | None = Field(None, description="seal personal topics (production: on)")
    vault_cache_ttl_s: float = Field(
        60.0, gt=0, le=900, description="how long a fetched key is used before asking again"
    )
    vault_cache_entries: int = Field(50_000, ge=100, le=5_000_000)
    vault_erasure_poll_s: float = Field(
        5.0, gt=0, le=300, description="how often a service asks which authors were erased"
    )

    @property
    def sealing(self) -> bool:
        """Whether personal topics are sealed: never off in production."""
        return self.environment == "production" or bool(self.vault_seal)


class ConsoleSettings(BaseServiceSettings):
    """console-api: the session secret must be real outside development."""

    session_secret: SecretStr = SecretStr(DEV_SECRET)
    session_max_age_s: int = Field(
        8 * 3600, ge=60, le=7 * 86400, description="absolute session lifetime (a shift)"
    )
    session_idle_s: int = Field(
        30 * 60, ge=60, le=86400, description="a session unused this long is ended"
    )
    preview_per_minute: int = Field(
        30, ge=1, le=10_000, description="reply previews per user per minute, all replicas"
    )
    cookie_secure: bool = False
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="proxies whose X-Forwarded-For is believed (the client address that "
        "audit records and sign-in throttling use); comma-separated",
    )
    demo_users_file: Path | None = Path("config/demo/users.yaml")
    public_url: str = Field(
        "http://127.0.0.1:8080", description="the console's own URL (OIDC redirect URI base)"
    )
    # OpenID Connect for forces: authorization code flow with PKCE against one issuer.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email"
    oidc_claims_file: Path | None = Field(
        None, description="how ID token claims map to force, teams, role (<config>/oidc.yaml)"
    )
    oidc_jwks_cache_s: int = Field(3600, ge=0, le=86400)
    oidc_http_timeout_s: float = Field(5.0, gt=0, le=60)
    oidc_leeway_s: int = Field(30, ge=0, le=300)
    reply_templates_dir: Path | None = Field(
        None, description="reply templates (<config>/templates/replies)"
    )

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> ConsoleSettings:
        if self.environment == "production":
            if self.session_secret.get_secret_value() == DEV_SECRET:
                raise ValueError(
                    "SOCIALDESK_SESSION_SECRET is still the development default; "
                    "set a random secret of at least 32 characters"
                )
            if not self.cookie_secure:
                raise ValueError("SOCIALDESK_COOKIE_SECURE must be true in production")
            if self.oidc_issuer and not (
                self.oidc_issuer.startswith("https://") and self.public_url.startswith("https://")
            ):
                raise ValueError(
                    "SOCIALDESK_OIDC_ISSUER and SOCIALDESK_PUBLIC_URL must be https:// "
                    "in production"
                )
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("SOCIALDESK_OIDC_CLIENT_ID is required with SOCIALDESK_OIDC_ISSUER")
        return self


class OutboundSettings(BaseServiceSettings):
    """outbound: where replies go (a JSONL recorder outside production, else the
    platforms' APIs with their tokens) and how long a temporary failure is waited out."""

    reply_publisher: Literal["recorder", "platforms"] | None = Field(
        None, description="recorder (JSONL file) in development and test; platforms otherwise"
    )
    reply_recorder_path: Path = Path(".data/outbox/replies.jsonl")
    reply_retry_max_delay_s: float = Field(60.0, gt=0, le=3600)
    x_api_base_url: str = "https://api.x.com"
    x_bearer_token: SecretStr | None = None
    meta_graph_base_url: str = "https://graph.facebook.com/v19.0"
    meta_page_token: SecretStr | None = None
    publish_image_internal_hosts: list[str] = Field(
        default_factory=list,
        description="hosts on private or loopback addresses that outbound may fetch a post's "
        "images from (an internal image store); every other such address is refused",
    )

    @model_validator(mode="after")
    def _refuse_recorder_in_production(self) -> OutboundSettings:
        if self.environment == "production" and self.reply_publisher == "recorder":
            raise ValueError(
                "SOCIALDESK_REPLY_PUBLISHER=recorder is for development; "
                "production sends replies to the platforms"
            )
        return self

    @property
    def publisher_mode(self) -> str:
        """Recorder by default outside production, so a demo never posts to a platform."""
        if self.reply_publisher is not None:
            return self.reply_publisher
        return "platforms" if self.environment == "production" else "recorder"


class NotifySettings(BaseServiceSettings):
    """notify: the SMTP relay, the console's address (links and the control-room
    callback) and how long a notification is retried before it is called undeliverable.
    Webhook and control-room HMAC keys are read from the variables each force's config
    names (`secret_env`); see secret_from_env."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "socialdesk@localhost"
    smtp_timeout_s: float = Field(10.0, gt=0, le=120)
    public_url: str = Field(
        "http://127.0.0.1:8080", description="the console's URL: item links and callbacks"
    )
    webhook_timeout_s: float = Field(5.0, gt=0, le=60)
    notify_quick_attempts: int = Field(
        3, ge=1, le=10, description="attempts in a row before a retry is scheduled"
    )
    notify_retry_max_delay_s: float = Field(60.0, gt=0, le=3600)
    notify_give_up_after_s: float = Field(
        3600.0, gt=0, le=7 * 86400, description="then undeliverable: audited and alerted"
    )

    @property
    def callback_url(self) -> str:
        return self.public_url.rstrip("/") + "/control-room/callback"


def secret_from_env(name: str, environment: str) -> str:
    """A force's HMAC key from the variable its config names. Unset, it is the development
    default outside production and an error in production (one line naming the variable)."""
    import os

    value = os.environ.get(name)
    if value:
        if environment == "production" and value == DEV_SECRET:
            raise ValueError(f"{name} is still the development default; set the real key")
        return value
    if environment == "production":
        raise ValueError(
            f"{name} is not set (named by a force's secret_env in config/); set it to the key"
        )
    return DEV_SECRET


class TriageSettings(BaseServiceSettings):
    """triage: where the labelled data and the trained model live."""

    triage_data_dir: Path = Path("data/triage")
    triage_model_path: Path = Field(
        Path(".data/models/triage.joblib"),
        description="trained model; built from triage_data_dir when missing or stale",
    )
    triage_author_context: bool = Field(True, description="look up the author's recent items")
    triage_context_days: int = Field(7, ge=1, le=90)
    triage_context_timeout_s: float = Field(0.5, gt=0, le=10)

    @model_validator(mode="after")
    def _history_covers_the_window(self) -> TriageSettings:
        if self.triage_context_days > self.author_history_days:
            raise ValueError(
                f"SOCIALDESK_TRIAGE_CONTEXT_DAYS ({self.triage_context_days}) reads more days "
                f"than SOCIALDESK_AUTHOR_HISTORY_DAYS ({self.author_history_days}) keeps"
            )
        return self


class IngestSettings(BaseServiceSettings):
    """ingest: the platforms' webhook secrets, the generic endpoint's API keys, the X
    filtered stream, de-duplication and back-pressure.

    A platform secret left unset is the development default outside production (so the
    local stack works) and disables that platform in production; a development default
    set explicitly in production is refused."""

    ingest_api_keys: SecretStr = SecretStr(DEV_SECRET)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=16 * 1_048_576)
    # Meta (Facebook Page and Instagram): app secret signs every POST (X-Hub-Signature-256),
    # the verify token answers the subscription handshake.
    meta_app_secret: SecretStr | None = None
    meta_verify_token: SecretStr | None = None
    # X Account Activity API: the app's consumer secret signs CRC answers and deliveries.
    x_consumer_secret: SecretStr | None = None
    # X filtered stream (public mentions of force accounts), app-only bearer token.
    x_stream_enabled: bool = False
    x_stream_bearer_token: SecretStr | None = None
    x_stream_base_url: str = "https://api.x.com"
    x_stream_stall_timeout_s: float = Field(30.0, gt=0, le=600, description="no keep-alive")
    # Receiving accounts by platform id: 'facebook:<page id>=<handle>,instagram:<ig id>=...'
    # (webhooks name the page / IG account / X user by id; config/forces lists handles).
    ingest_account_ids: str = ""
    ingest_account_ids_file: Path | None = None
    ingest_dedup_window_s: int = Field(36 * 3600, ge=0, le=14 * 86400)
    ingest_dedup_max_entries: int = Field(500_000, ge=0, le=10_000_000)
    ingest_rate_per_s: float = Field(500.0, gt=0, description="token bucket per source and IP")
    ingest_rate_burst: int = Field(1000, ge=1)
    ingest_kafka_timeout_s: float = Field(10.0, gt=0, le=120)
    ingest_retry_after_s: int = Field(5, ge=1, le=3600)
    ingest_workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> IngestSettings:
        secrets = {
            "SOCIALDESK_INGEST_API_KEYS": self.ingest_api_keys,
            "SOCIALDESK_META_APP_SECRET": self.meta_app_secret,
            "SOCIALDESK_META_VERIFY_TOKEN": self.meta_verify_token,
            "SOCIALDESK_X_CONSUMER_SECRET": self.x_consumer_secret,
        }
        if self.environment == "production":
            for env, value in secrets.items():
                if value is not None and value.get_secret_value() == DEV_SECRET:
                    raise ValueError(f"{env} is still the development default; set a real secret")
            if self.x_stream_enabled and self.x_stream_bearer_token is None:
                raise ValueError("SOCIALDESK_X_STREAM_BEARER_TOKEN is required for the stream")
        else:
            for name in ("meta_app_secret", "meta_verify_token", "x_consumer_secret"):
                if getattr(self, name) is None:
                    setattr(self, name, SecretStr(DEV_SECRET))
        return self

    def api_keys(self) -> dict[str, str]:
        """Parse 'source:key,source2:key2' into {key: source}."""
        out: dict[str, str] = {}
        for part in self.ingest_api_keys.get_secret_value().split(","):
            part = part.strip()
            if not part:
                continue
            source, _, key = part.partition(":")
            if not key:
                source, key = "default", source
            out[key] = source
        return out


class MetricsSettings(BaseServiceSettings):
    """metrics: how long item facts stay changeable, and what counts as a repeat contact."""

    metrics_keep_days: int = Field(
        40,
        ge=8,
        le=400,
        description="days an item's facts are kept in the state store; older days are final",
    )
    metrics_repeat_window_days: int = Field(
        30,
        ge=1,
        le=365,
        description="an item is a repeat contact if its author wrote this long before",
    )
    metrics_lookup_timeout_s: float = Field(0.5, gt=0, le=10)
    metrics_flush_s: float = Field(
        2.0,
        ge=0,
        le=60,
        description="report cells are written at most this often (each write overwrites "
        "them; a crash loses nothing: they are rebuilt from the facts on restart)",
    )
