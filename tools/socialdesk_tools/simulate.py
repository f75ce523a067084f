"""`socialdesk simulate`: realistic mention traffic for demos, soak tests and drills.

A force's day is not flat: a night lull, a morning rise, an evening peak, and now and
then a major incident that multiplies volume 10-100x within minutes and brings rumours,
appeals for information and genuine emergencies with it. The simulator draws arrivals
from that rate curve (a non-homogeneous Poisson process, by thinning), compresses time
by --speed, and sends each mention to ingest's generic endpoint or straight to Kafka."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Share of the daytime rate by hour of day (UK pattern: quiet 02-06, evening peak).
HOURLY = [
    0.35, 0.25, 0.15, 0.12, 0.12, 0.18, 0.35, 0.6, 0.8, 0.9, 0.95, 1.0,
    1.0, 1.0, 0.95, 0.95, 1.0, 1.1, 1.2, 1.25, 1.2, 1.0, 0.8, 0.55,
]  # fmt: skip

PLACES = [
    "County Rd", "Lark Lane", "Smithdown Rd", "Lodge Lane", "Bold St", "Sefton Park",
    "the Strand", "Queens Drive", "Walton Vale", "Bootle Strand", "Kirkby", "Birkenhead",
    "Wallasey", "Southport", "St Helens", "Aigburth Road", "Edge Lane", "Speke",
]  # fmt: skip
EVERYDAY = [
    "car broken into overnight on {place}, window smashed, what do I do?",
    "bike nicked from outside the shop on {place}, blue Carrera, crime ref please",
    "off road bikes tearing round {place} again, every single night",
    "loud party on {place} still going at 3am, can someone have a word",
    "found a wallet on the bus near {place}, where do I hand it in?",
    "someone has dumped a sofa across the road on {place}, cars swerving round it",
    "how do I get a copy of my crime report? ref was given last week",
    "scam text pretending to be my bank, they nearly got me. who do I tell?",
    "lads dealing outside the chippy on {place} in broad daylight",
    "any update on my stolen phone? heard nothing for 2 weeks",
    "massive thanks to the officers who helped my nan on {place} today",
    "traffic on {place} not moving at all, is there an accident?",
    "neighbour's dog has been barking for 2 days and no one's answering the door, worried",
    "useless lot, never answer the phone",
]  # fmt: skip
EMERGENCY = [
    "there's a lad with a knife outside the offy on {place}, he's waving it at people. hurry",
    "my ex is outside banging on the door, he's threatened to kill me, {place}",
    "I don't want to be here anymore, I've got the pills in front of me",
    "a little girl on her own crying by the road on {place}, no adults anywhere",
    "car just ploughed into people at the bus stop on {place}, send help",
]  # fmt: skip
RUMOUR = [
    "is it true there's been a shooting at {incident}? people saying 3 dead",
    "heard they've closed everything round {incident}, is it a terror thing?",
    "video going round of {incident}, is that real or old footage?",
    "my mate says the police are covering up what happened at {incident}",
    "why are there 20 police cars at {incident}?? what's going on",
]  # fmt: skip
APPEAL = [
    "I was at {incident} tonight and filmed some of it, where do I send the video?",
    "saw a man running from {incident} towards {place}, grey hoodie, about 6ft",
    "can't reach my daughter, she was at {incident}, please is there a number to call",
    "dashcam caught a car speeding away from {incident} around 9pm, reg partly visible",
    "is {incident} safe now? need to get home through there",
]  # fmt: skip
WEIGHTS_DAY = {"everyday": 0.93, "emergency": 0.02, "demo": 0.05}
WEIGHTS_INCIDENT = {"everyday": 0.2, "emergency": 0.06, "rumour": 0.42, "appeal": 0.32}


@dataclass
class Profile:
    rate: float = 0.2  # mentions a second at the daytime baseline (about 17k a day)
    duration_s: float = 86_400.0  # simulated seconds
    start: datetime = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    incident_at_s: float | None = 64_800.0  # 18:00 on a day starting at midnight
    incident_factor: float = 30.0
    incident_s: float = 3600.0
    ramp_s: float = 300.0  # "within minutes"
    incident_place: str = "the Arena"


def rate_at(p: Profile, t: float) -> float:
    """Mentions a second, t simulated seconds after the start."""
    now = p.start + timedelta(seconds=t)
    hour = now.hour + now.minute / 60
    lo, hi = HOURLY[int(hour) % 24], HOURLY[(int(hour) + 1) % 24]
    base = p.rate * (lo + (hi - lo) * (hour - int(hour)))
    return base * incident_multiplier(p, t)


def incident_multiplier(p: Profile, t: float) -> float:
    """1 outside an incident; ramps to the factor within ramp_s, holds, then decays."""
    if p.incident_at_s is None or t < p.incident_at_s:
        return 1.0
    dt = t - p.incident_at_s
    if dt < p.ramp_s:
        return 1 + (p.incident_factor - 1) * dt / p.ramp_s
    if dt < p.incident_s:
        return p.incident_factor
    return 1 + (p.incident_factor - 1) * math.exp(-(dt - p.incident_s) / 900)


def in_incident(p: Profile, t: float) -> bool:
    return p.incident_at_s is not None and p.incident_at_s <= t < p.incident_at_s + p.incident_s


def arrivals(p: Profile, rng: random.Random) -> Iterator[float]:
    """Arrival times (simulated seconds) by thinning against the curve's maximum."""
    peak = p.rate * max(HOURLY) * max(1.0, p.incident_factor)
    t = 0.0
    while True:
        t += rng.expovariate(peak)
        if t >= p.duration_s:
            return
        if rng.random() * peak <= rate_at(p, t):
            yield t


class Texts:
    """Varied invented texts: templates with places, plus the demo file's phrases."""

    def __init__(self, rng: random.Random, demo_file: Path | None = None) -> None:
        self.rng = rng
        self.demo: list[str] = []
        if demo_file is not None and demo_file.exists():
            lines = demo_file.read_text(encoding="utf-8").splitlines()
            self.demo = [json.loads(x)["text"] for x in lines if x.strip()]

    def pick(self, kind: str, incident: str) -> str:
        pool = {"everyday": EVERYDAY, "emergency": EMERGENCY, "rumour": RUMOUR}.get(kind, APPEAL)
        if kind == "demo" and self.demo:
            return self.rng.choice(self.demo)
        text = self.rng.choice(pool).format(place=self.rng.choice(PLACES), incident=incident)
        if self.rng.random() < 0.2:
            text = text.capitalize()
        if self.rng.random() < 0.15:
            text += self.rng.choice([" pls", " !!", " 🙏", " asap", " thanks"])
        return text


class Simulator:
    """Builds mention dicts (the mentions.raw shape) in simulated time order."""

    def __init__(
        self,
        profile: Profile,
        seed: int = 1,
        handles: tuple[str, ...] = ("MerseyPolice",),
        demo_file: Path | None = None,
    ) -> None:
        self.p = profile
        self.rng = random.Random(seed)
        self.texts = Texts(self.rng, demo_file)
        self.handles = handles
        self.run = f"sim{seed}-{self.rng.randrange(16**6):06x}"
        self.n = 0

    def mentions(self) -> Iterator[tuple[float, dict[str, Any]]]:
        for t in arrivals(self.p, self.rng):
            yield t, self.mention(t)

    def mention(self, t: float) -> dict[str, Any]:
        self.n += 1
        weights = WEIGHTS_INCIDENT if in_incident(self.p, t) else WEIGHTS_DAY
        kind = self.rng.choices(list(weights), list(weights.values()))[0]
        handle = self.rng.choice(self.handles)
        text = self.texts.pick(kind, self.p.incident_place)
        channel = self.rng.choices(
            ["public_mention", "direct_message", "reply", "comment"], [0.45, 0.3, 0.15, 0.1]
        )[0]
        if channel == "public_mention" and not text.startswith("@"):
            text = f"@{handle} {text}"
        native = f"{self.run}-{self.n}"
        author = self.rng.randrange(1, 40_000 if kind != "rumour" else 400_000)
        at = (self.p.start + timedelta(seconds=t)).isoformat().replace("+00:00", "Z")
        return {
            "id": f"x:{native}",
            "platform": "x",
            "native_id": native,
            "channel": channel,
            "author": {"id": f"u{author}", "handle": f"user_{author}", "display_name": None},
            "text": text,
            "language": None,
            "posted_at": at,
            "received_at": at,
            "force_account": {"platform": "x", "handle": handle},
            "conversation_id": native if channel != "direct_message" else None,
            "in_reply_to_id": None,
            "media": [],
            "links": [],
            "raw": {"source": "simulate", "kind": kind},
        }


def parse_duration(value: str) -> float:
    """'90s', '45m', '24h', '2d' or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units:
        return float(value[:-1]) * units[value[-1]]
    return float(value)


class Sender:
    """Where mentions go: ingest's generic endpoint (batched JSONL, retrying 429/503 as
    a platform would), Kafka directly, or stdout."""

    def __init__(self, target: str, ingest_url: str, api_key: str) -> None:
        self.target = target
        self.sent = 0
        if target == "ingest":
            import httpx

            self.http = httpx.Client(timeout=30)
            self.url = ingest_url.rstrip("/") + "/v1/mentions"
            self.headers = {"X-Api-Key": api_key, "Content-Type": "application/x-ndjson"}
        elif target == "kafka":
            from kafka import KafkaProducer

            from socialdesk.kafka import sync_client_options, topic_name
            from socialdesk.settings import BaseServiceSettings
            from socialdesk.topics import MENTIONS_RAW

            settings = BaseServiceSettings()
            opts = sync_client_options(settings)
            self.topic = topic_name(settings, MENTIONS_RAW)
            self.producer = KafkaProducer(
                acks="all", linger_ms=5, client_id="socialdesk-simulate", **opts
            )

    def send(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        if self.target == "stdout":
            for m in batch:
                print(json.dumps(m, ensure_ascii=False))
        elif self.target == "kafka":
            for m in batch:
                self.producer.send(self.topic, key=m["id"].encode(), value=json.dumps(m).encode())
        else:
            body = b"\n".join(json.dumps(m).encode() for m in batch)
            for _ in range(100):
                try:
                    r = self.http.post(self.url, content=body, headers=self.headers)
                    if r.status_code < 400:
                        break
                    if r.status_code not in (429, 503):
                        raise SystemExit(f"ingest refused a batch: {r.status_code} {r.text}")
                    time.sleep(float(r.headers.get("retry-after", "1")))
                except OSError:
                    time.sleep(1)
        self.sent += len(batch)

    def close(self) -> None:
        if self.target == "kafka":
            self.producer.flush()
            self.producer.close()
        elif self.target == "ingest":
            self.http.close()


def run(sim: Simulator, sender: Sender, speed: float, quiet: bool = False) -> int:
    """Send each mention when its simulated time comes (time / speed); speed 0 means as
    fast as possible. Progress is shown in simulated hours."""
    from tqdm import tqdm

    p = sim.p
    bar = tqdm(total=round(p.duration_s / 3600, 2), unit="sim h", disable=quiet)
    started = time.monotonic()
    batch: list[dict[str, Any]] = []
    shown = 0.0
    try:
        for t, m in sim.mentions():
            due = started + t / speed if speed > 0 else 0.0
            if batch and (time.monotonic() < due - 0.05 or len(batch) >= 200):
                sender.send(batch)
                batch = []
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            batch.append(m)
            hours = round(t / 3600, 2)
            if hours > shown:
                bar.update(hours - shown)
                shown = hours
                bar.set_postfix(sent=sender.sent, rate=f"{rate_at(p, t):.2f}/s")
        sender.send(batch)
        bar.update(max(0.0, round(p.duration_s / 3600, 2) - shown))
    finally:
        bar.close()
        sender.close()
    return sender.sent
