"""The posts index on a real Elasticsearch protocol: the indexer keeps one document per
post, the newest version whatever order the events arrive in, and the console's list
(a force's posts by status) finds it."""

from __future__ import annotations

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
