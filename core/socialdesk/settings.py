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
    # noida-db never expires the sessions of consumers that died without leaving, so a
    # killed group leader wedges its group. When set, a single-instance service removes
    # the stale members of its own group before joining. Local stack only.
    kafka_evict_stale_members: bool = False
    kafka_session_timeout_ms: int = 10_000
    # Idempotent producers need InitProducerId, which Tansu does not answer; real Kafka
    # and noida-db do. Only the Tansu test runs turn it off.
    kafka_idempotent_producer: bool = True
    kafka_linger_ms: int = Field(1, ge=0, le=1000)
    topic_prefix: str = Field("", description="prefix for every topic name, e.g. 'force1.'")
    elasticsearch_url: str = "http://127.0.0.1:9200"
    elasticsearch_username: str | None = None
    elasticsearch_password: SecretStr | None = None
    elasticsearch_api_key: SecretStr | None = None
    index_prefix: str = "socialdesk"
    config_dir: Path = Path("config")
    http_host: str = "127.0.0.1"
    http_port: int = 0
    log_level: str = "INFO"
    instance: str = Field("0", description="instance id, used in client ids and logs")


class ConsoleSettings(BaseServiceSettings):
    """console-api: the session secret must be real outside development."""

    session_secret: SecretStr = SecretStr(DEV_SECRET)
    session_max_age_s: int = 8 * 3600
    cookie_secure: bool = False
    demo_users_file: Path | None = Path("config/demo/users.yaml")
    # OpenID Connect for forces (sign-in lands with the console issue; read here so a
    # deployment can already carry it).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None

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
        return self


class IngestSettings(BaseServiceSettings):
    """ingest: per-source API keys for the generic JSON/JSONL endpoint."""

    ingest_api_keys: SecretStr = SecretStr(DEV_SECRET)
    max_body_bytes: int = 1_048_576

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> IngestSettings:
        if (
            self.environment == "production"
            and self.ingest_api_keys.get_secret_value() == DEV_SECRET
        ):
            raise ValueError("SOCIALDESK_INGEST_API_KEYS is still the development default")
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
