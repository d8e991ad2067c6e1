"""Survey CSV drops (day 7 and day 14): validated whole, summarised, quoted.

A file is accepted only if every row is valid; otherwise it is rejected whole and every bad row is
reported with its line number (the header is line 1) and the reason. Nothing is partly imported.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from typing import Any

HEADER = ("respondent_id", "tenant_id", "user_id", "survey_day", "trust_forecasts", "would_pay_again",
          "satisfaction", "nps", "comment")
TRUE, FALSE = {"true", "t", "yes", "y", "1"}, {"false", "f", "no", "n", "0"}
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Answer:
    respondent_id: int
    tenant_id: int
    user_id: int
    survey_day: int
    trust_forecasts: bool
    would_pay_again: bool
    satisfaction: int
    nps: int
    comment: str


@dataclass
class SurveyImport:
    """answers when the file is valid; errors (``line N: reason``) otherwise, never both."""

    survey_day: int
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.errors


def _int(value: str, name: str, low: int | None = None, high: int | None = None) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a whole number") from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{name} {number} is outside {low}-{high}")
    return number


def _bool(value: str, name: str) -> bool:
    text = value.strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{name} {value!r} is not true/false")


def parse_survey(data: bytes, survey_day: int, cohort_users: dict[int, int] | None = None) -> SurveyImport:
    """Validate a survey CSV. cohort_users (user id -> tenant id), when given, must contain every respondent."""
    result = SurveyImport(survey_day)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.errors.append(f"file: not UTF-8 ({exc})")
        return result
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        result.errors.append("line 1: empty file, expected the header " + ",".join(HEADER))
        return result
    if tuple(h.strip() for h in header) != HEADER:
        result.errors.append(f"line 1: header {','.join(header)!r} is not {','.join(HEADER)!r}")
        return result
    answers: list[Answer] = []
    seen_respondents: dict[int, int] = {}
    seen_users: dict[int, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            result.errors.append(f"line {line}: {len(row)} columns, expected {len(HEADER)}")
            continue
        cells = dict(zip(HEADER, row, strict=True))
        try:
            answer = Answer(
                respondent_id=_int(cells["respondent_id"], "respondent_id", 1),
                tenant_id=_int(cells["tenant_id"], "tenant_id", 1),
                user_id=_int(cells["user_id"], "user_id", 1),
                survey_day=_int(cells["survey_day"], "survey_day"),
                trust_forecasts=_bool(cells["trust_forecasts"], "trust_forecasts"),
                would_pay_again=_bool(cells["would_pay_again"], "would_pay_again"),
                satisfaction=_int(cells["satisfaction"], "satisfaction", 1, 5),
                nps=_int(cells["nps"], "nps", 0, 10),
                comment=cells["comment"].strip(),
            )
        except ValueError as exc:
            result.errors.append(f"line {line}: {exc}")
            continue
        problems = []
        if answer.survey_day != survey_day:
            problems.append(f"survey_day {answer.survey_day} in the day-{survey_day} file")
        if len(answer.comment) > MAX_COMMENT:
            problems.append(f"comment longer than {MAX_COMMENT} characters")
        if answer.respondent_id in seen_respondents:
            first = seen_respondents[answer.respondent_id]
            problems.append(f"respondent_id {answer.respondent_id} repeats line {first}")
        if answer.user_id in seen_users:
            problems.append(f"user {answer.user_id} answered twice (line {seen_users[answer.user_id]})")
        if cohort_users is not None:
            tenant = cohort_users.get(answer.user_id)
            if tenant is None:
                problems.append(f"user {answer.user_id} is not a beta user")
            elif tenant != answer.tenant_id:
                problems.append(f"user {answer.user_id} belongs to tenant {tenant}, not {answer.tenant_id}")
        seen_respondents.setdefault(answer.respondent_id, line)
        seen_users.setdefault(answer.user_id, line)
        if problems:
            result.errors.append(f"line {line}: " + "; ".join(problems))
        else:
            answers.append(answer)
    if not result.errors and not answers:
        result.errors.append("file: no answers after the header")
    if not result.errors:
        result.answers = answers
    return result


def nps(scores: list[int]) -> float:
    """Net Promoter Score: % promoters (9-10) minus % detractors (0-6)."""
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return 100.0 * (promoters - detractors) / len(scores)


def summarise(answers: list[Answer]) -> dict[str, Any]:
    """The survey's criteria values and counts (answers must not be empty)."""
    n = len(answers)
    return {
        "respondents": n,
        "trust_forecasts_percent": 100.0 * sum(a.trust_forecasts for a in answers) / n,
        "would_pay_again_percent": 100.0 * sum(a.would_pay_again for a in answers) / n,
        "satisfaction_score": statistics.fmean(a.satisfaction for a in answers),
        "nps_score": nps([a.nps for a in answers]),
        "promoters": sum(1 for a in answers if a.nps >= 9),
        "passives": sum(1 for a in answers if 7 <= a.nps <= 8),
        "detractors": sum(1 for a in answers if a.nps <= 6),
        "satisfaction_distribution": {str(k): sum(1 for a in answers if a.satisfaction == k) for k in range(1, 6)},
    }


def quotes(answers: list[Answer], limit: int = 20) -> list[dict[str, Any]]:
    """Distinct non-empty comments, most frequent first, attributed to tenants (never to names or emails)."""
    grouped: dict[str, list[Answer]] = {}
    for answer in answers:
        if answer.comment:
            grouped.setdefault(answer.comment, []).append(answer)
    ranked = sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0]))
    return [{"comment": text, "count": len(group), "tenants": sorted({a.tenant_id for a in group}),
             "satisfaction_mean": statistics.fmean(a.satisfaction for a in group),
             "nps_mean": statistics.fmean(a.nps for a in group)} for text, group in ranked[:limit]]
