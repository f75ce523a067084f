"""X payloads (Account Activity API v1.1 objects and API v2 filtered-stream lines) ->
core Mention / OutboundPost, on the shared steps of socialdesk_ingest.normalise. Plain
functions, no I/O."""

from __future__ import annotations

import html
import re
from datetime import datetime

from pydantic import ValidationError

from socialdesk.events import Author, MediaRef
from socialdesk.taxonomy import Channel, Platform
from socialdesk_ingest.normalise import (
    JSON,
    Accounts,
    Normalised,
    UnknownPayload,
    as_outbound,
    build_mention,
    each_event,
    parse_time,
)

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
        each_event(out, payload["tweet_create_events"], "tweet_create_events", tweet)
    if "direct_message_events" in payload:
        each_event(out, payload["direct_message_events"], "direct_message_events", dm)
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
    posted = parse_time(t["timestamp_ms"]) if t.get("timestamp_ms") else _x_time(t["created_at"])
    m = build_mention(
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
    m = build_mention(
        Platform.x,
        str(ev["id"]),
        Channel.direct_message,
        Author(id=public_id, handle=public.get("screen_name"), display_name=public.get("name")),
        html.unescape(str(data.get("text") or "")),
        parse_time(ev["created_timestamp"]),
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
        m = build_mention(
            Platform.x,
            str(t["id"]),
            Channel.reply if reply_to else Channel.public_mention,
            Author(id=author_id, handle=user.get("username"), display_name=user.get("name")),
            str(t.get("text") or ""),
            parse_time(t["created_at"]) if t.get("created_at") else received_at,
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
