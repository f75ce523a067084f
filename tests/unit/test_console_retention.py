"""The console's Retention page: who may see it, and a Welsh force administrator's page
in Welsh with the configured reasons marked as English."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from socialdesk.config import PlatformConfig
from socialdesk.retention import DataClass, periods_for
from socialdesk_console import i18n
from socialdesk_console.auth import User
from socialdesk_console.routers.retention import CLASS_NAMES, ENFORCER_NAMES, _may_see
from tests.unit.test_i18n import render_page


def user(role: str, force: str | None) -> User:
    return User("u", "U", force, role, (), "tok", started=1000.0)


@pytest.mark.parametrize(
    ("role", "force", "allowed"),
    [
        ("force_admin", "merseyside", True),
        ("national_viewer", None, True),
        ("national_duty", None, True),
        ("force_admin", None, False),
        ("supervisor", "merseyside", False),
        ("operator", "merseyside", False),
    ],
)
def test_only_force_administrators_and_national_roles_see_retention(
    role: str, force: str | None, allowed: bool
) -> None:
    u = user(role, force)
    if allowed:
        assert _may_see(u) is u
    else:
        with pytest.raises(HTTPException) as exc:
            _may_see(u)
        assert exc.value.status_code == 403


def test_the_page_in_welsh_names_every_class_and_marks_the_reasons_english(
    platform_config: PlatformConfig,
) -> None:
    periods = periods_for(platform_config, "north-wales")
    view = {
        "force": "north-wales",
        "last_sweep": "2026-12-07T10:00:00+00:00",
        "classes": [
            {
                "data_class": p.data_class.value,
                "name": CLASS_NAMES[p.data_class],
                "days": p.days,
                "source": p.source.value,
                "reason": p.reason,
                "enforced_by": p.enforced_by.value,
                "enforced_by_name": ENFORCER_NAMES[p.enforced_by],
                "last_deleted": 3 if p.data_class == DataClass.items else None,
            }
            for p in periods.values()
        ],
    }
    me = user("force_admin", "north-wales")
    try:
        page = render_page("retention.html", "cy", view=view, user=me, force_name="Heddlu")
    finally:
        i18n.use("en")
    assert '<html lang="cy">' in page
    assert "Cadw yn ôl dosbarth data" in page and "Ysgubiad diwethaf: 2026-12-07 10:00:00" in page
    assert "2,190 diwrnod" in page and "Eitemau a\u2019u digwyddiadau" in page
    assert page.count('<td lang="en">') == len(DataClass)


def test_the_national_roles_see_each_forces_own_periods(
    platform_config: PlatformConfig,
) -> None:
    from types import SimpleNamespace

    from socialdesk.config import PlatformConfig as Config
    from socialdesk.retention import RetentionOverride
    from socialdesk_console.routers.retention import force_overrides

    forces = dict(platform_config.forces)
    over = RetentionOverride(days=400, reason="the PCC asked for 13 months")
    forces["cheshire"] = forces["cheshire"].model_copy(
        update={"retention": {DataClass.reports_rollups: over}}
    )
    config = Config(platform_config.national, forces, {}, platform_config.retention)
    rows = force_overrides(SimpleNamespace(config=config))  # type: ignore[arg-type]
    assert rows == [
        {
            "force": "Cheshire Constabulary",
            "name": "Report rollups",
            "data_class": "reports_rollups",
            "days": 400,
            "reason": "the PCC asked for 13 months",
        }
    ]
    view = {"force": None, "last_sweep": None, "classes": [], "overrides": rows}
    page = render_page("retention.html", "en", view=view, user=user("national_viewer", None))
    assert "No sweep has run yet." in page
    assert "Cheshire Constabulary</th><td>Report rollups</td><td>400 days</td>" in page
