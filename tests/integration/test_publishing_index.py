"""The posts index on a real Elasticsearch protocol: the indexer keeps one document per
post, the newest version whatever order the events arrive in, and the console's list
(a force's posts by status) finds it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from elasticsearch import AsyncElasticsearch

from socialdesk import indices
from socialdesk.es import alias, ensure_indices
from socialdesk.publishing import PostEvent, PostStatus
from socialdesk.topics import POSTS_EVENTS, schemas_dir
from socialdesk_indexer.flows import IndexerProcessor

from .conftest import Backend
from .helpers import Running, create_topics, produce, settings_for, wait_until

EXAMPLES = schemas_dir() / "examples" / POSTS_EVENTS / "1"


def example(name: str) -> PostEvent:
    return PostEvent.model_validate_json((EXAMPLES / f"{name}.json").read_bytes())


async def test_the_posts_index_keeps_the_newest_version_of_each_post(
    noida: Backend, prefix: str
) -> None:
    settings = settings_for(noida.kafka, prefix, noida.es_url)
    create_topics(settings)
    published, scheduled = example("published"), example("scheduled")
    assert published.post is not None and scheduled.post is not None
    # Another force's draft, to show the console's force filter holds.
    other = scheduled.model_copy(
        update={
            "post_id": "pst_kent_1",
            "force": "kent",
            "post": scheduled.post.model_copy(update={"id": "pst_kent_1", "force": "kent"}),
        }
    )
    # Newest first, then older versions (a replay): the index keeps the newest.
    events = [published, example("saved"), scheduled, example("approved"), other]
    index = alias(settings, indices.POSTS)
    es = AsyncElasticsearch(settings.elasticsearch_url)
    try:
        await ensure_indices(es, settings)
        await produce(
            noida.kafka,
            prefix + POSTS_EVENTS,
            [(e.post_id, e.model_dump_json().encode()) for e in events],
        )

        async def listed() -> list[dict[str, Any]]:
            await es.indices.refresh(index=index)
            res = await es.search(
                index=index,
                query={"bool": {"filter": [{"term": {"force": "north-wales"}}]}},
            )
            return [h["_source"] for h in res["hits"]["hits"]]

        async with Running(settings, IndexerProcessor(settings, es)):

            async def both() -> bool:
                await es.indices.refresh(index=index)
                return (await es.count(index=index))["count"] == 2

            await wait_until(both, within=60)
        (doc,) = await listed()
        assert doc["version"] == published.post.version
        assert doc["status"] == PostStatus.published.value
        assert [d["status"] for d in doc["deliveries"]] == ["delivered", "delivered"]
        assert doc["draft"]["text_cy"]["x"].startswith("Welsoch")
        res = await es.search(
            index=index,
            query={
                "bool": {"filter": [{"term": {"force": "kent"}}, {"term": {"status": "scheduled"}}]}
            },
        )
        (kent,) = [h["_source"] for h in res["hits"]["hits"]]
        assert kent["id"] == "pst_kent_1" and kent["force"] == "kent"
    finally:
        await es.close()


async def test_a_post_scheduled_long_ago_stays_on_the_desk_behind_many_newer_posts(
    noida: Backend, prefix: str
) -> None:
    """A campaign scheduled weeks ahead, then 600 posts published since: the desk still
    shows it (to change or cancel) beside the most recent finished posts, and never
    another force's post."""
    import httpx
    from elasticsearch.helpers import async_bulk

    from socialdesk.config import load_config
    from socialdesk.settings import ConsoleSettings
    from socialdesk_console.context import build_context
    from socialdesk_console.posts import DESK_SIZE, list_posts
    from socialdesk_indexer.posts import post_document
    from tests.unit.conftest import CONFIG_DIR

    base = settings_for(noida.kafka, prefix, noida.es_url)
    settings = ConsoleSettings(**base.model_dump())
    published, scheduled = example("published"), example("scheduled")
    assert published.post is not None and scheduled.post is not None
    early = scheduled.post.model_copy(update={"id": "pst_christmas"})
    docs = [("pst_christmas", post_document(scheduled.model_copy(update={"post": early})))]
    for i in range(600):  # each changed after the scheduled one
        later = published.post.updated_at + timedelta(minutes=i)
        post = published.post.model_copy(update={"id": f"pst_{i:03d}", "updated_at": later})
        docs.append((post.id, post_document(published.model_copy(update={"post": post}))))
    other = early.model_copy(update={"id": "pst_kent", "force": "kent"})
    docs.append(("pst_kent", post_document(scheduled.model_copy(update={"post": other}))))
    index = alias(base, indices.POSTS)
    es = AsyncElasticsearch(base.elasticsearch_url)
    http = httpx.AsyncClient()
    try:
        await ensure_indices(es, base)
        await async_bulk(es, ({"_index": index, "_id": i, "_source": d} for i, d in docs))
        await es.indices.refresh(index=index)
        ctx = build_context(settings, load_config(CONFIG_DIR), {}, es, http)
        posts = await list_posts(ctx, "north-wales")
        ids = [p.id for p in posts]
        assert "pst_christmas" in ids and "pst_kent" not in ids
        assert len(ids) == 1 + DESK_SIZE  # the open one, and the most recent finished
        assert "pst_599" in ids and "pst_000" not in ids
    finally:
        await http.aclose()
        await es.close()
