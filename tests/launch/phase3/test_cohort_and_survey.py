"""Cohort validation (form and target) and survey CSV validation, without Airflow runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from include.launch.beta.cohort import cohort_problems, parse_cohort, target_problems
from include.launch.beta.survey import HEADER, nps, parse_survey, summarise
from include.launch.plan import load_plan
from include.launch.plugins.changes.catalog import BetaEnrollmentParams

PLAN_PARAMS = load_plan("accubooks").phase("phase3_beta").change.params  # type: ignore[union-attr]


def entries(n: int) -> list[str]:
    return [f"{t}:{100 + t}" for t in range(1, n + 1)]


@pytest.mark.parametrize("size", [9, 21])
def test_cohort_outside_10_to_20_is_refused(size: int) -> None:
    params = BetaEnrollmentParams.model_validate(PLAN_PARAMS)
    with pytest.raises(ValueError, match=rf"cohort: {size} invitee\(s\) given; the beta needs 10-20"):
        params.with_overrides({"cohort": entries(size)})


@pytest.mark.parametrize("size", [10, 20])
def test_cohort_of_10_and_20_is_accepted(size: int) -> None:
    params = BetaEnrollmentParams.model_validate(PLAN_PARAMS).with_overrides({"cohort": entries(size),
                                                                               "beta_days": 14})
    assert len(params.cohort) == size


@pytest.mark.parametrize(("days_ago", "message"), [
    (-1, "is in the future"), (14, "is 14 days ago, so a 14-day beta would already be over"),
    (None, "is not a date"),
])
def test_backdated_beta_start_is_checked(days_ago: int | None, message: str) -> None:
    start = "2026-13-40" if days_ago is None else (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()
    with pytest.raises(ValueError, match=f"beta_start_date: .*{message}"):
        BetaEnrollmentParams.model_validate(PLAN_PARAMS).with_overrides({"cohort": entries(12),
                                                                         "beta_start_date": start})


def test_a_beta_already_under_way_starts_on_its_first_day() -> None:
    start = datetime.now(UTC).date() - timedelta(days=13)
    params = BetaEnrollmentParams.model_validate(PLAN_PARAMS).with_overrides(
        {"cohort": entries(12), "beta_start_date": start.isoformat()})
    assert params.start_day() == start  # day 14 is today: the daily DAG can score every day of it
    assert BetaEnrollmentParams.model_validate(PLAN_PARAMS).start_day() is None  # empty: starts now


def test_every_bad_entry_is_named() -> None:
    cohort = [*entries(9), "1:101", "2:555", "x:1", "13:102"]
    problems = cohort_problems(cohort, 10, 20)
    assert "entry 10 (1:101): duplicate of entry 1 (1:101)" in problems
    assert any(p.startswith("entry 11 (2:555): tenant 2 already in the cohort as entry 2 (2:102)") for p in problems)
    assert "entry 12 ('x:1'): expected tenant_id:user_id" in problems
    assert "entry 13 (13:102): user 102 already invited as entry 2 (2:102)" in problems
    assert len(problems) == 4  # 13 entries is a valid size: only the four bad entries


def test_trigger_form_offers_cohort_logging_hours_and_beta_days() -> None:
    form = BetaEnrollmentParams.model_validate(PLAN_PARAMS).trigger_form()
    assert form["cohort"]["type"] == "array"
    assert form["detailed_logging_hours"]["default"] == 72
    assert form["beta_days"]["default"] == 14


def test_target_refuses_unknown_inactive_and_wrong_tenant_users(fresh_db: str) -> None:
    from include.demo_target.generator import generate
    from include.demo_target.schema import migrate

    migrate(fresh_db)
    generate(fresh_db, 12, seed=1)
    with psycopg.connect(fresh_db) as conn:
        users = conn.execute("SELECT tenant_id, min(id), max(id) FROM users GROUP BY tenant_id ORDER BY 1").fetchall()
        conn.execute("UPDATE users SET role = 'disabled' WHERE id = %s", (users[3][1],))
        conn.commit()
        cohort = [f"{t}:{u}" for t, u, _ in users[:10]]
        cohort[1] = f"2:{users[0][2]}"  # a user of tenant 1 named for tenant 2
        cohort[2] = "3:999999"
        invitees, shape = parse_cohort(cohort)
        assert shape == []
        problems = target_problems(conn, invitees, ["disabled"])
    assert problems == [
        f"entry 2 (2:{users[0][2]}): user {users[0][2]} belongs to tenant 1, not 2",
        "entry 3 (3:999999): user 999999 does not exist",
        f"entry 4 (4:{users[3][1]}): user {users[3][1]} is inactive (role disabled)",
    ]


def csv_text(rows: list[list[Any]]) -> bytes:
    lines = [",".join(HEADER)] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def test_malformed_survey_is_rejected_whole_with_line_numbers() -> None:
    data = csv_text([
        [1, 1, 11, 7, "true", "false", 5, 9, "good"],
        [2, 1, 12, 7, "maybe", "false", 4, 8, "ok"],        # line 3: bad boolean
        [3, 2, 13, 7, "true", "true", 6, 10, "great"],       # line 4: satisfaction out of range
        [4, 2, 14, 14, "true", "true", 4, 10, ""],           # line 5: wrong survey day
        [5, 3, 15, 7, "true", "true", 4],                    # line 6: missing columns
        [1, 3, 16, 7, "true", "true", 4, 7, "dup id"],       # line 7: respondent id repeats line 2
    ])
    result = parse_survey(data, 7, cohort_users={11: 1, 12: 1, 13: 2, 14: 2, 15: 3, 16: 3})
    assert not result.accepted and result.answers == []
    assert result.errors == [
        "line 3: trust_forecasts 'maybe' is not true/false",
        "line 4: satisfaction 6 is outside 1-5",
        "line 5: survey_day 14 in the day-7 file",
        "line 6: 7 columns, expected 9",
        "line 7: respondent_id 1 repeats line 2",
    ]


def test_survey_respondents_must_be_beta_users_of_their_tenant() -> None:
    data = csv_text([[1, 1, 11, 7, "true", "true", 5, 10, ""], [2, 2, 11, 7, "true", "true", 5, 10, ""],
                     [3, 9, 99, 7, "true", "true", 5, 10, ""]])
    errors = parse_survey(data, 7, cohort_users={11: 1}).errors
    assert errors == ["line 3: user 11 answered twice (line 2); user 11 belongs to tenant 1, not 2",
                      "line 4: user 99 is not a beta user"]


def test_survey_summary_by_hand() -> None:
    data = csv_text([[1, 1, 11, 7, "true", "true", 5, 10, "a"], [2, 1, 12, 7, "false", "true", 4, 9, "b"],
                     [3, 2, 13, 7, "true", "false", 3, 7, "a"], [4, 2, 14, 7, "true", "false", 4, 2, ""]])
    result = parse_survey(data, 7)
    assert result.accepted
    summary = summarise(result.answers)
    assert summary["trust_forecasts_percent"] == 75.0
    assert summary["would_pay_again_percent"] == 50.0
    assert summary["satisfaction_score"] == 4.0
    assert summary["nps_score"] == 25.0  # 2 promoters, 1 detractor of 4
    assert nps([10, 10, 0]) == pytest.approx(100 / 3)
