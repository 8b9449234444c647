"""The deploy package (`make package`'s code path): cfn-lint clean, wired to the real tables, stream and queue."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from infra import package

Json = dict[str, Any]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
TABLE_REFS = {
    "HELPDESK_TICKETS_TABLE": {"Ref": "TicketsTable"},
    "HELPDESK_DESK_TABLE": {"Ref": "DeskTable"},
    "HELPDESK_EVENTS_TABLE": {"Ref": "EventsTable"},
}
STREAM_ARN = {"Fn::GetAtt": ["TicketsTable", "StreamArn"]}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m infra.package --stage prod --out …`, run once for the module."""
    out = tmp_path_factory.mktemp("dist") / "prod"
    assert package.main(["--stage", "prod", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def template(packaged: Path) -> Json:
    loaded: Json = json.loads((packaged / "sam.json").read_text())
    return loaded


@pytest.fixture(scope="module")
def transformed(template: Json) -> Json:
    """What CloudFormation deploys: SAM's own transform of the template, after `aws cloudformation package`."""
    uploaded = copy.deepcopy(template)
    for _, function in _of_type(uploaded, "AWS::Serverless::Function"):
        function["Properties"]["CodeUri"] = "s3://artifacts/deployment.zip"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    result: Json = translator.translate(uploaded, parameter_values={}, get_managed_policy_map=dict)
    return result


def _of_type(template: Json, kind: str) -> Iterator[tuple[str, Json]]:
    return ((name, r) for name, r in template["Resources"].items() if r["Type"] == kind)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: Json) -> Iterator[tuple[str, Json]]:
    for name, role in _of_type(template, "AWS::IAM::Role"):
        for policy in role["Properties"].get("Policies", []):
            for statement in _as_list(policy["PolicyDocument"]["Statement"]):
                yield name, statement


def _cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, check=False)


def test_cfn_lint_finds_nothing_in_the_packaged_template(packaged: Path) -> None:
    linted = _cfn_lint(packaged / "sam.json")
    assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")


def test_cfn_lint_finds_nothing_in_what_sam_transforms_it_into(transformed: Json, tmp_path: Path) -> None:
    """cfn-lint checks SAM resources loosely; the transformed template's event source mapping and functions strictly."""
    path = tmp_path / "transformed.json"
    path.write_text(json.dumps(transformed, indent=2))
    linted = _cfn_lint(path)
    assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")


def test_the_package_holds_the_bundle_and_the_overlay_it_merged(packaged: Path, template: Json) -> None:
    assert (packaged / "deployment.zip").stat().st_size > 0
    overlay = json.loads((packaged / "overlay.json").read_text())
    assert set(overlay["Resources"]) <= set(template["Resources"])
    assert template["Transform"] == "AWS::Serverless-2016-10-31"


def test_every_function_has_the_tables_in_its_environment(template: Json, transformed: Json) -> None:
    functions = dict(_of_type(template, "AWS::Serverless::Function"))
    assert {"APIHandler", "TicketChanges"} <= set(functions)
    deployed = dict(_of_type(transformed, "AWS::Lambda::Function"))
    assert set(deployed) == set(functions)
    for function in [*functions.values(), *deployed.values()]:
        variables = function["Properties"]["Environment"]["Variables"]
        assert TABLE_REFS.items() <= variables.items()
        assert variables["HELPDESK_STAGE"] == "prod"  # the stage's own variables are kept


def test_every_function_logs_to_a_group_with_a_retention(transformed: Json) -> None:
    groups = dict(_of_type(transformed, "AWS::Logs::LogGroup"))
    for _, function in _of_type(transformed, "AWS::Lambda::Function"):
        group = groups[function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
        assert 1 <= group["Properties"]["RetentionInDays"] <= 365


def test_the_stream_mapping_reports_item_failures_retries_a_bounded_time_and_keeps_what_fails(
    template: Json, transformed: Json
) -> None:
    events = template["Resources"]["TicketChanges"]["Properties"]["Events"]
    assert events["TicketChangesDynamodbEventSource"]["Properties"]["Stream"] == STREAM_ARN
    [(_, mapping)] = _of_type(transformed, "AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert props["EventSourceArn"] == STREAM_ARN
    assert props["FunctionName"] == {"Ref": "TicketChanges"}
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert 0 < props["MaximumRetryAttempts"] <= 10
    assert 60 <= props["MaximumRecordAgeInSeconds"] <= 6 * 3600
    queue_name, attribute = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"]
    queue = transformed["Resources"][queue_name]
    assert (queue["Type"], attribute) == ("AWS::SQS::Queue", "Arn")
    assert queue["Properties"] == {"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": True}
    [(_, alarm)] = _of_type(transformed, "AWS::CloudWatch::Alarm")
    assert alarm["Properties"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_name, "QueueName"]}}
    ]
    assert alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"


def test_no_policy_scans_or_grants_dynamodb_on_anything_but_the_tables(template: Json, transformed: Json) -> None:
    for packaged_template in (template, transformed):
        statements = list(_statements(packaged_template))
        assert {role for role, _ in statements} == {name for name, _ in _of_type(template, "AWS::IAM::Role")}
        for role, statement in statements:
            actions = [a.lower() for a in _as_list(statement["Action"])]
            assert not {"*", "dynamodb:*", "dynamodb:scan"} & set(actions), role
            if any(a.startswith("dynamodb:") for a in actions):
                for resource in _as_list(statement["Resource"]):
                    assert isinstance(resource, dict), f"{role}: {resource!r} is a literal ARN"
                    assert resource["Fn::Sub"].split(".")[0] in {"${TicketsTable", "${DeskTable", "${EventsTable"}


def test_each_role_reads_the_stream_and_writes_only_the_dead_letter_queue(template: Json) -> None:
    for role in (name for name, _ in _of_type(template, "AWS::IAM::Role")):
        grants = {
            (action, json.dumps(resource))
            for name, statement in _statements(template)
            if name == role
            for action in _as_list(statement["Action"])
            for resource in _as_list(statement["Resource"])
        }
        assert ("dynamodb:GetRecords", json.dumps({"Fn::Sub": "${TicketsTable.StreamArn}"})) in grants
        assert ("dynamodb:GetShardIterator", json.dumps({"Fn::Sub": "${TicketsTable.StreamArn}"})) in grants
        assert ("dynamodb:Query", json.dumps({"Fn::Sub": "${EventsTable.Arn}/index/*"})) in grants
        assert {(a, r) for a, r in grants if a.startswith("sqs:")} == {
            ("sqs:SendMessage", json.dumps({"Fn::Sub": "${StreamDeadLetterQueue.Arn}"}))
        }


def test_the_packaged_policy_is_the_written_one_with_real_resources(template: Json) -> None:
    written = json.loads((package.CHALICE_DIR / "policy-prod.json").read_text())
    policies = [p for _, role in _of_type(template, "AWS::IAM::Role") for p in role["Properties"]["Policies"]]
    assert [p["PolicyDocument"] for p in policies] == [package.packaged_policy(written)] * len(policies)


def test_every_stage_policy_names_only_what_the_package_creates() -> None:
    infra = json.loads(package.INFRA_TEMPLATE.read_text())
    names = {*infra["Resources"], *package.deploy_resources(), *infra["Parameters"], *package.deploy_parameters()}
    for stage in json.loads((package.CHALICE_DIR / "config.json").read_text())["stages"]:
        assert package.policy_problems(package.stage_policy(stage), names) == [], stage


def test_a_policy_that_scans_or_names_tables_by_pattern_is_refused() -> None:
    policy = {
        "Statement": [
            {"Sid": "Scan", "Action": ["dynamodb:Scan"], "Resource": "${TicketsTable.Arn}"},
            {"Sid": "Pattern", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:*:*:table/helpdesk-*"},
            {"Sid": "Unknown", "Action": "sqs:SendMessage", "Resource": "${Nowhere.Arn}"},
        ]
    }
    problems = package.policy_problems(policy, {"TicketsTable"})
    assert [p.split(":")[0] for p in problems] == ["Scan", "Pattern", "Unknown"]


def test_the_sender_is_a_parameter_with_an_ses_identity_and_an_output(template: Json) -> None:
    assert template["Parameters"]["SenderEmail"]["Type"] == "String"
    [(_, identity)] = _of_type(template, "AWS::SES::EmailIdentity")
    assert identity["Properties"] == {"EmailIdentity": {"Ref": "SenderEmail"}}
    assert template["Outputs"]["SenderEmail"] == {"Value": {"Ref": "SenderEmail"}}


def test_the_outputs_name_the_tables_the_api_and_the_dead_letter_queue(template: Json) -> None:
    assert {
        "EndpointURL",
        "TicketsTableName",
        "DeskTableName",
        "EventsTableName",
        "TicketsTableStreamArn",
        "StreamDeadLetterQueueUrl",
    } <= set(template["Outputs"])
