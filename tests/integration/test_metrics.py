"""The metrics service through the local stack: item events, SLA events and the forces'
own posts in; report cells in the `rollups` index out; the report a supervisor reads
from them (items by day, first-response median, SLA compliance, repeat contact, Welsh
contact, the listening gap). Redelivered events count once, an SLA result that arrives
before its item is kept for it, and neither a restart nor a replay of every input from
the beginning counts anything twice: the facts come back from the changelog."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import AsyncElasticsearch

from socialdesk.cells import LOCAL, build_report
from socialdesk.config import PlatformConfig, load_config
from socialdesk.es import alias, ensure_indices
from socialdesk.events import ForceAccount, ItemEvent, OutboundPost, SlaEvent, item_key_of
from socialdesk.settings import MetricsSettings
from socialdesk.taxonomy import Flag, Intent, Priority
from socialdesk.topics import ITEMS_EVENTS, POSTS_OUTBOUND, SLA_EVENTS
from socialdesk_indexer.documents import item_document
from socialdesk_metrics.flows import MetricsProcessor
from socialdesk_metrics.rollup import PendingSla
from tests.unit.test_rollup import TARGETS, Life, sla_events

from .conftest import Backend
from .helpers import Running, create_topics, produce, settings_for, wait_until

ROOT = Path(__file__).resolve().parents[2]
FORCE = "merseyside"


def metrics_settings(noida: Backend, prefix: str) -> MetricsSettings:
    """The integration settings (helpers.settings_for) for the metrics service."""
    base = settings_for(noida.kafka, prefix, noida.es_url)
    return MetricsSettings(**base.model_dump(exclude_unset=True), metrics_lookup_timeout_s=5)


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), LOCAL).astimezone(UTC)


def post(n: int, text: str, kind: str, at: datetime, handle: str = "MerseyPolice") -> OutboundPost:
    return OutboundPost(
        id=f"x:out{n}",
        platform="x",
        native_id=f"out{n}",
        kind=kind,  # type: ignore[arg-type]
        force_account=ForceAccount(platform="x", handle=handle),
        text=text,
        posted_at=at,
        received_at=at,
    )


def item_records(events: list[ItemEvent]) -> list[tuple[str | None, bytes]]:
    return [(item_key_of(e.item_id), e.model_dump_json().encode()) for e in events]


def sla_records(events: list[SlaEvent]) -> list[tuple[str | None, bytes]]:
    return [(item_key_of(e.item_id), e.model_dump_json().encode()) for e in events]


def post_records(posts: list[OutboundPost]) -> list[tuple[str | None, bytes]]:
    return [(p.id, p.model_dump_json().encode()) for p in posts]


async def report_from_index(
    es: AsyncElasticsearch, settings: MetricsSettings, force: str, start: date, end: date
) -> dict[str, Any]:
    """As the console reads it: the period's cells of one force, every partition."""
    index = alias(settings, "rollups")
    await es.indices.refresh(index=index)
    resp = await es.search(
        index=index,
        query={
            "bool": {
                "filter": [
                    {"term": {"force": force}},
                    {"range": {"day": {"gte": start.isoformat(), "lte": end.isoformat()}}},
                ]
            }
        },
        size=10_000,
        track_total_hits=True,
    )
    hits = resp["hits"]["hits"]
    assert resp["hits"]["total"]["value"] == len(hits), "a report read past one page"
    items, posts = [], []
    for hit in hits:
        doc = hit["_source"]
        if doc["kind"] == "posts":
            posts.append({"day": doc["day"], "counts": doc["counts"]})
        elif doc["kind"] == "items":
            items.append({"day": doc["day"], "counts": doc["counts"]})
    return build_report(items, posts, start, end, TARGETS)


async def committed_to_end(running: Running) -> bool:
    """Every input the service was given is processed, written and committed."""
    consumer = running.runtime.consumer
    if consumer is None or not consumer.assignment():
        return False
    tps = sorted(consumer.assignment())
    ends = await consumer.end_offsets(tps)
    for tp in tps:
        if ends[tp] and (await consumer.committed(tp) or 0) < ends[tp]:
            return False
    return True


class Scenario:
    """Two days of a desk: four Merseyside items and a Welsh one in North Wales, their
    SLA events from the real clocks, and what the forces posted."""

    def __init__(self, config: PlatformConfig) -> None:
        today = datetime.now(LOCAL).date()
        self.d1, self.d2 = today - timedelta(days=3), today - timedelta(days=2)
        d1, d2 = self.d1, self.d2
        self.prior = Life(
            config,
            "someone keeps trying my car door",
            at=local(d1, 8) - timedelta(days=4),
            author="repeat-author",
        )
        # P1, answered in 5 minutes, resolved in 2 hours: both clocks met
        self.a = Life(
            config,
            "lad with a knife on Walton Lane",
            Priority.P1,
            flags=(Flag.weapon,),
            at=local(d1, 10),
            author="a1",
        )
        self.a.do("claim", local(d1, 10, 1))
        self.a.do("reply", local(d1, 10, 5), text="Please ring 999 now")
        self.a.do("resolve", local(d1, 12), outcome="advised_999")
        # P2, answered after 90 minutes against 60: first response breached
        self.b = Life(
            config,
            "loud noise and youths every night",
            Priority.P2,
            Intent.asb,
            at=local(d1, 11),
            author="b1",
        )
        self.b.do("claim", local(d1, 11, 2))
        self.b.do("reply", local(d1, 12, 30), text="Sorry for the wait")
        self.b.do("resolve", local(d1, 14), outcome="signposted")
        # P3 question, answered in 20 minutes, left open (resolved after the restart)
        self.c = Life(
            config,
            "is the road closure on the M62 still on?",
            Priority.P3,
            Intent.information,
            at=local(d2, 9),
            author="c1",
        )
        self.c.do("claim", local(d2, 9, 5))
        self.c.do("reply", local(d2, 9, 20), text="Yes, until 6pm")
        # P3 from someone who wrote four days before: a repeat contact, not answered
        self.d = Life(
            config, "my bike was stolen from the shed", at=local(d2, 12), author="repeat-author"
        )
        # Welsh, North Wales, answered in 10 minutes
        self.w = Life(
            config,
            "Mae rhywun wedi dwyn fy meic",
            language="cy",
            at=local(d2, 15),
            author="w1",
            force="north-wales",
            handle="NWPolice",
        )
        self.w.do("claim", local(d2, 15, 1))
        self.w.do("reply", local(d2, 15, 10), text="Mae'n ddrwg gennym glywed hynny")
        self.config = config
        self.posts = [
            post(1, "M62 closure tonight: diversion via the A580", "post", local(d1, 9)),
            post(2, "Collision on the A5036, the road is closed", "post", local(d1, 16)),
            post(3, "Join us: become a special constable", "post", local(d2, 10)),
            post(4, "Thanks, we've passed that to the roads team", "reply", local(d2, 10, 30)),
            post(5, "Ymunwch â ni: swyddi ar gael", "post", local(d2, 11), handle="NWPolice"),
        ]

    def sla(self, life: Life) -> list[SlaEvent]:
        return sla_events(self.config, life.events, life.events[-1].at + timedelta(minutes=90))


async def test_rollups_and_report_figures_survive_redelivery_restart_and_replay(
    noida: Backend, prefix: str
) -> None:
    settings = metrics_settings(noida, prefix)
    create_topics(settings)
    config = load_config(ROOT / "config")
    s = Scenario(config)
    es = AsyncElasticsearch(settings.elasticsearch_url)
    try:
        # the item index already knows the author's earlier contact (the indexer's doc)
        await ensure_indices(es, settings)
        prior = item_document(s.prior.events[-1])
        assert prior is not None
        await es.index(index=alias(settings, "items"), id=prior["id"], document=prior)
        await es.indices.refresh(index=alias(settings, "items"))

        proc = MetricsProcessor(settings, config, es)
        async with Running(settings, proc) as running:
            # B's SLA results come first (as after a restart, or a new service reading
            # the topics from the start): they wait for the item instead of being lost
            await produce(noida.kafka, prefix + SLA_EVENTS, sla_records(s.sla(s.b)))

            async def pending() -> bool:
                return any(isinstance(f, PendingSla) for _, _, f in proc.store.items())

            await wait_until(pending, within=60)
            events = [*s.a.events, *s.b.events, *s.c.events, *s.d.events, *s.w.events]
            await produce(noida.kafka, prefix + ITEMS_EVENTS, item_records(events))
            await produce(noida.kafka, prefix + ITEMS_EVENTS, item_records(s.a.events))  # again
            sla = [*s.sla(s.a), *s.sla(s.c), *s.sla(s.w)]
            await produce(noida.kafka, prefix + SLA_EVENTS, sla_records(sla))
            await produce(noida.kafka, prefix + POSTS_OUTBOUND, post_records(s.posts))
            await produce(noida.kafka, prefix + POSTS_OUTBOUND, post_records(s.posts[:2]))
            await wait_until(lambda: committed_to_end(running), within=90)

        first = await report_from_index(es, settings, FORCE, s.d1, s.d2)
        assert first["items"] == 4
        assert [(d["day"], d["items"], d["posts"]) for d in first["volume"]["by_day"]] == [
            (s.d1.isoformat(), 2, 2),
            (s.d2.isoformat(), 2, 2),
        ]
        fr = first["first_response_all"]  # 5, 20 and 90 minutes
        assert fr["count"] == 3
        assert 900 <= fr["median_s"] <= 1800  # the 20 minutes, within its bucket
        comp = first["sla_compliance"]
        assert comp["P1"]["first_response"] == {"met": 1, "breached": 0, "compliance_pct": 100.0}
        assert comp["P2"]["first_response"] == {"met": 0, "breached": 1, "compliance_pct": 0.0}
        assert comp["P3"]["first_response"]["met"] == 1
        assert comp["P1"]["resolution"]["met"] == 1 and comp["P2"]["resolution"]["met"] == 1
        assert first["response_times"]["P1"]["first_response"]["within_target"] == 1
        assert first["response_times"]["P2"]["first_response"]["within_target"] == 0
        assert first["outcomes"]["advised_999"] == 1 and first["outcomes"]["signposted"] == 1
        assert first["repeat_contacts"] == {"items": 1, "pct": 25.0}
        lis = first["listening"]
        assert {k: v for k, v in lis["public"].items() if v} == {
            "violence_weapons": 1,
            "asb": 1,
            "roads": 1,
            "burglary_theft": 1,
        }
        assert {k: v for k, v in lis["force_posts"].items() if v} == {"roads": 2, "recruitment": 1}
        assert (lis["posts"], lis["outbound"], lis["gap_score"]) == (3, 4, 75.0)

        welsh = await report_from_index(es, settings, "north-wales", s.d1, s.d2)
        assert welsh["items"] == 1 and welsh["languages"]["cy"]["items"] == 1
        assert 300 <= welsh["languages"]["cy"]["first_response"]["median_s"] <= 600
        assert welsh["listening"]["force_posts"]["recruitment"] == 1

        # restart: facts come back from the changelog; redeliveries still count once,
        # and a new event for an old item replaces its contribution
        c_resolved = s.c.do("resolve", local(s.d2, 10, 20), outcome="information_passed")
        proc = MetricsProcessor(settings, config, es)
        async with Running(settings, proc) as running:
            await produce(
                noida.kafka, prefix + ITEMS_EVENTS, item_records([*s.a.events[-2:], c_resolved])
            )
            await produce(noida.kafka, prefix + SLA_EVENTS, sla_records(s.sla(s.c)))
            await produce(noida.kafka, prefix + POSTS_OUTBOUND, post_records(s.posts))
            await wait_until(lambda: committed_to_end(running), within=90)
        assert len(proc.store) == 10  # five items, five posts; no outcome left waiting

        second = await report_from_index(es, settings, FORCE, s.d1, s.d2)
        assert second["outcomes"]["information_passed"] == 1
        assert second["sla_compliance"]["P3"]["resolution"]["met"] == 1
        assert second["response_times"]["P3"]["resolution"]["count"] == 1
        unchanged = ("items", "volume", "first_response_all", "repeat_contacts", "listening")
        assert {k: second[k] for k in unchanged} == {k: first[k] for k in unchanged}
        assert second["sla_compliance"]["P2"] == first["sla_compliance"]["P2"]

        # every input again from the beginning (a new consumer group; the changelog
        # still has the facts): the cells do not move
        proc = MetricsProcessor(settings, config, es)
        proc.group_id = "socialdesk-metrics-replay"
        async with Running(settings, proc) as running:
            await wait_until(lambda: committed_to_end(running), within=90)
        assert await report_from_index(es, settings, FORCE, s.d1, s.d2) == second
        assert await report_from_index(es, settings, "north-wales", s.d1, s.d2) == welsh
    finally:
        await es.close()
