"""Images on X from the publishing desk, without the stack: the requests XPublisher makes
(fetch every image, then upload and alt text for each, then the post naming the media
ids), and the images it refuses before anything reaches X."""

from __future__ import annotations

import json

import httpx
import pytest

from socialdesk.config import PlatformConfig
from socialdesk.settings import OutboundSettings
from socialdesk_outbound.credentials import Credentials
from socialdesk_outbound.posting import PostDelivery
from socialdesk_outbound.publishers import XPublisher
from socialdesk_outbound.reply import CredentialsError, PermanentSendError, TemporarySendError

JPEG = b"\xff\xd8\xff\xe0" + bytes(600)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(600)
GIF = b"GIF89a" + bytes(600)
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>'
ALT = "CCTV still: a man in a grey hooded top at the door of the shop"


def delivery(*media: tuple[str, str]) -> PostDelivery:
    return PostDelivery(
        "p|x:MerseyPolice",
        "p",
        "merseyside",
        "x",
        "MerseyPolice",
        "Do you recognise this man?",
        (),
        tuple(media),
    )


class FakeX:
    """The image host and X in one MockTransport: each request kept in order."""

    def __init__(self, files: dict[str, bytes], fail: dict[str, int] | None = None) -> None:
        self.files = files
        self.fail = dict(fail or {})
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        if path in self.fail:
            return httpx.Response(self.fail.pop(path))
        if request.url.host == "img.test":
            body = self.files.get(path)
            return httpx.Response(200, content=body) if body else httpx.Response(404)
        if path == "/2/media/upload":
            n = sum(r.url.path == path for r in self.seen)
            return httpx.Response(200, json={"data": {"id": f"m{n}"}})
        if path == "/2/media/metadata":
            return httpx.Response(200, json={"data": {"id": json.loads(request.content)["id"]}})
        return httpx.Response(201, json={"data": {"id": "t1"}})

    def steps(self) -> list[str]:
        return [f"{r.method} {r.url.host}{r.url.path}" for r in self.seen]


async def publish(fake: FakeX, post: PostDelivery, platform_config: PlatformConfig) -> str:
    creds = Credentials(platform_config, OutboundSettings(x_bearer_token="tx"), {})
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        x = XPublisher("https://x.test", creds, http)
        x.internal_ok = frozenset({"img.test"})  # the mock host resolves nowhere
        return await x.publish(post)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9200/_cat/indices", "http://10.0.0.5/a.jpg", "http://[::1]/a.png"]
)
async def test_a_link_inside_the_network_is_refused_before_anything_is_fetched(
    platform_config: PlatformConfig, url: str
) -> None:
    fake = FakeX({"/_cat/indices": JPEG, "/a.jpg": JPEG, "/a.png": JPEG})
    creds = Credentials(platform_config, OutboundSettings(x_bearer_token="tx"), {})
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        with pytest.raises(PermanentSendError, match="points inside the network"):
            await XPublisher("https://x.test", creds, http).publish(delivery((url, ALT)))
    assert fake.seen == []


async def test_each_image_is_uploaded_with_its_alt_text_before_the_post_names_them(
    platform_config: PlatformConfig,
) -> None:
    fake = FakeX({"/a.jpg": JPEG, "/b.png": PNG})
    post = delivery(("https://img.test/a.jpg", ALT), ("http://img.test/b.png", "The car"))
    assert await publish(fake, post, platform_config) == "t1"
    assert fake.steps() == [
        "GET img.test/a.jpg",
        "GET img.test/b.png",
        "POST x.test/2/media/upload",
        "POST x.test/2/media/metadata",
        "POST x.test/2/media/upload",
        "POST x.test/2/media/metadata",
        "POST x.test/2/tweets",
    ]
    get_a, _, up_a, meta_a, _, meta_b, tweet = fake.seen
    assert "authorization" not in get_a.headers  # the account's token goes to X only
    assert all(r.headers["authorization"] == "Bearer tx" for r in fake.seen[2:])
    assert b'name="media_category"\r\n\r\ntweet_image' in up_a.content
    assert b"Content-Type: image/jpeg" in up_a.content and JPEG in up_a.content
    assert json.loads(meta_a.content) == {"id": "m1", "metadata": {"alt_text": {"text": ALT}}}
    assert json.loads(meta_b.content)["metadata"]["alt_text"]["text"] == "The car"
    assert json.loads(tweet.content) == {
        "text": "Do you recognise this man?",
        "media": {"media_ids": ["m1", "m2"]},
    }


@pytest.mark.parametrize(
    ("files", "media", "reason"),
    [
        ({"/x.svg": SVG}, [("https://img.test/x.svg", ALT)], "not a JPEG, PNG, GIF or WebP"),
        ({}, [("file:///etc/passwd", ALT)], "only an http(s) link"),
        ({}, [("https://img.test/gone.jpg", ALT)], "its link answered 404"),
        ({"/a.jpg": JPEG}, [("https://img.test/a.jpg", ALT)] * 5, "at most 4 images"),
        ({"/a.jpg": JPEG}, [("https://img.test/a.jpg", "x" * 1001)], "alt text over"),
        (
            {"/a.jpg": JPEG, "/g.gif": GIF},
            [("https://img.test/a.jpg", ALT), ("https://img.test/g.gif", ALT)],
            "GIF only as the one image",
        ),
        (
            {"/big.jpg": JPEG + bytes(5 * 1024 * 1024)},
            [("https://img.test/big.jpg", ALT)],
            "X takes up to 5242880",
        ),
    ],
)
async def test_an_image_x_would_refuse_fails_the_post_with_nothing_sent_to_x(
    platform_config: PlatformConfig,
    files: dict[str, bytes],
    media: list[tuple[str, str]],
    reason: str,
) -> None:
    fake = FakeX({"/ok.jpg": JPEG, **files})
    post = delivery(("https://img.test/ok.jpg", ALT), *media)
    with pytest.raises(PermanentSendError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        await publish(fake, post, platform_config)
    assert not [r for r in fake.seen if r.url.host == "x.test"]


async def test_a_failed_upload_is_temporary_or_permanent_and_the_post_is_not_made(
    platform_config: PlatformConfig,
) -> None:
    post = delivery(("https://img.test/a.jpg", ALT))
    down = FakeX({"/a.jpg": JPEG}, fail={"/2/media/upload": 503})
    with pytest.raises(TemporarySendError):
        await publish(down, post, platform_config)
    expired = FakeX({"/a.jpg": JPEG}, fail={"/2/media/upload": 401})
    with pytest.raises(CredentialsError, match="renew it"):
        await publish(expired, post, platform_config)
    host_down = FakeX({"/a.jpg": JPEG}, fail={"/a.jpg": 502})
    with pytest.raises(TemporarySendError, match="image 1: its host answered 502"):
        await publish(host_down, post, platform_config)
    for fake in (down, expired, host_down):
        assert "POST x.test/2/tweets" not in fake.steps()
