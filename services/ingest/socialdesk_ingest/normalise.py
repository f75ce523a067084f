"""Platform payloads -> core Mention / OutboundPost: the shared steps and Meta (X is in
normalise_x). Plain functions, no I/O.

Each platform delivers in its own shape (Meta Graph webhooks, X Account Activity API
v1.1 objects, X API v2 filtered-stream lines). Everything past ingest sees only the core
models, so a platform's quirks stay here. A payload whose envelope we do not recognise
raises UnknownPayload (HTTP 400 + dead letter); inside a recognised envelope, events we
deliberately ignore (receipts, likes, edits) are `skipped`, and events we cannot read
are `unknown` (dead letters), so one odd event never holds up the rest of a delivery."""

from __future__ import annotations

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
def parse_time(value: Any) -> datetime:
    """Unix seconds or milliseconds (Meta uses both), or an ISO 8601 string."""
    if isinstance(value, str) and not value.isdigit():
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
    n = float(value)
    return datetime.fromtimestamp(n / 1000 if n > 1e11 else n, UTC)


def _links(text: str) -> list[str]:
    return list(dict.fromkeys(_URL.findall(text or "")))


def build_mention(
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


def each_event(
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
            each_event(out, entry["messaging"], "messaging", messaging, f"entry[{i}].")
        if "changes" in entry:
            each_event(out, entry["changes"], "changes", change, f"entry[{i}].")
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
    m = build_mention(
        platform,
        str(msg["mid"]),
        Channel.direct_message,
        Author(id=public_id),
        text,
        parse_time(ev["timestamp"]),
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
    m = build_mention(
        Platform.facebook,
        native,
        channel,
        author,
        text,
        parse_time(v["created_time"]),
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
    m = build_mention(
        Platform.instagram,
        str(v["id"]),
        Channel.reply if parent else Channel.comment,
        author,
        text,
        parse_time(v.get("timestamp") or entry_time),
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
