"""Trigger params of every phase DAG of both launches: a wrong type, a value out of range, an unknown
key and contradictory values are refused before anything runs, with a message naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import ParamValidationError

from include.launch.core.errors import ConfigurationError
from include.launch.engine.steps import unknown_params
from include.launch.plan import load_plan
from include.launch.spec.effective import change_params
from include.launch.spec.phase import build_phase_spec
from include.launch.spec.trigger_form import trigger_form

PHASES = [(plan, phase.id) for plan in ("accubooks", "reconciliation") for phase in load_plan(plan).phases]
WRONG_TYPE = {"integer": "many", "number": "soon", "boolean": "yes", "array": 7, "string": 7}


def spec_of(plan: str, phase_id: str) -> Any:
    return build_phase_spec(load_plan(plan), phase_id, plan)


def typed_fields(plan: str, phase_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    form = trigger_form(spec_of(plan, phase_id))
    fields = []
    for name, param in form.items():
        kind = param.schema.get("type")
        kinds = [kind] if isinstance(kind, str) else [k for k in kind or [] if k != "null"]
        if kinds and kinds[0] in WRONG_TYPE:
            fields.append((name, kinds[0], param.schema))
    return fields


def refused(plan: str, phase_id: str, name: str, value: Any) -> str:
    params = ParamsDict(trigger_form(spec_of(plan, phase_id)))
    with pytest.raises(ParamValidationError) as error:  # Airflow validates on assignment, as the form does
        params[name] = value
        params.validate()
    return str(error.value)


@pytest.mark.parametrize(("plan", "phase_id"), PHASES, ids=[f"{p}-{i}" for p, i in PHASES])
def test_every_typed_field_refuses_a_wrong_type(plan: str, phase_id: str) -> None:
    fields = typed_fields(plan, phase_id)
    assert fields, "every phase DAG has at least the dry_run field"
    for name, kind, _ in fields:
        message = refused(plan, phase_id, name, WRONG_TYPE[kind])
        assert f"Invalid input for param {name}" in message, message


@pytest.mark.parametrize(("plan", "phase_id"), PHASES, ids=[f"{p}-{i}" for p, i in PHASES])
def test_every_bounded_field_refuses_a_value_out_of_range(plan: str, phase_id: str) -> None:
    for name, _, schema in typed_fields(plan, phase_id):
        if "minimum" in schema:
            below = schema["minimum"] - 1
        elif "exclusiveMinimum" in schema:
            below = schema["exclusiveMinimum"]
        else:
            continue
        message = refused(plan, phase_id, name, below)
        assert f"Invalid input for param {name}" in message and "minimum" in message, message


@pytest.mark.parametrize(("plan", "phase_id"), PHASES, ids=[f"{p}-{i}" for p, i in PHASES])
def test_unknown_keys_are_named_by_every_phase_gate(plan: str, phase_id: str) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown trigger param\(s\) 'colour', 'pool_maxx'"):
        unknown_params(spec_of(plan, phase_id), {"pool_maxx": 300, "colour": "red"})


@pytest.mark.parametrize(("plan", "phase_id", "conf", "message"), [
    ("accubooks", "phase1_pool_scaling", {"pool_min": 200, "pool_max": 100},
     "DB_POOL_MIN (200) must be <= DB_POOL_MAX"),
    ("accubooks", "phase3_beta", {"cohort": ["1:1"] * 3}, "cohort: "),
    ("accubooks", "phase3_beta", {"cohort": [f"{t}:{t}" for t in range(1, 13)], "beta_start_date": "2099-01-01"},
     "beta_start_date: 2099-01-01 is in the future"),
], ids=["pool-min-over-max", "cohort-duplicates", "beta-start-in-future"])
def test_contradictory_values_are_refused_with_the_field(plan: str, phase_id: str, conf: dict[str, Any],
                                                         message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        change_params(spec_of(plan, phase_id), conf)
