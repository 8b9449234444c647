"""The configuration's optional `cost` section: the list prices by default, overrides checked path by path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain import cost
from chalicelib.domain.config import parse_config, shipped_document
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.prices import PRICE_NAMES, Prices, parse_cost

ROOT = Path(__file__).resolve().parents[2]


def _errors_of(value: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse_cost(value)
    return caught.value.errors


def test_no_cost_section_means_the_list_prices() -> None:
    assert parse_cost(None) == Prices()
    assert parse_cost({}) == Prices()
    assert Prices().dynamodb_per_million_write_units == 0.625


def test_a_price_given_replaces_only_that_price() -> None:
    prices = parse_cost({"prices": {"api_gateway_per_million_requests": 1, "alarm_per_month": 0.3}})

    assert prices.api_gateway_per_million_requests == 1.0
    assert prices.alarm_per_month == 0.3
    assert prices.lambda_per_gb_second == Prices().lambda_per_gb_second


def test_unknown_names_and_bad_numbers_are_refused_with_their_paths() -> None:
    errors = _errors_of(
        {
            "prices": {
                "lambda_per_gb_second": -0.1,
                "ses_per_thousand_mails": "0.10",
                "sns_per_million_publishes": True,
                "gold_per_ounce": 2000,
            },
            "budget": 5,
        }
    )

    assert set(errors) == {
        "cost.prices.lambda_per_gb_second",
        "cost.prices.ses_per_thousand_mails",
        "cost.prices.sns_per_million_publishes",
        "cost.prices.gold_per_ounce",
        "cost.budget",
    }
    assert _errors_of([]) == {"cost": "must be an object"}
    assert _errors_of({"prices": [1]}) == {"cost.prices": "must be an object"}
    assert "cost.prices.lambda_per_gb_second" in _errors_of({"prices": {"lambda_per_gb_second": float("inf")}})


def test_the_section_is_part_of_the_configuration_and_of_its_one_answer() -> None:
    document = copy.deepcopy(shipped_document("default"))
    document["cost"] = {"prices": {"s3_storage_per_gb_month": -1}}
    document["desk"]["name"] = ""

    with pytest.raises(ValidationError) as caught:
        parse_config(document)

    assert {"cost.prices.s3_storage_per_gb_month", "desk.name"} <= set(caught.value.errors)


def test_the_shipped_configuration_lists_every_price_at_its_default() -> None:
    document = shipped_document("default")

    assert set(document["cost"]["prices"]) == set(PRICE_NAMES)
    assert parse_config(document).prices == Prices()


def test_the_estimates_facts_about_the_stack_are_the_packages() -> None:
    """One alarm, logs kept 30 days, point-in-time recovery on every table: what the deploy really makes."""
    from infra import package

    alarms = [r for r in package.deploy_resources().values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    template = json.loads((ROOT / "infra" / "template.json").read_text())
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]

    assert len(alarms) == cost.ALARMS
    assert package.LOG_RETENTION_DAYS == cost.LOG_RETENTION_DAYS
    assert len(tables) == len(cost.PITR_TABLES)
    assert all(t["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] for t in tables)
