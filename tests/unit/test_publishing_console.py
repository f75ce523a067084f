"""The publishing desk's own rules (issue 22): a compose form becomes a draft, the problems
that stop anything being sent, the commands one button sends, the approver's decision,
the desk's columns, the templates and campaigns in config/, and what the impact report
counts after a post."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from socialdesk.config import ConfigError, load_config
from socialdesk.events import Actor, item_key_for_thread
from socialdesk.publishing import (
    AccountDelivery,
    AccountRef,
    ChecklistItem,
    Objective,
    Post,
    PostCommandType,
    PostDraft,
    PostKind,
    PostStatus,
)
from socialdesk.taxonomy import Platform
from socialdesk_console import desk, impact, pub_labels
from socialdesk_console.auth import User
from socialdesk_console.i18n import CURRENT
from socialdesk_console.library import Library, load_campaigns, load_templates

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "config")
MERSEYSIDE = CONFIG.forces["merseyside"]
NORTH_WALES = CONFIG.forces["north-wales"]
TICKED = {f"checklist.{c.value}": "1" for c in ChecklistItem}


def form(**extra: Any) -> dict[str, Any]:
    base = {"objective": "appeal", "kind": "general", "text.x": "Have you seen this bike?"}
    return {**base, **TICKED, **extra}


def draft_of(values: dict[str, Any], accounts: list[str] | None = None) -> PostDraft:
    draft, problems = desk.draft_from_form(values, accounts or ["x:MerseyPolice"])
    assert problems == []
    return draft


def fields(problems: list[Any]) -> list[str]:
    return [p.field for p in problems]


def test_a_complete_post_has_no_problems_and_publishing_sends_the_draft_then_the_step() -> None:
    draft = draft_of(form())
    assert desk.problems_for(desk.Action.publish, draft, MERSEYSIDE) == []
    actor = Actor(kind="operator", id="comms.merseyside", force="merseyside")
    roles = desk.roles_of("comms")
    cmds = desk.commands_for(
        desk.Action.publish, "pst_1", "merseyside", actor, draft, None, None, roles
    )
    assert [c.type for c in cmds] == [PostCommandType.save_draft, PostCommandType.publish_now]
    assert all(c.actor_roles == ["comms"] for c in cmds)
    assert {c.post_id for c in cmds} == {"pst_1"} and cmds[0].draft == draft


def test_over_the_x_limit_is_a_problem_on_that_text_naming_length_and_limit() -> None:
    draft = draft_of(form(**{"text.x": "a" * 281}))
    problems = desk.problems_for(desk.Action.publish, draft, MERSEYSIDE)
    assert fields(problems) == ["text.x"]
    token = CURRENT.set("en")
    try:
        shown = pub_labels.message(problems[0].message)
    finally:
        CURRENT.reset(token)
    assert "281" in shown and "280" in shown and "nothing was sent" in shown


def test_an_image_without_alt_text_is_a_problem_next_to_that_image() -> None:
    draft = draft_of(form(**{"media.0.url": "https://example.org/bike.jpg"}))
    assert fields(desk.problems_for(desk.Action.save, draft, MERSEYSIDE)) == ["media.0.alt_text"]


def test_an_account_of_another_force_is_refused() -> None:
    draft = draft_of(form(), ["x:NWPolice"])
    assert "accounts" in fields(desk.problems_for(desk.Action.publish, draft, MERSEYSIDE))


def test_a_draft_may_be_saved_unfinished_but_not_published() -> None:
    draft, _ = desk.draft_from_form(form(**{"text.x": ""}), [])
    assert desk.problems_for(desk.Action.save, draft, MERSEYSIDE) == []
    assert fields(desk.problems_for(desk.Action.publish, draft, MERSEYSIDE)) == ["accounts"]


def test_the_legal_checklist_must_be_ticked_before_it_goes_to_anyone() -> None:
    values = {k: v for k, v in form().items() if k != "checklist.sub_judice"}
    draft = draft_of(values)
    for action in (desk.Action.submit, desk.Action.schedule, desk.Action.publish):
        assert "checklist" in fields(desk.problems_for(action, draft, MERSEYSIDE))


def test_an_appeal_naming_a_person_needs_approval_before_publishing_but_not_to_submit() -> None:
    draft = draft_of(form(kind="appeal", names_person="1"))
    problems = desk.problems_for(desk.Action.publish, draft, MERSEYSIDE)
    assert fields(problems) == ["approval"]
    assert "appeal posts need approval" in problems[0].message
    assert desk.problems_for(desk.Action.submit, draft, MERSEYSIDE) == []
    assert desk.problems_for(desk.Action.publish, draft, MERSEYSIDE, approved=True) == []


def test_a_welsh_force_needs_the_welsh_text_beside_the_english() -> None:
    draft = draft_of(form(), ["x:NWPolice"])
    assert fields(desk.problems_for(desk.Action.publish, draft, NORTH_WALES)) == ["text_cy.x"]


def test_schedule_reads_uk_time_and_stores_utc_and_refuses_the_past() -> None:
    summer = desk.publish_at_utc("2027-07-01T09:30")
    winter = desk.publish_at_utc("2027-01-15T09:30")
    assert summer == datetime(2027, 7, 1, 8, 30, tzinfo=UTC)
    assert winter == datetime(2027, 1, 15, 9, 30, tzinfo=UTC)
    assert desk.london(summer) == "2027-07-01 09:30"
    assert desk.publish_at_utc("next tuesday") is None
    draft = draft_of(form())
    now = datetime(2027, 7, 1, 12, 0, tzinfo=UTC)
    past = desk.problems_for(desk.Action.schedule, draft, MERSEYSIDE, summer, now=now)
    assert fields(past) == ["publish_at"]
    assert fields(desk.problems_for(desk.Action.schedule, draft, MERSEYSIDE, None)) == [
        "publish_at"
    ]


def test_an_unreadable_objective_is_a_problem_on_the_objective() -> None:
    _, problems = desk.draft_from_form(form(objective="fame"), ["x:MerseyPolice"])
    assert fields(problems) == ["objective"]


def post(status: PostStatus, author: str = "comms.merseyside", **kw: Any) -> Post:
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    return Post(
        id=kw.pop("id", "pst_1"),
        force="merseyside",
        author=Actor(kind="operator", id=author, force="merseyside"),
        draft=kw.pop("draft", draft_of(form(kind="appeal"))),
        status=status,
        created_at=now,
        updated_at=kw.pop("updated_at", now),
        **kw,
    )


def test_the_author_cannot_approve_their_own_post_and_a_refusal_needs_a_reason() -> None:
    p = post(PostStatus.awaiting_approval)
    own = desk.decision_problem(p, "comms.merseyside", True, True, "")
    assert own is not None and "another approver" in own
    assert desk.decision_problem(p, "approver.merseyside", True, True, "") is None
    assert desk.decision_problem(p, "approver.merseyside", True, False, "") is not None
    assert desk.decision_problem(p, "approver.merseyside", False, False, " ") is not None
    assert desk.decision_problem(p, "approver.merseyside", False, False, "names a child") is None
    assert desk.decision_problem(post(PostStatus.draft), "approver.merseyside", True, True, "")


def test_only_the_author_or_an_approver_cancels_and_only_before_it_goes_out() -> None:
    scheduled = post(PostStatus.scheduled)
    assert desk.cancel_problem(scheduled, "comms.merseyside", False) is None
    assert desk.cancel_problem(scheduled, "approver.merseyside", True) is None
    assert desk.cancel_problem(scheduled, "comms.other", False) is not None
    assert desk.cancel_problem(post(PostStatus.published), "comms.merseyside", False)


def test_the_desk_puts_each_status_in_its_column() -> None:
    posts = [
        post(PostStatus.draft, id="pst_d"),
        post(PostStatus.awaiting_approval, id="pst_a"),
        post(PostStatus.approved, id="pst_ok"),
        post(PostStatus.scheduled, id="pst_s"),
        post(PostStatus.published, id="pst_p"),
        post(PostStatus.cancelled, id="pst_c"),
        post(PostStatus.by_hand, id="pst_h"),  # went out; one account left to post by hand
    ]
    later = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
    posts.append(post(PostStatus.scheduled, id="pst_s0", publish_at=later - timedelta(days=1)))
    cols = {c: [p.id for p in ps] for c, ps in desk.columns(posts).items()}
    assert cols == {
        desk.Column.drafts: ["pst_d"],
        desk.Column.awaiting: ["pst_a"],
        desk.Column.scheduled: ["pst_s0", "pst_ok", "pst_s"],  # the next to go out first
        desk.Column.published: ["pst_p", "pst_h"],
    }


def test_a_draft_round_trips_through_the_form() -> None:
    draft = draft_of(
        form(
            **{
                "media.0.url": "https://example.org/a.jpg",
                "media.0.alt_text": "A red bicycle",
                "links": "https://example.org/appeal\n",
                "sensitive": "1",
            }
        )
    )
    again = form_values = desk.form_of(draft)
    assert draft_of(again, form_values["accounts"] or ["x:MerseyPolice"]) == draft


def test_only_publishing_roles_use_the_desk_and_only_approvers_approve() -> None:
    def user(role: str, force: str | None = "merseyside") -> User:
        return User("u", "U", force, role, (), "csrf")

    assert user("comms").publishes and not user("comms").approves
    assert user("approver").approves and user("force_admin").approves
    assert not user("operator").publishes and not user("supervisor").approves
    assert not user("approver", None).approves
    assert "approver" in desk.roles_of("approver") and "approver" not in desk.roles_of("comms")
    assert desk.roles_of("operator") == []


def test_the_national_templates_and_campaigns_load_and_fit_x() -> None:
    lib = Library.load(ROOT / "config", set(CONFIG.forces))
    assert {t.kind for t in lib.templates} >= {
        PostKind.appeal,
        PostKind.incident_update,
        PostKind.court_result,
        PostKind.road_closure,
        PostKind.prevention,
    }
    national = lib.campaigns_for("merseyside")
    assert len(national) >= 8 and all(c.force is None for c in national)
    own = [c for c in lib.campaigns_for("north-wales") if c.force == "north-wales"]
    assert [c.id for c in own] == ["rural-crime-mark-it"]  # a force's own, for it alone
    nw = desk.draft_from_campaign(own[0], NORTH_WALES).model_copy(
        update={"accounts": [AccountRef(platform=Platform.x, handle="NWPolice")]}
    )
    assert desk.problems_for(desk.Action.save, nw, NORTH_WALES) == []  # fits X in both
    assert all(r.illustrative for c in national for r in c.results)
    assert all(i.alt_text.en and i.alt_text.cy for c in national for i in c.images)
    prevent = lib.campaigns_for("merseyside", "prevent")
    assert prevent and all(c.objective == Objective.prevent for c in prevent)
    mersey_x = [AccountRef(platform=Platform.x, handle="MerseyPolice")]
    for c in national:  # adopted as it is, every campaign can be posted to X
        draft = desk.draft_from_campaign(c, MERSEYSIDE)
        assert draft.campaign_id == c.id and not draft.text_cy
        ok = draft.model_copy(update={"accounts": mersey_x})
        assert desk.problems_for(desk.Action.save, ok, MERSEYSIDE) == [], c.id
        # A Welsh force gets the Welsh beside it; both go out in one message on X.
        welsh = desk.draft_from_campaign(c, NORTH_WALES)
        assert welsh.text_cy[Platform.x] == c.text[Platform.x].cy
    for t in lib.templates:
        draft = desk.draft_from_template(t, NORTH_WALES)
        assert draft.text_cy[Platform.x] and len(draft.text[Platform.x]) <= 280, t.id


def test_welsh_and_english_too_long_together_for_x_say_so_on_the_welsh_text() -> None:
    values = form(**{"text.x": "a" * 150, "text_cy.x": "b" * 150})
    draft = draft_of(values, ["x:NWPolice"])
    problems = desk.problems_for(desk.Action.publish, draft, NORTH_WALES)
    assert fields(problems) == ["text_cy.x"]
    token = CURRENT.set("cy")
    try:
        shown = pub_labels.message(problems[0].message)
    finally:
        CURRENT.reset(token)
    assert "302" in shown and "280" in shown and shown != problems[0].message


def test_a_bad_template_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    (tmp_path / "publishing").mkdir()
    (tmp_path / "publishing" / "templates.yaml").write_text(
        "templates:\n  - id: x\n    kind: appeal\n    objective: fame\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        load_templates(tmp_path)
    assert "templates.yaml" in str(err.value) and "templates.0.objective" in str(err.value)


def test_a_campaign_folder_that_is_not_a_force_is_refused(tmp_path: Path) -> None:
    (tmp_path / "campaigns" / "mersyside").mkdir(parents=True)
    with pytest.raises(ConfigError) as err:
        load_campaigns(tmp_path, set(CONFIG.forces))
    assert "mersyside" in str(err.value)


def published(objective: str, day: datetime, text: str, platform_id: str) -> Post:
    draft = draft_of(form(objective=objective, **{"text.x": text}))
    delivery = AccountDelivery(
        account=AccountRef(platform=Platform.x, handle="MerseyPolice"),
        status="delivered",
        platform_id=platform_id,
        at=day,
    )
    return post(
        PostStatus.published,
        id=f"pst_{platform_id}",
        draft=draft,
        deliveries=[delivery],
        updated_at=day,
    )


def test_impact_counts_thread_mentions_and_subject_contact_before_and_after() -> None:
    day = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    text = "Fraud warning: courier fraud scam calls pretending to be your bank"
    p = published("prevent", day, text, "1001")
    subject = impact.subject_of(p)
    cells = [
        {
            "kind": "items",
            "force": "merseyside",
            "day": "2026-11-05",
            "counts": {f"s:{subject}": 4},
        },
        {
            "kind": "items",
            "force": "merseyside",
            "day": "2026-11-12",
            "counts": {f"s:{subject}": 9},
        },
        {
            "kind": "items",
            "force": "merseyside",
            "day": "2026-11-30",
            "counts": {f"s:{subject}": 50},
        },
        {"kind": "items", "force": "cheshire", "day": "2026-11-12", "counts": {f"s:{subject}": 70}},
    ]
    thread = item_key_for_thread("x:thread:1001")
    assert impact.thread_item_ids(p) == [thread]
    rows = impact.impact_by_objective(
        [p, post(PostStatus.draft)], cells, {thread: 3}, date(2026, 11, 1), date(2026, 11, 30)
    )
    by = {r.objective: r for r in rows}
    assert [r.objective for r in rows] == [o.value for o in Objective]
    assert (by["prevent"].posts, by["prevent"].thread_mentions) == (1, 3)
    assert (by["prevent"].contact_before, by["prevent"].contact_after) == (4, 9)
    assert by["prevent"].change_pct == 125.0
    assert by["appeal"].posts == 0 and by["appeal"].change_pct is None
    # A second post on the same subject two days later: the days they share count once.
    p2 = published("prevent", day + timedelta(days=2), text, "1002")
    both = impact.impact_by_objective(
        [p, p2], cells, {thread: 3}, date(2026, 11, 1), date(2026, 11, 30)
    )
    prevent = {r.objective: r for r in both}["prevent"]
    assert (prevent.posts, prevent.contact_before, prevent.contact_after) == (2, 4, 9)
    outside = impact.impact_by_objective([p], cells, {}, date(2026, 11, 11), date(2026, 11, 30))
    assert sum(r.posts for r in outside) == 0
    assert impact.per_force([p], date(2026, 11, 1), date(2026, 11, 30)) == {
        "merseyside": {o.value: int(o.value == "prevent") for o in Objective}
    }
    assert impact.published_on(p) == (day + timedelta(hours=0)).date()


def test_config_check_names_the_file_and_field_of_a_bad_campaign(tmp_path: Path) -> None:
    import shutil

    from socialdesk_tools.configcheck import run_checks

    shutil.copytree(ROOT / "config", tmp_path / "config")
    bad = tmp_path / "config" / "campaigns" / "national" / "fraud-stop-challenge.yaml"
    bad.write_text(bad.read_text(encoding="utf-8").replace("objective: prevent", "objective: x"))
    said: list[str] = []
    problems = run_checks(tmp_path / "config", said.append)
    assert len(problems) == 1
    assert "fraud-stop-challenge.yaml: objective:" in problems[0]
    good: list[str] = []
    assert run_checks(ROOT / "config", good.append) == []
    assert any("5 post templates, 8 national campaigns" in line for line in good)


def test_outbound_refusals_are_said_in_the_pages_language() -> None:
    from socialdesk.refusals import Refusal

    assert set(pub_labels.REFUSALS) == set(Refusal)  # every code outbound can give
    english = "this post has changed since you opened it (now version 4): reload it"
    token = CURRENT.set("en")
    try:
        assert pub_labels.refusal("stale", english) == english
    finally:
        CURRENT.reset(token)
    token = CURRENT.set("cy")
    try:
        welsh = pub_labels.refusal("stale", english)
        assert welsh != english and "ail-lwythwch" in welsh
        assert pub_labels.refusal("a_new_code", "as it came") == "as it came"
    finally:
        CURRENT.reset(token)


def test_tokens_about_to_expire_are_shown_on_the_desk_as_the_day_comes() -> None:
    """The team sees a token's expiry where it posts, from 14 days before (a moving
    clock: nothing on day -15, a notice on day -14, 'expired' the day after)."""
    from fastapi.templating import Jinja2Templates
    from starlette.requests import Request

    from socialdesk.config import AccountCredential
    from socialdesk_console import i18n

    expires = date(2027, 3, 1)
    creds = {
        Platform.x: {
            "HeddluGogCymru": AccountCredential(env="SOCIALDESK_T_HGC", expires=expires),
            "NWPolice": AccountCredential(env="SOCIALDESK_T_NWP"),  # no expiry known
        }
    }
    force = NORTH_WALES.model_copy(update={"credentials": creds})
    day = expires - timedelta(days=15)
    assert desk.token_notices(force, day) == []
    (soon,) = desk.token_notices(force, day + timedelta(days=1))
    assert (soon.handle, soon.days) == ("HeddluGogCymru", 14)
    (gone,) = desk.token_notices(force, expires + timedelta(days=1))
    assert gone.days == -1

    templates = Jinja2Templates(
        directory=str(ROOT / "services/console-api/socialdesk_console/templates")
    )
    i18n.install(templates.env)
    templates.env.globals |= {"idle_s": 1800, "max_age_s": 28800}
    templates.env.globals |= {
        "pub_label": pub_labels.pub_label,
        "kind_label": pub_labels.kind_label,
    }
    templates.env.globals["platform_name"] = pub_labels.platform_name
    me = User("comms.nw", "Nia", "north-wales", "comms", (), "tok", started=1000.0)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/publishing",
        "query_string": b"",
        "headers": [],
    }

    def page(lang: str, today: date) -> str:
        i18n.use(lang)
        ctx = {
            "user": me,
            "force_name": "North Wales Police",
            "columns": desk.columns([]),
            "column_names": [c.value for c in desk.Column],
            "london": desk.london,
            "sent": None,
            "templates": [],
            "token_notices": desk.token_notices(force, today),
        }
        resp = templates.TemplateResponse(Request(scope), "publishing.html", ctx)
        return bytes(resp.body).decode()

    try:
        assert 'id="token-notices"' not in page("en", day)
        english = page("en", expires - timedelta(days=3))
        assert "X @HeddluGogCymru: its token expires on 2027-03-01, in 3 days." in english
        assert "@NWPolice" not in english
        assert "its token expired on 2027-03-01" in page("en", expires + timedelta(days=1))
        welsh = page("cy", expires - timedelta(days=3))
        assert "X @HeddluGogCymru" in welsh and "2027-03-01" in welsh
        assert "its token expires" not in welsh
    finally:
        i18n.use("en")


def test_impact_shows_what_each_adopted_campaign_did_here() -> None:
    """Posts adopted from a library campaign are counted per campaign (posts, forces,
    mentions in their threads); a post not from the library, or outside the period, not."""
    day = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    text = "Stop. Challenge. Protect. Your bank will never ask you to move money."

    def adopted(platform_id: str, force: str, when: datetime = day) -> Post:
        p = published("prevent", when, text, platform_id)
        draft = p.draft.model_copy(update={"campaign_id": "fraud-stop-challenge"})
        return p.model_copy(update={"draft": draft, "force": force})

    posts = [
        adopted("2001", "merseyside"),
        adopted("2002", "cheshire"),
        adopted("2003", "merseyside", day + timedelta(days=40)),  # after the period
        published("prevent", day, "Lock your car.", "2004"),  # not from the library
    ]
    threads = {item_key_for_thread("x:thread:2001"): 5, item_key_for_thread("x:thread:2002"): 2}
    rows = impact.per_campaign(posts, threads, date(2026, 11, 1), date(2026, 11, 30))
    assert rows == {"fraud-stop-challenge": {"posts": 2, "forces": 2, "thread_mentions": 7}}
