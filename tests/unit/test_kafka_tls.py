"""TLS everywhere a client connects: the services' Kafka clients, `socialdesk replay` and
`simulate` trust the cluster CA and present the client certificate the chart mounts, and
the Elasticsearch client trusts the CA of Elasticsearch's certificate. Checked with a real
TLS handshake against a server that requires a client certificate."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from socialdesk.kafka import common_client_options, sync_client_options
from socialdesk.settings import BaseServiceSettings
from socialdesk_tools import cli


def _cert(
    name: str, key: Any, issuer: tuple[x509.Name, Any] | None, ca: bool = False
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
    return b.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: Any | None = None) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private CA (as Strimzi makes one), a broker certificate and a user certificate."""
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("cluster-ca", ca_key, None, ca=True)
    _write(d / "ca.crt", ca)
    for name in ("broker", "user"):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(d / f"{name}.crt", _cert(name, key, (ca.subject, ca_key)), key)
    return d


def _handshake(pki: Path, client_ctx: ssl.SSLContext) -> str:
    """Serve TLS on localhost requiring a client certificate from the CA; return the
    client certificate's common name the server saw."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pki / "broker.crt", pki / "broker.key")
    server_ctx.load_verify_locations(pki / "ca.crt")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: dict[str, Any] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                seen["peer"] = tls.getpeercert()
        except ssl.SSLError as exc:
            seen["error"] = exc

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client_ctx.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.do_handshake()
            tls.recv(1) if tls.pending() else None
    finally:
        t.join(5)
        listener.close()
    assert "error" not in seen, seen
    return dict(x[0] for x in seen["peer"]["subject"])["commonName"]


def _settings(pki: Path, **kw: Any) -> BaseServiceSettings:
    base: dict[str, Any] = {
        "kafka_bootstrap": "localhost:9093",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "socialdesk",
        "kafka_sasl_password": "pw",
        "kafka_ssl_cafile": pki / "ca.crt",
    }
    return BaseServiceSettings(**{**base, **kw})


def test_services_trust_the_cluster_ca_and_present_the_client_certificate(pki: Path) -> None:
    s = _settings(pki, kafka_ssl_certfile=pki / "user.crt", kafka_ssl_keyfile=pki / "user.key")
    opts = common_client_options(s)
    assert _handshake(pki, opts["ssl_context"]) == "user"
    assert opts["sasl_mechanism"] == "SCRAM-SHA-512" and opts["sasl_plain_password"] == "pw"


def test_without_the_cluster_ca_the_broker_is_not_trusted(pki: Path) -> None:
    s = _settings(pki, kafka_ssl_cafile=None)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(pki, common_client_options(s)["ssl_context"])


def test_replay_hands_the_same_tls_and_sasl_to_its_producer(
    pki: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`socialdesk replay` against a cluster with a private CA (Strimzi's default)."""
    import kafka

    made: list[dict[str, Any]] = []

    class Producer:
        def __init__(self, **opts: Any) -> None:
            made.append(opts)

        def send(self, *a: Any, **kw: Any) -> None:
            pass

        def flush(self, *a: Any, **kw: Any) -> None:
            pass

        def close(self, *a: Any, **kw: Any) -> None:
            pass

    monkeypatch.setattr(kafka, "KafkaProducer", Producer)
    env = {
        "SOCIALDESK_KAFKA_SECURITY_PROTOCOL": "SSL",
        "SOCIALDESK_KAFKA_SSL_CAFILE": str(pki / "ca.crt"),
        "SOCIALDESK_KAFKA_SSL_CERTFILE": str(pki / "user.crt"),
        "SOCIALDESK_KAFKA_SSL_KEYFILE": str(pki / "user.key"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    archive = tmp_path / "a.jsonl"
    archive.write_text("")
    assert cli.main(["replay", str(archive), "--quiet"]) == 0
    (opts,) = made
    assert opts["security_protocol"] == "SSL"
    assert _handshake(pki, opts["ssl_context"]) == "user"


def test_kafka_python_takes_every_option_the_services_use(pki: Path) -> None:
    """kafka-python (admin, replay, simulate) accepts each option, the TLS context too."""
    from kafka import KafkaAdminClient, KafkaProducer

    s = _settings(pki, kafka_ssl_certfile=pki / "user.crt", kafka_ssl_keyfile=pki / "user.key")
    opts = sync_client_options(s)
    for cls in (KafkaProducer, KafkaAdminClient):
        assert set(opts) <= set(cls.DEFAULT_CONFIG), (cls, set(opts) - set(cls.DEFAULT_CONFIG))


def test_elasticsearch_client_trusts_the_configured_ca(pki: Path) -> None:
    from socialdesk.es import make_es

    s = BaseServiceSettings(
        elasticsearch_url="https://localhost:9200", elasticsearch_ca_certs=pki / "ca.crt"
    )
    es = make_es(s)
    node = next(iter(es.transport.node_pool.all()))
    assert node.config.ca_certs == str(pki / "ca.crt")


def test_a_refused_setting_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOCIALDESK_KAFKA_SECURITY_PROTOCOL", "TLS")
    assert cli.main(["sla"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("configuration error: SOCIALDESK_KAFKA_SECURITY_PROTOCOL")
