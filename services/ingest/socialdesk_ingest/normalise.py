"""Platform payloads -> core Mention / OutboundPost. Plain functions, no I/O.

Each platform delivers in its own shape (Meta Graph webhooks, X Account Activity API
v1.1 objects, X API v2 filtered-stream lines). Everything past ingest sees only the core
models, so a platform's quirks stay here. A payload whose envelope we do not recognise
raises UnknownPayload (HTTP 400 + dead letter); inside a recognised envelope, events we
deliberately ignore (receipts, likes, edits) are `skipped`, and events we cannot read
are `unknown` (dead letters), so one odd event never holds up the rest of a delivery."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from socialdesk.config import PlatformConfig
from socialdesk.events import Author, ForceAccount, MediaRef, Mention, OutboundPost
from socialdesk.jsonl import describe_error
from socialdesk.taxonomy import Channel, Platform

JSON = dict[str, Any]
_URL = re.compile(r"https?://[^\s<>\"')\]]+")


class UnknownPayload(ValueError):
    """The body is not JSON, or not an envelope this endpoint knows."""


@dataclass(frozen=True)
class Accounts:
    """The forces' receiving accounts: handles from config/forces, and the platform ids
    that webhooks use instead of handles (a Page id, an IG account id, an X user id)."""

    ids: dict[tuple[str, str], str] = field(default_factory=dict)
    handles: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, config: PlatformConfig | None, ids_spec: str = "", ids_file: Path | None = None
    ) -> Accounts:
        """The ids in config/forces (`account_ids`), then ids_file ({platform: {id:
        handle}}), then ids_spec ('facebook:<page id>=<handle>,...'): a later one wins."""
        ids: dict[tuple[str, str], str] = dict(config.account_id_index) if config else {}
        if ids_file is not None:
            data = yaml.safe_load(ids_file.read_text(encoding="utf-8")) or {}
            for platform, mapping in data.items():
                for account_id, handle in (mapping or {}).items():
                    ids[(str(platform), str(account_id))] = str(handle)
        for part in filter(None, (p.strip() for p in ids_spec.split(","))):
            left, _, handle = part.partition("=")
            platform, _, account_id = left.partition(":")
            if not (platform and account_id and handle):
                raise ValueError(f"account id {part!r}: expected platform:id=handle")
            ids[(platform.strip(), account_id.strip())] = handle.strip()
        handles: dict[str, set[str]] = {}
        for platform, handle in config.account_index if config else {}:
            handles.setdefault(platform, set()).add(handle)
        for (platform, _), handle in ids.items():
            handles.setdefault(platform, set()).add(handle.lower().lstrip("@"))
        return cls(ids, {p: frozenset(h) for p, h in handles.items()})

    def handle_for(self, platform: str, account_id: str | None) -> str | None:
        return self.ids.get((platform, str(account_id))) if account_id else None

    def is_force(self, platform: str, handle: str | None) -> bool:
        return bool(handle) and handle.lower().lstrip("@") in self.handles.get(platform, ())  # type: ignore[union-attr]


@dataclass
class Normalised:
    mentions: list[Mention] = field(default_factory=list)
    outbound: list[OutboundPost] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # (reason, raw event, where it was in the delivery, e.g. "entry[1].messaging[0]")
    unknown: list[tuple[str, JSON, str]] = field(default_factory=list)

    def extend(self, other: Normalised) -> None:
        self.mentions += other.mentions
        self.outbound += other.outbound
        self.skipped += other.skipped
        self.unknown += other.unknown


def parse_json(body: bytes) -> JSON:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnknownPayload(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UnknownPayload("expected a JSON object")
    return data


# ---- shared helpers ---------------------------------------------------------------------
def _ts(value: Any) -> datetime:
    """Unix seconds or milliseconds (Meta uses both), or an ISO 8601 string."""
    if isinstance(value, str) and not value.isdigit():
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
    n = float(value)
    return datetime.fromtimestamp(n / 1000 if n > 1e11 else n, UTC)


def _links(text: str) -> list[str]:
    return list(dict.fromkeys(_URL.findall(text or "")))


def _mention(
    platform: Platform,
    native_id: str,
    channel: Channel,
    author: Author,
    text: str,
    posted_at: datetime,
    received_at: datetime,
    handle: str,
    raw: JSON,
    *,
    conversation_id: str | None = None,
    in_reply_to_id: str | None = None,
    media: Iterable[MediaRef] = (),
    links: Iterable[str] = (),
) -> Mention:
    return Mention(
        id=f"{platform.value}:{native_id}",
        platform=platform,
        native_id=native_id,
        channel=channel,
        author=author,
        text=text,
        posted_at=posted_at,
        received_at=received_at,
        force_account=ForceAccount(platform=platform, handle=handle),
        conversation_id=conversation_id,
        in_reply_to_id=in_reply_to_id,
        media=list(media),
        links=list(dict.fromkeys(links)),
        raw=raw,
    )


_KIND = {
    Channel.public_mention: "post",
    Channel.reply: "reply",
    Channel.comment: "comment",
    Channel.direct_message: "direct_message",
}


def as_outbound(m: Mention, recipient: Author | None = None) -> OutboundPost:
    """The same fields, but written by the force: it goes to posts.outbound instead."""
    return OutboundPost(
        id=m.id,
        platform=m.platform,
        native_id=m.native_id,
        kind=_KIND[m.channel],
        force_account=m.force_account,
        recipient=recipient,
        text=m.text,
        posted_at=m.posted_at,
        received_at=m.received_at,
        conversation_id=m.conversation_id,
        in_reply_to_id=m.in_reply_to_id,
        media=m.media,
        links=m.links,
        raw=m.raw,
    )


def _each(
    out: Normalised,
    events: Any,
    what: str,
    fn: Callable[[JSON], Normalised | None],
    at: str = "",
) -> None:
    """Apply fn to each event; an event fn cannot read becomes an `unknown` entry that
    names where it was (`at` + what[index]), so the sender can find it."""
    if not isinstance(events, list):
        out.unknown.append((f"{what}: expected a list", {"value": events}, f"{at}{what}"))
        return
    for j, ev in enumerate(events):
        where = f"{at}{what}[{j}]"
        if not isinstance(ev, dict):
            out.unknown.append((f"{what}: expected an object", {"value": ev}, where))
            continue
        try:
            got = fn(ev)
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            detail = describe_error(exc) if isinstance(exc, ValidationError) else repr(exc)
            out.unknown.append((f"{what}: {detail}", ev, where))
            continue
        if got is not None:
            out.extend(got)


# ---- Meta: Facebook Pages and Instagram ---------------------------------------------------
_META_PLATFORM = {"page": Platform.facebook, "instagram": Platform.instagram}
_META_IGNORED_MESSAGING = ("delivery", "read", "reaction", "postback", "optin", "referral")
_META_IGNORED_FIELDS = ("story_insights", "message_reactions", "messaging_seen")


def normalise_meta(payload: JSON, accounts: Accounts, received_at: datetime) -> Normalised:
    """Messenger / Instagram messaging events and Page feed / Instagram comment changes."""
    obj = payload.get("object")
    entries = payload.get("entry")
    if obj not in _META_PLATFORM or not isinstance(entries, list):
        raise UnknownPayload("expected {'object': 'page'|'instagram', 'entry': [...]}")
    platform = _META_PLATFORM[str(obj)]
    out = Normalised()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry:
            out.unknown.append(("entry without an id", {"entry": entry}, f"entry[{i}]"))
            continue
        account_id = str(entry["id"])
        handle = accounts.handle_for(platform.value, account_id) or account_id
        envelope = {"object": obj, "entry_id": account_id, "entry_time": entry.get("time")}

        def messaging(ev: JSON, handle: str = handle, env: JSON = envelope) -> Normalised | None:
            return _meta_message(platform, ev, handle, env, received_at, out)

        def change(ev: JSON, handle: str = handle, env: JSON = envelope, e: JSON = entry) -> Any:
            return _meta_change(
                platform, ev, handle, str(e["id"]), e.get("time"), env, received_at, out
            )

        if "messaging" in entry:
            _each(out, entry["messaging"], "messaging", messaging, f"entry[{i}].")
        if "changes" in entry:
            _each(out, entry["changes"], "changes", change, f"entry[{i}].")
        if "messaging" not in entry and "changes" not in entry:
            out.unknown.append(("entry has neither messaging nor changes", entry, f"entry[{i}]"))
    return out


def _meta_message(
    platform: Platform, ev: JSON, handle: str, env: JSON, received_at: datetime, out: Normalised
) -> Normalised | None:
    msg = ev.get("message")
    if msg is None:
        kind = next((k for k in _META_IGNORED_MESSAGING if k in ev), None) or (
            "message_edit" if "message_edit" in ev else None
        )
        if kind is None:
            raise ValueError("messaging event with no message")
        out.skipped.append(f"{platform.value}:{kind}")
        return None
    if msg.get("is_deleted") or msg.get("is_unsupported"):
        out.skipped.append(f"{platform.value}:message_deleted_or_unsupported")
        return None
    text = str(msg.get("text") or "")
    media, links = [], _links(text)
    for att in msg.get("attachments") or []:
        url = (att.get("payload") or {}).get("url")
        if not url:
            continue
        if att.get("type") == "fallback":
            links.append(url)  # a shared link
        else:
            media.append(MediaRef(type=str(att.get("type") or "file"), url=url))
    reply_to = msg.get("reply_to") or {}
    echo = bool(msg.get("is_echo"))
    sender, recipient = str(ev["sender"]["id"]), str(ev["recipient"]["id"])
    public_id = recipient if echo else sender
    m = _mention(
        platform,
        str(msg["mid"]),
        Channel.direct_message,
        Author(id=public_id),
        text,
        _ts(ev["timestamp"]),
        received_at,
        handle,
        {**env, "messaging": ev},
        in_reply_to_id=reply_to.get("mid") or (reply_to.get("story") or {}).get("id"),
        media=media,
        links=links,
    )
    if echo:
        return Normalised(outbound=[as_outbound(m, recipient=m.author)])
    return Normalised(mentions=[m])


def _meta_change(
    platform: Platform,
    ev: JSON,
    handle: str,
    account_id: str,
    entry_time: Any,
    env: JSON,
    received_at: datetime,
    out: Normalised,
) -> Normalised | None:
    fld, value = ev.get("field"), ev.get("value")
    if not isinstance(value, dict):
        raise ValueError("change without a value object")
    raw = {**env, "change": ev}
    if platform == Platform.facebook and fld == "feed":
        return _facebook_feed(value, handle, account_id, raw, received_at, out)
    if platform == Platform.instagram and fld in ("comments", "live_comments"):
        return _instagram_comment(value, handle, account_id, entry_time, raw, received_at)
    if fld in _META_IGNORED_FIELDS:
        out.skipped.append(f"{platform.value}:{fld}")
        return None
    raise ValueError(f"unsupported change field {fld!r}")


def _facebook_feed(
    v: JSON, handle: str, page_id: str, raw: JSON, received_at: datetime, out: Normalised
) -> Normalised | None:
    item, verb = v.get("item"), v.get("verb")
    if item in ("reaction", "like") or verb != "add":
        out.skipped.append(f"facebook:feed:{item}:{verb}")
        return None
    if item not in ("comment", "post", "status", "photo", "video", "share"):
        raise ValueError(f"unsupported feed item {item!r}")
    author = Author(id=str(v["from"]["id"]), display_name=v["from"].get("name"))
    text = str(v.get("message") or "")
    media = [MediaRef(type="photo", url=u) for u in ([v["photo"]] if v.get("photo") else [])]
    media += [MediaRef(type="photo", url=u) for u in v.get("photos") or []]
    if v.get("video"):
        media.append(MediaRef(type="video", url=v["video"]))
    links = _links(text) + ([v["link"]] if v.get("link") and item == "share" else [])
    post_id = str(v.get("post_id") or "")
    if item == "comment":
        parent = str(v.get("parent_id") or post_id)
        native, conversation, channel = str(v["comment_id"]), post_id, Channel.comment
        if parent != post_id:
            channel = Channel.reply
    else:
        native, conversation, parent, channel = post_id, post_id, "", Channel.public_mention
    if not native:
        raise ValueError("feed change without post_id/comment_id")
    m = _mention(
        Platform.facebook,
        native,
        channel,
        author,
        text,
        _ts(v["created_time"]),
        received_at,
        handle,
        raw,
        conversation_id=conversation or None,
        in_reply_to_id=parent or None,
        media=media,
        links=links,
    )
    if author.id == page_id:
        return Normalised(outbound=[as_outbound(m)])
    return Normalised(mentions=[m])


def _instagram_comment(
    v: JSON, handle: str, ig_id: str, entry_time: Any, raw: JSON, received_at: datetime
) -> Normalised:
    media_id = str((v.get("media") or {}).get("id") or "") or None
    parent = v.get("parent_id")
    author = Author(id=str(v["from"]["id"]), handle=v["from"].get("username"))
    text = str(v.get("text") or "")
    m = _mention(
        Platform.instagram,
        str(v["id"]),
        Channel.reply if parent else Channel.comment,
        author,
        text,
        _ts(v.get("timestamp") or entry_time),
        received_at,
        handle,
        raw,
        conversation_id=media_id,
        in_reply_to_id=str(parent) if parent else media_id,
        links=_links(text),
    )
    if author.id == ig_id:
        return Normalised(outbound=[as_outbound(m)])
    return Normalised(mentions=[m])


# ---- X: Account Activity API (v1.1 objects) -------------------------------------------------
_X_IGNORED = (
    "favorite_events",
    "follow_events",
    "unfollow_events",
    "block_events",
    "unblock_events",
    "mute_events",
    "unmute_events",
    "tweet_delete_events",
    "user_event",
    "direct_message_indicate_typing_events",
    "direct_message_mark_read_events",
)


def normalise_x_activity(payload: JSON, accounts: Accounts, received_at: datetime) -> Normalised:
    """tweet_create_events (mentions, replies, the force's own tweets) and
    direct_message_events (both directions) for the subscribed user for_user_id."""
    for_user = payload.get("for_user_id")
    known = [k for k in ("tweet_create_events", "direct_message_events") if k in payload]
    ignored = [k for k in _X_IGNORED if k in payload]
    if not for_user or not (known or ignored):
        raise UnknownPayload("expected an X Account Activity event with for_user_id")
    for_user = str(for_user)
    out = Normalised(skipped=[f"x:{k}" for k in ignored])
    users: JSON = payload.get("users") or {}

    def tweet(t: JSON) -> Normalised | None:
        return _x_tweet(t, for_user, accounts, received_at, out)

    def dm(ev: JSON) -> Normalised | None:
        return _x_dm(ev, for_user, users, accounts, received_at, out)

    if "tweet_create_events" in payload:
        _each(out, payload["tweet_create_events"], "tweet_create_events", tweet)
    if "direct_message_events" in payload:
        _each(out, payload["direct_message_events"], "direct_message_events", dm)
    return out


def _x_media(entities: JSON) -> list[MediaRef]:
    refs = []
    for med in entities.get("media") or []:
        url = med.get("media_url_https") or med.get("media_url")
        variants = [
            v for v in (med.get("video_info") or {}).get("variants") or [] if "bitrate" in v
        ]
        if variants:
            url = max(variants, key=lambda v: v["bitrate"])["url"]
        if url:
            refs.append(MediaRef(type=str(med.get("type") or "photo"), url=url))
    return refs


def _x_force_handle(t: JSON, for_user: str, accounts: Accounts) -> str:
    """Config first; else the subscribed user's screen name as the tweet itself shows it."""
    known = accounts.handle_for("x", for_user)
    if known:
        return known
    for um in (t.get("entities") or {}).get("user_mentions") or []:
        if str(um.get("id_str")) == for_user:
            return str(um["screen_name"])
    if str(t.get("in_reply_to_user_id_str")) == for_user and t.get("in_reply_to_screen_name"):
        return str(t["in_reply_to_screen_name"])
    if str(t["user"]["id_str"]) == for_user:
        return str(t["user"]["screen_name"])
    return for_user


def _x_tweet(
    t: JSON, for_user: str, accounts: Accounts, received_at: datetime, out: Normalised
) -> Normalised | None:
    if "retweeted_status" in t:
        out.skipped.append("x:retweet")
        return None
    ext = t.get("extended_tweet") or {}
    text = html.unescape(str(ext.get("full_text") or t.get("full_text") or t.get("text") or ""))
    entities = ext.get("entities") or t.get("entities") or {}
    media_entities = ext.get("extended_entities") or t.get("extended_entities") or entities
    user = t["user"]
    reply_to = t.get("in_reply_to_status_id_str")
    posted = _ts(t["timestamp_ms"]) if t.get("timestamp_ms") else _x_time(t["created_at"])
    m = _mention(
        Platform.x,
        str(t["id_str"]),
        Channel.reply if reply_to else Channel.public_mention,
        Author(
            id=str(user["id_str"]), handle=user.get("screen_name"), display_name=user.get("name")
        ),
        text,
        posted,
        received_at,
        _x_force_handle(t, for_user, accounts),
        {"for_user_id": for_user, "tweet_create_events": [t]},
        conversation_id=reply_to or str(t["id_str"]),
        in_reply_to_id=reply_to,
        media=_x_media(media_entities),
        links=[u["expanded_url"] for u in entities.get("urls") or [] if u.get("expanded_url")],
    )
    if str(user["id_str"]) == for_user:
        return Normalised(outbound=[as_outbound(m)])
    return Normalised(mentions=[m])


def _x_time(value: str) -> datetime:
    return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")


def _x_dm(
    ev: JSON,
    for_user: str,
    users: JSON,
    accounts: Accounts,
    received_at: datetime,
    out: Normalised,
) -> Normalised | None:
    if ev.get("type") != "message_create":
        out.skipped.append(f"x:dm:{ev.get('type')}")
        return None
    mc = ev["message_create"]
    sender, recipient = str(mc["sender_id"]), str(mc["target"]["recipient_id"])
    data = mc.get("message_data") or {}
    public_id = recipient if sender == for_user else sender
    public = users.get(public_id) or {}
    force_user = users.get(for_user) or {}
    handle = accounts.handle_for("x", for_user) or force_user.get("screen_name") or for_user
    attachment = data.get("attachment") or {}
    media = _x_media({"media": [attachment["media"]]}) if attachment.get("media") else []
    entities = data.get("entities") or {}
    raw_users = {k: users[k] for k in (sender, recipient) if k in users}
    m = _mention(
        Platform.x,
        str(ev["id"]),
        Channel.direct_message,
        Author(id=public_id, handle=public.get("screen_name"), display_name=public.get("name")),
        html.unescape(str(data.get("text") or "")),
        _ts(ev["created_timestamp"]),
        received_at,
        str(handle),
        {"for_user_id": for_user, "direct_message_events": [ev], "users": raw_users},
        media=media,
        links=[u["expanded_url"] for u in entities.get("urls") or [] if u.get("expanded_url")],
    )
    if sender == for_user:
        return Normalised(outbound=[as_outbound(m, recipient=m.author)])
    return Normalised(mentions=[m])


# ---- X: API v2 filtered stream ---------------------------------------------------------------
_HANDLE = re.compile(r"(?<![\w@])@(\w{1,15})\b")


def normalise_x_stream(payload: JSON, accounts: Accounts, received_at: datetime) -> Normalised:
    """One filtered-stream line: {data, includes, matching_rules}. The force account is
    the first force handle the tweet mentions, else the matching rule's tag."""
    t = payload.get("data")
    if not isinstance(t, dict) or "id" not in t:
        raise UnknownPayload("expected a filtered-stream line with data.id")
    out = Normalised()
    refs = {r.get("type"): str(r.get("id")) for r in t.get("referenced_tweets") or []}
    if "retweeted" in refs:
        out.skipped.append("x:retweet")
        return out
    includes = payload.get("includes") or {}
    users = {str(u.get("id")): u for u in includes.get("users") or []}
    author_id = str(t.get("author_id") or "")
    user = users.get(author_id, {})
    entities = t.get("entities") or {}
    by_force = accounts.is_force("x", user.get("username"))
    handle = (
        str(user["username"])
        if by_force
        else next(
            (
                str(um["username"])
                for um in entities.get("mentions") or []
                if accounts.is_force("x", um.get("username"))
            ),
            None,
        )
    )
    if handle is None:
        # A line without entities (X leaves them out for some tweets) still names the
        # force in its text: "@MerseyPolice ...".
        handle = next(
            (h for h in _HANDLE.findall(str(t.get("text") or "")) if accounts.is_force("x", h)),
            None,
        )
    if handle is None:
        tags = [str(r.get("tag")) for r in payload.get("matching_rules") or []]
        handle = next((tag for tag in tags if accounts.is_force("x", tag)), None)
    if handle is None or not author_id:
        out.unknown.append(("no force account or author in the tweet", payload, "data"))
        return out
    media_by_key = {m.get("media_key"): m for m in includes.get("media") or []}
    media = []
    for key in (t.get("attachments") or {}).get("media_keys") or []:
        med = media_by_key.get(key) or {}
        url = med.get("url") or med.get("preview_image_url")
        if url:
            media.append(MediaRef(type=str(med.get("type") or "photo"), url=url))
    reply_to = refs.get("replied_to")
    try:
        m = _mention(
            Platform.x,
            str(t["id"]),
            Channel.reply if reply_to else Channel.public_mention,
            Author(id=author_id, handle=user.get("username"), display_name=user.get("name")),
            str(t.get("text") or ""),
            _ts(t["created_at"]) if t.get("created_at") else received_at,
            received_at,
            handle,
            payload,
            conversation_id=str(t.get("conversation_id") or t["id"]),
            in_reply_to_id=reply_to,
            media=media,
            links=[
                str(u.get("unwound_url") or u["expanded_url"])
                for u in entities.get("urls") or []
                if u.get("expanded_url")
            ],
        )
    except (KeyError, ValueError, ValidationError) as exc:
        out.unknown.append((f"unreadable tweet: {exc!r}"[:500], payload, "data"))
        return out
    if by_force:
        out.outbound.append(as_outbound(m))
    else:
        out.mentions.append(m)
    return out
