"""The deploy package (`make package`'s code path): cfn-lint clean, wired to the real tables, stream and queue."""

from __future__ import annotations

import base64
import copy
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from chalice.app import Request, Response, ScheduledEventConfig, ScheduleExpression
from chalice.utils import to_cfn_resource_name
from packaging.requirements import Requirement
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from chalicelib.domain.errors import HelpdeskError
from chalicelib.web.http import error_body, error_response, handled
from infra import bundle, gateway, package

Json = dict[str, Any]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
TABLE_REFS = {
    "HELPDESK_TICKETS_TABLE": {"Ref": "TicketsTable"},
    "HELPDESK_DESK_TABLE": {"Ref": "DeskTable"},
    "HELPDESK_EVENTS_TABLE": {"Ref": "EventsTable"},
}
STREAM_ARN = {"Fn::GetAtt": ["TicketsTable", "StreamArn"]}
MAIL_REFS = {
    "HELPDESK_SENDER_EMAIL": {"Ref": "SenderEmail"},
    "HELPDESK_SES_CONFIGURATION_SET": {"Ref": "MailConfigurationSet"},
}
# The REST API's stage URL as Chalice's own EndpointURL output spells it (without its trailing slash).
STAGE_URL = {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"}
SES_ARN = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
SENDER_DOMAIN = {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "SenderEmail"}]}]}


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


def _called_by_the_api(template: Json, function: str) -> bool:
    """The REST API's definition names the function (its handler): the function cannot name the API back."""
    return f"${{{function}.Arn}}" in json.dumps(template["Resources"]["RestAPI"])


def test_every_function_has_the_tables_and_the_sender_in_its_environment(template: Json, transformed: Json) -> None:
    functions = dict(_of_type(template, "AWS::Serverless::Function"))
    assert {"APIHandler", "TicketChanges"} <= set(functions)
    deployed = dict(_of_type(transformed, "AWS::Lambda::Function"))
    assert set(deployed) == set(functions)
    for function in [*functions.values(), *deployed.values()]:
        variables = function["Properties"]["Environment"]["Variables"]
        assert TABLE_REFS.items() <= variables.items()
        assert MAIL_REFS.items() <= variables.items()
        assert variables["HELPDESK_STAGE"] == "prod"  # the stage's own variables are kept


def test_every_function_builds_links_from_the_public_url_or_the_stage_url(template: Json, transformed: Json) -> None:
    """PublicUrl when given; else the stage URL, except for the API's own handler, which reads it off the request."""
    assert template["Resources"]["RestAPI"]["Properties"]["StageName"] == "api"
    assert template["Parameters"]["PublicUrl"]["Default"] == ""
    assert template["Conditions"]["HasPublicUrl"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "PublicUrl"}, ""]}]}
    kinds = ((template, "AWS::Serverless::Function"), (transformed, "AWS::Lambda::Function"))
    for packaged_template, kind in kinds:
        functions = dict(_of_type(packaged_template, kind))
        assert set(functions) == {name for name, _ in _of_type(template, "AWS::Serverless::Function")}
        for name, function in functions.items():
            variables = function["Properties"]["Environment"]["Variables"]
            if _called_by_the_api(template, name):
                assert variables["HELPDESK_PUBLIC_URL"] == {"Ref": "PublicUrl"}, name
            else:
                expected = {"Fn::If": ["HasPublicUrl", {"Ref": "PublicUrl"}, STAGE_URL]}
                assert variables["HELPDESK_PUBLIC_URL"] == expected, name
    assert _called_by_the_api(template, "APIHandler")
    assert not _called_by_the_api(template, "TicketChanges")
    assert template["Outputs"]["PublicURL"] == {"Value": {"Fn::If": ["HasPublicUrl", {"Ref": "PublicUrl"}, STAGE_URL]}}
    endpoint = template["Outputs"]["EndpointURL"]["Value"]["Fn::Sub"]
    assert endpoint == STAGE_URL["Fn::Sub"] + "/"  # the same URL Chalice reports


def _expression(schedule: str | ScheduleExpression) -> str:
    return schedule if isinstance(schedule, str) else schedule.to_string()


def test_every_schedule_of_the_app_is_a_function_with_its_rate(template: Json, transformed: Json) -> None:
    from app import app

    rates = {
        to_cfn_resource_name(source.name): _expression(source.schedule_expression)
        for source in app.event_sources
        if isinstance(source, ScheduledEventConfig)
    }
    scheduled = {
        name: event["Properties"]["Schedule"]
        for name, function in _of_type(template, "AWS::Serverless::Function")
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "Schedule"
    }
    assert rates
    assert scheduled == rates
    rules = {
        rule["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]: rule["Properties"]["ScheduleExpression"]
        for _, rule in _of_type(transformed, "AWS::Events::Rule")
    }
    assert rules == rates
    groups = {name for name, _ in _of_type(template, "AWS::Logs::LogGroup")}
    for name in rates:
        function = template["Resources"][name]["Properties"]
        assert function["LoggingConfig"] == {"LogGroup": {"Ref": f"{name}LogGroup"}}
        assert f"{name}LogGroup" in groups
        assert template["Resources"][f"{name}LogGroup"]["Properties"]["RetentionInDays"] == package.LOG_RETENTION_DAYS


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


def test_each_role_sends_mail_only_as_the_sender_and_through_the_configuration_set(template: Json) -> None:
    sender = {
        json.dumps({"Fn::Sub": f"{SES_ARN}:identity/${{SenderEmail}}"}),
        json.dumps({"Fn::Sub": [f"{SES_ARN}:identity/${{SenderDomain}}", {"SenderDomain": SENDER_DOMAIN}]}),
        json.dumps({"Fn::Sub": f"{SES_ARN}:configuration-set/${{MailConfigurationSet}}"}),
    }
    for role in (name for name, _ in _of_type(template, "AWS::IAM::Role")):
        grants = {
            (action.lower(), json.dumps(resource))
            for name, statement in _statements(template)
            if name == role
            for action in _as_list(statement["Action"])
            for resource in _as_list(statement["Resource"])
            if action.lower().startswith("ses:")
        }
        assert grants == {(action, resource) for action in ("ses:sendemail", "ses:sendrawemail") for resource in sender}
    assert template["Resources"]["MailConfigurationSet"]["Type"] == "AWS::SES::ConfigurationSet"


def test_no_stage_policy_uses_ses_on_anything_but_the_sender_and_the_configuration_set() -> None:
    for stage in json.loads((package.CHALICE_DIR / "config.json").read_text())["stages"]:
        for statement in package.stage_policy(stage)["Statement"]:
            if any(a.lower().startswith("ses:") for a in _as_list(statement["Action"])):
                assert "*" not in json.dumps(statement["Resource"]), stage
    refused = package.policy_problems(
        {
            "Statement": [
                {"Sid": "Anywhere", "Action": "ses:SendEmail", "Resource": "*"},
                {"Sid": "Literal", "Action": "ses:SendRawEmail", "Resource": "arn:aws:ses:us-east-1:1:identity/x.org"},
                {"Sid": "All", "Action": "ses:*", "Resource": f"{SES_ARN}:identity/${{SenderEmail}}"},
            ]
        },
        {"SenderEmail"},
    )
    assert [p.split(":")[0] for p in refused] == ["Anywhere", "Literal", "All"]


def test_bounces_complaints_and_rejects_go_to_a_topic_an_address_may_subscribe_to(template: Json) -> None:
    [(_, destination)] = _of_type(template, "AWS::SES::ConfigurationSetEventDestination")
    props = destination["Properties"]
    assert props["ConfigurationSetName"] == {"Ref": "MailConfigurationSet"}
    assert {"bounce", "complaint", "reject"} <= set(props["EventDestination"]["MatchingEventTypes"])
    assert props["EventDestination"]["Enabled"] is True
    topic = props["EventDestination"]["SnsDestination"]["TopicARN"]["Ref"]
    assert template["Resources"][topic]["Type"] == "AWS::SNS::Topic"
    # The mail events topic's own policy (the inbound mail topic has another: see test_inbound_mail_*).
    [topic_policy] = [
        p for _, p in _of_type(template, "AWS::SNS::TopicPolicy") if {"Ref": topic} in p["Properties"]["Topics"]
    ]
    [statement] = topic_policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Principal"], statement["Action"]) == ({"Service": "ses.amazonaws.com"}, "sns:Publish")
    assert topic_policy["Properties"]["Topics"] == [{"Ref": topic}]
    [(_, subscription)] = _of_type(template, "AWS::SNS::Subscription")
    assert subscription["Condition"] == "HasAlertEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": topic},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlertEmail"},
    }
    assert template["Parameters"]["AlertEmail"]["Default"] == ""
    assert template["Outputs"]["MailEventsTopicArn"] == {"Value": {"Ref": topic}}
    assert template["Outputs"]["MailConfigurationSetName"] == {"Value": {"Ref": "MailConfigurationSet"}}


def test_a_stage_that_sets_what_the_package_sets_is_refused(tmp_path: Path) -> None:
    config = json.loads((package.CHALICE_DIR / "config.json").read_text())
    config["stages"]["prod"]["environment_variables"]["HELPDESK_PUBLIC_URL"] = "https://desk.example.org"
    config.setdefault("lambda_functions", {})["sla_sweep"] = {"environment_variables": {"HELPDESK_SENDER_EMAIL": "x"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    problems = package.stage_environment_problems("prod", tmp_path)
    assert sorted(p.split(":")[0] for p in problems) == [
        "config.json, function sla_sweep sets HELPDESK_SENDER_EMAIL",
        "stage prod sets HELPDESK_PUBLIC_URL",
    ]
    assert package.stage_environment_problems("prod") == []
    assert package.stage_environment_problems("dev") == []


# Run as `python -I -S -c PROBE <bundle> <runtime>`: no site-packages, no PYTHONPATH, no current directory; the
# stdlib, the unpacked bundle and the runtime's libraries are all there is, as in Lambda (/var/task, /var/runtime).
PROBE = """
import json, os, sys, sysconfig
bundle, runtime = sys.argv[1:3]
sys.path[:0] = [bundle, runtime]
os.environ.update(AWS_DEFAULT_REGION="us-east-1", HELPDESK_SENDER_EMAIL="desk@example.org")
import app
from chalicelib.adapters import dynamo, records
from chalicelib.web import assets, pages
records.bind_tables("t", "d", "e", "us-east-1")
css = assets.asset_path("desk.css")
event = {
    "httpMethod": "GET", "path": css, "headers": {"accept": "text/css"}, "multiValueQueryStringParameters": None,
    "pathParameters": {"name": css.rsplit("/", 1)[1]}, "stageVariables": None, "body": None, "isBase64Encoded": False,
    "requestContext": {"httpMethod": "GET", "resourcePath": "/static/{name}", "path": css, "stage": "api"},
}
answer = app.app(event, None)
html = pages.render("message.html", base="", title="T <&>", message="m", back=None)
stdlib = {sysconfig.get_path(n) for n in ("stdlib", "platstdlib")} | {p for p in sys.path if p.endswith(".zip")}
places = {"bundle": bundle, "runtime": runtime, **{f"stdlib {p}": p for p in stdlib}}
where = {}
for name, module in sorted(sys.modules.items()):
    path = getattr(module, "__file__", None)
    if path:
        where[name] = next((k for k, p in places.items() if path.startswith(p + os.sep)), path)
print(json.dumps({
    "routes": sorted(app.app.routes), "status": answer["statusCode"], "escaped": "T &lt;&amp;&gt;" in html,
    "where": where, "site": [p for p in sys.path if "site-packages" in p],
}))
"""


@pytest.fixture(scope="module")
def unpacked(packaged: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(packaged / "deployment.zip") as archive:
        archive.extractall(folder)
    return folder


def _distribution_closure(names: list[str]) -> set[str]:
    """Installed distributions the named ones need, with their own dependencies (markers evaluated here)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = bundle.normalise(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_the_bundle_is_at_most_2_mb_and_leaves_out_only_what_the_runtime_has(packaged: Path) -> None:
    zipped = packaged / "deployment.zip"
    assert zipped.stat().st_size <= bundle.LIMIT_BYTES == 4608 * 1024  # 4.5 MiB since the holidays library
    pinned = [
        Requirement(line).name
        for line in (package.ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = _distribution_closure(pinned)
    assert "botocore" in needed  # pynamodb's: what made the bundle 18 MB
    with zipfile.ZipFile(zipped) as archive:
        names = set(archive.namelist())
        kept = {d.name for d in bundle.distributions(archive)}
    assert kept == needed - bundle.RUNTIME_DISTRIBUTIONS
    for distribution in kept:
        files = importlib.metadata.files(distribution) or []
        modules = {str(f) for f in files if f.suffix == ".py" and ".." not in f.parts}
        assert modules, distribution
        assert modules <= names, f"{distribution}: {sorted(modules - names)[:5]} stripped"
    assert {"app.py", "chalice/app.py", "chalicelib/web/http.py", "chalicelib/templates/message.html"} <= names
    assert not {n for n in names if n.split("/")[0].removesuffix(".py") in bundle.RUNTIME_IMPORT_NAMES}


def test_the_app_runs_from_the_bundle_with_only_the_runtimes_libraries(unpacked: Path, tmp_path: Path) -> None:
    """No chalice, jinja2 or pynamodb from the venv: the bundle's own; boto3 and botocore as Lambda has them."""
    site_packages = Path(str(importlib.metadata.distribution("botocore").locate_file("")))
    runtime = bundle.runtime_stand_in(site_packages, tmp_path / "runtime")
    env = {"PATH": os.environ.get("PATH", ""), "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, str(unpacked), str(runtime)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    from app import app

    assert found["routes"] == sorted(app.routes)
    assert (found["status"], found["escaped"], found["site"]) == (200, True, [])
    where = found["where"]
    for name in ("app", "chalice", "chalice.app", "chalicelib.web.http", "pynamodb.models", "jinja2", "markupsafe"):
        assert where[name] == "bundle", name
    for name in ("botocore", "botocore.session", "dateutil", "urllib3", "jmespath"):
        assert where[name] == "runtime", name
    assert {place.split(" ")[0] for place in where.values()} <= {"bundle", "runtime", "stdlib"}


def test_stripping_is_deterministic_and_leaves_a_stripped_bundle_as_it_is(packaged: Path, tmp_path: Path) -> None:
    zipped = packaged / "deployment.zip"
    again = bundle.strip_bundle(zipped, tmp_path / "again.zip")
    assert (again.removed, (tmp_path / "again.zip").read_bytes()) == ((), zipped.read_bytes())
    with zipfile.ZipFile(zipped) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert {i.date_time for i in infos} == {bundle.FIXED_TIME}
        source = archive.read("chalicelib/web/http.py")
        pyc = archive.read(f"chalicelib/web/__pycache__/http.{sys.implementation.cache_tag}.pyc")
    # PEP 552: magic, flags (hash-based, unchecked), the source's hash: valid however unzipping sets timestamps.
    assert pyc[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(pyc[4:8], "little") == 1
    assert pyc[8:16] == importlib.util.source_hash(source)


def test_a_distribution_without_a_record_of_its_files_is_not_stripped_blindly(tmp_path: Path) -> None:
    source = tmp_path / "bundle.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("botocore/__init__.py", "")
        archive.writestr("botocore-1.0.dist-info/METADATA", "Name: botocore\nVersion: 1.0\n")
    with pytest.raises(bundle.BundleError, match="no RECORD"):
        bundle.strip_bundle(source, tmp_path / "out.zip")


def _gateway_responses(template: Json) -> Json:
    responses: Json = template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    return responses


def test_an_unknown_path_answers_the_desks_404_and_echoes_nothing(template: Json, transformed: Json) -> None:
    responses = _gateway_responses(template)
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["StatusCode"] == "404"
    body = json.loads(missing["ResponseTemplates"]["application/json"])
    assert body == error_body(gateway.UNKNOWN_ROUTE)
    assert body["error"]["code"] == "not_found"
    for response in responses.values():
        # A template may substitute $context and $input values, a header may take the request's: none here does.
        assert "$" not in json.dumps(response["ResponseTemplates"])
        assert all(v.startswith("'") and v.endswith("'") for v in response["ResponseParameters"]["Headers"].values())
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/json; charset=utf-8'"
        [text] = response["ResponseTemplates"].values()
        assert set(json.loads(text)) == {"error"}
        assert {"code", "message"} <= set(json.loads(text)["error"])
    [api] = [r for _, r in _of_type(transformed, "AWS::ApiGateway::RestApi")]
    deployed = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert deployed["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    assert deployed["THROTTLED"]["responseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"


def test_api_gateways_own_errors_are_the_desks_shape(template: Json) -> None:
    responses = _gateway_responses(template)
    throttled = responses["THROTTLED"]
    assert throttled["StatusCode"] == "429"
    assert json.loads(throttled["ResponseTemplates"]["application/json"]) == error_response_body(gateway.THROTTLED)
    assert throttled["ResponseParameters"]["Headers"]["Retry-After"] == f"'{gateway.RETRY_AFTER_SECONDS}'"
    assert "StatusCode" not in responses["DEFAULT_4XX"]  # API Gateway's own 4xx status is kept
    assert "StatusCode" not in responses["DEFAULT_5XX"]

    def failing(request: Request) -> Response:
        raise RuntimeError("boom")

    request = Request(
        {
            "headers": {},
            "multiValueQueryStringParameters": None,
            "pathParameters": None,
            "requestContext": {"httpMethod": "GET", "resourcePath": "/"},
            "stageVariables": None,
            "body": None,
            "isBase64Encoded": False,
        }
    )
    unexpected = handled(failing)(request)
    assert json.loads(responses["DEFAULT_5XX"]["ResponseTemplates"]["application/json"]) == json.loads(unexpected.body)


def error_response_body(error: HelpdeskError) -> Json:
    body: Json = json.loads(error_response(error).body)
    return body


def test_the_stage_is_throttled_and_the_anonymous_mail_routes_more(template: Json, transformed: Json) -> None:
    defaults = {name: template["Parameters"][name]["Default"] for name in gateway.stage_parameters()}
    assert defaults == {
        "ThrottleRateLimit": 20,
        "ThrottleBurstLimit": 40,
        "AnonymousPostRateLimit": 2,
        "AnonymousPostBurstLimit": 10,
    }
    [(_, stage)] = _of_type(transformed, "AWS::ApiGateway::Stage")
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in stage["Properties"]["MethodSettings"]}
    assert settings[("/*", "*")]["ThrottlingRateLimit"] == {"Ref": "ThrottleRateLimit"}
    assert settings[("/*", "*")]["ThrottlingBurstLimit"] == {"Ref": "ThrottleBurstLimit"}
    from app import app

    anonymous = {("/" + path.replace("/", "~1"), "POST") for path in gateway.ANONYMOUS_POSTS}
    assert anonymous == set(settings) - {("/*", "*")}
    for path in gateway.ANONYMOUS_POSTS:
        assert "POST" in app.routes[path], path
        assert settings[(gateway.resource_path(path), "POST")]["ThrottlingRateLimit"] == {
            "Ref": "AnonymousPostRateLimit"
        }


def test_a_limit_on_a_route_that_is_gone_is_refused() -> None:
    with pytest.raises(gateway.GatewayError, match="/console/sign-in"):
        gateway.method_settings({"paths": {p: {"post": {}} for p in gateway.ANONYMOUS_POSTS if "sign-in" not in p}})


def test_raw_mail_lands_in_an_encrypted_private_bucket_that_forgets_it_in_time(template: Json) -> None:
    bucket = template["Resources"]["RawMailBucket"]
    props = bucket["Properties"]
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    [lifecycle] = props["LifecycleConfiguration"]["Rules"]
    assert (lifecycle["Status"], lifecycle["Prefix"]) == ("Enabled", "inbound/")
    assert lifecycle["ExpirationInDays"] == {"Ref": "RawMailRetentionDays"}
    assert template["Outputs"]["RawMailBucketName"] == {"Value": {"Ref": "RawMailBucket"}}


def test_ses_may_write_the_bucket_and_publish_the_topic_only_for_this_accounts_rule(template: Json) -> None:
    rule_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:receipt-rule-set/${InboundRuleSet}"
        ":receipt-rule/*"
    }
    condition = {
        "StringEquals": {"AWS:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"AWS:SourceArn": rule_arn},
    }
    bucket_policy = template["Resources"]["RawMailBucketPolicy"]["Properties"]
    [allow] = [s for s in bucket_policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert bucket_policy["Bucket"] == {"Ref": "RawMailBucket"}
    assert (allow["Principal"], allow["Action"], allow["Condition"]) == (
        {"Service": "ses.amazonaws.com"},
        "s3:PutObject",
        condition,
    )
    assert allow["Resource"] == {"Fn::Sub": "${RawMailBucket.Arn}/inbound/*"}
    topic_policy = template["Resources"]["InboundMailTopicPolicy"]["Properties"]
    [publish] = topic_policy["PolicyDocument"]["Statement"]
    assert topic_policy["Topics"] == [{"Ref": "InboundMailTopic"}]
    assert (publish["Action"], publish["Condition"]) == ("sns:Publish", condition)


def test_the_receipt_rule_scans_requires_tls_and_stores_then_notifies_in_one_action(template: Json) -> None:
    receipt = template["Resources"]["InboundRule"]
    rule = receipt["Properties"]["Rule"]
    assert receipt["Properties"]["RuleSetName"] == {"Ref": "InboundRuleSet"}
    assert template["Resources"]["InboundRuleSet"]["Type"] == "AWS::SES::ReceiptRuleSet"
    assert (rule["Enabled"], rule["ScanEnabled"], rule["TlsPolicy"]) == (True, True, "Require")
    assert rule["Recipients"] == [{"Ref": "InboundAddress"}]
    assert rule["Actions"] == [
        {
            "S3Action": {
                "BucketName": {"Ref": "RawMailBucket"},
                "ObjectKeyPrefix": "inbound/",
                "TopicArn": {"Ref": "InboundMailTopic"},
            }
        }
    ]
    assert set(receipt["DependsOn"]) == {"RawMailBucketPolicy", "InboundMailTopicPolicy"}
    # the prod stage sets no address: mail in is off until the deployer gives one (MX records first)
    assert template["Parameters"]["InboundAddress"]["Default"] == ""
    assert template["Conditions"]["ReceivesMail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "InboundAddress"}, ""]}]}
    for name in ("InboundRuleSet", "InboundRule", "RawMailBucketPolicy", "InboundMailTopicPolicy"):
        assert template["Resources"][name]["Condition"] == "ReceivesMail", name
    assert template["Outputs"]["InboundRuleSetName"] == {
        "Condition": "ReceivesMail",
        "Value": {"Ref": "InboundRuleSet"},
    }


# The functions that read the raw mail SES stores: inbound_mail, and the API handler ("Original message"); the API
# handler and stale_sweep also delete an erased ticket's messages (a requester's erasure, retention).
RAW_MAIL_FUNCTIONS = {"InboundMail", "APIHandler", "StaleSweep"}
RAW_MAIL_ROLES = ["ApiHandlerRole", "InboundMailRole", "StaleSweepRole"]


def test_only_the_inbound_function_and_the_api_handler_read_raw_mail_and_only_under_the_prefix(
    template: Json, transformed: Json
) -> None:
    """The inbound function reads each message SES stores; the API handler serves the "Original message" download."""
    function = template["Resources"]["InboundMail"]["Properties"]
    [event] = function["Events"].values()
    assert (event["Type"], event["Properties"]["Topic"]) == ("SNS", {"Ref": "InboundMailTopic"})
    assert function["Environment"]["Variables"]["HELPDESK_INBOUND_ADDRESS"] == {"Ref": "InboundAddress"}
    assert set(package.RAW_MAIL_FUNCTIONS) == RAW_MAIL_FUNCTIONS
    for packaged_template, kind in ((template, "AWS::Serverless::Function"), (transformed, "AWS::Lambda::Function")):
        functions = dict(_of_type(packaged_template, kind))
        for name in RAW_MAIL_FUNCTIONS:
            variables = functions[name]["Properties"]["Environment"]["Variables"]
            assert variables["HELPDESK_RAW_MAIL_BUCKET"] == {"Ref": "RawMailBucket"}, name
            assert variables["HELPDESK_RAW_MAIL_PREFIX"] == "inbound/", name  # RawMailSettings.from_env's prefix
    s3_grants = [
        (name, s)
        for name, p in _of_type(transformed, "AWS::IAM::Policy")
        for s in _as_list(p["Properties"]["PolicyDocument"]["Statement"])
    ] + [(name, s) for name, s in _statements(transformed) if "s3:" in json.dumps(s.get("Action"))]
    # The attachments' grant is the only other S3 one (test_only_the_functions_that_touch_files_*).
    [(name, statement)] = [(n, s) for n, s in s3_grants if "RawMailBucket" in json.dumps(s)]
    roles = transformed["Resources"][name]["Properties"]["Roles"]
    assert sorted(r["Ref"] for r in roles) == RAW_MAIL_ROLES
    assert {_role_of(template, f) for f in RAW_MAIL_FUNCTIONS} == set(RAW_MAIL_ROLES)
    assert (statement["Action"], statement["Resource"]) == (
        ["s3:GetObject", "s3:DeleteObject"],
        {"Fn::Sub": "${RawMailBucket.Arn}/inbound/*"},
    )
    # As unconditional as the bucket: messages stored before mail in was turned off can still be downloaded.
    assert "Condition" not in template["Resources"]["RawMailBucket"]
    assert "Condition" not in transformed["Resources"][name]
    [subscription] = [
        r for _, r in _of_type(transformed, "AWS::SNS::Subscription") if r["Properties"]["Protocol"] == "lambda"
    ]
    assert subscription["Properties"]["TopicArn"] == {"Ref": "InboundMailTopic"}


def test_a_stage_inbound_address_is_the_parameters_default_not_a_refused_variable() -> None:
    assert "HELPDESK_INBOUND_ADDRESS" not in package.PACKAGED_VARIABLES
    assert package.stage_environment_problems("prod") == []
    overlay_address = package.inbound_address(
        {
            "Resources": {
                "InboundMail": {"Properties": {"Environment": {"Variables": {"HELPDESK_INBOUND_ADDRESS": "a@b.org"}}}}
            }
        }
    )
    assert overlay_address == "a@b.org"


# Files on tickets (DESIGN.md §7): the functions that store, read and delete them, and the bucket that keeps them.
ATTACHMENT_FUNCTIONS = {"APIHandler", "InboundMail", "TicketChanges", "OutboxRetry", "StaleSweep"}
ATTACHMENT_OBJECTS = {"Fn::Sub": "${AttachmentsBucket.Arn}/attachments/*"}
RAW_MAIL_OBJECTS = {"Fn::Sub": "${RawMailBucket.Arn}/inbound/*"}
FILE_ACTIONS = ("s3:PutObject", "s3:GetObject", "s3:DeleteObject")


def _role_of(template: Json, function: str) -> str:
    role: str = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return role


def _s3_grants(template: Json) -> set[tuple[str, str, str]]:
    """(role, action, resource) for every S3 action any IAM statement of the template allows."""
    found = [({name}, s) for name, s in _statements(template)]
    found += [
        ({ref["Ref"] for ref in policy["Properties"]["Roles"]}, s)
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for _, policy in _of_type(template, kind)
        for s in _as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    ]
    return {
        (role, action, json.dumps(resource))
        for roles, statement in found
        if statement["Effect"] == "Allow"
        for action in _as_list(statement.get("Action", statement.get("NotAction")))
        if action == "*" or action.lower().startswith("s3:")
        for resource in _as_list(statement.get("Resource", statement.get("NotResource")))
        for role in roles
    }


def test_only_the_functions_that_touch_files_are_given_the_attachments_bucket(
    template: Json, transformed: Json, tmp_path: Path
) -> None:
    assert set(package.ATTACHMENT_FUNCTIONS) == ATTACHMENT_FUNCTIONS
    for packaged_template, kind in ((template, "AWS::Serverless::Function"), (transformed, "AWS::Lambda::Function")):
        functions = dict(_of_type(packaged_template, kind))
        assert set(functions) > ATTACHMENT_FUNCTIONS
        for name, function in functions.items():
            variables = function["Properties"]["Environment"]["Variables"]
            if name in ATTACHMENT_FUNCTIONS:
                assert variables["HELPDESK_ATTACHMENTS_BUCKET"] == {"Ref": "AttachmentsBucket"}, name
            else:
                assert "HELPDESK_ATTACHMENTS_BUCKET" not in variables, name
    assert template["Outputs"]["AttachmentsBucketName"] == {"Value": {"Ref": "AttachmentsBucket"}}
    config = json.loads((package.CHALICE_DIR / "config.json").read_text())
    config["stages"]["prod"]["environment_variables"]["HELPDESK_ATTACHMENTS_BUCKET"] = "some-bucket"
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert [p.split(":")[0] for p in package.stage_environment_problems("prod", tmp_path)] == [
        "stage prod sets HELPDESK_ATTACHMENTS_BUCKET"
    ]


def test_the_files_functions_may_store_read_and_delete_files_and_s3_grants_nothing_else(
    template: Json, transformed: Json
) -> None:
    """No listing, no key outside attachments/, no whole bucket, no other function; raw mail is only read."""
    roles = {_role_of(template, name) for name in ATTACHMENT_FUNCTIONS}
    assert len(roles) == len(ATTACHMENT_FUNCTIONS)  # each its own: a shared role would give its other functions files
    expected = {
        (role, action, json.dumps(RAW_MAIL_OBJECTS))
        for role in RAW_MAIL_ROLES
        for action in ("s3:GetObject", "s3:DeleteObject")
    } | {(role, action, json.dumps(ATTACHMENT_OBJECTS)) for role in roles for action in FILE_ACTIONS}
    for packaged_template in (template, transformed):
        assert _s3_grants(packaged_template) == expected
    policy = transformed["Resources"]["AttachmentsAccessPolicy"]["Properties"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert set(statement) == {"Sid", "Effect", "Action", "Resource"}  # no condition to widen or narrow it
    assert package.template_problems(template) == []


def _attachments_policy(template: Json) -> Json:
    properties: Json = template["Resources"]["AttachmentsAccessPolicy"]["Properties"]
    return properties


def _attachments_statement(template: Json) -> Json:
    statement: Json = _attachments_policy(template)["PolicyDocument"]["Statement"][0]
    return statement


def _bucket_statements(template: Json) -> list[Json]:
    statements: list[Json] = template["Resources"]["AttachmentsBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    return statements


def _role_statements(template: Json, role: str) -> list[Json]:
    statements: list[Json] = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    return statements


BROADER_FILE_GRANTS: dict[str, Callable[[Json], object]] = {
    "every key of the bucket": lambda t: _attachments_statement(t).update(
        Resource={"Fn::Sub": "${AttachmentsBucket.Arn}/*"}
    ),
    "the bucket itself": lambda t: _attachments_statement(t).update(
        Resource=[ATTACHMENT_OBJECTS, {"Fn::GetAtt": ["AttachmentsBucket", "Arn"]}]
    ),
    "any bucket": lambda t: _attachments_statement(t).update(Resource="*"),
    "listing": lambda t: _attachments_statement(t)["Action"].append("s3:ListBucket"),
    "every S3 action": lambda t: _attachments_statement(t).update(Action="s3:*"),
    "a wildcard action": lambda t: _attachments_statement(t).update(Action=["s3:Get*", "s3:PutObject"]),
    "all but one action": lambda t: _attachments_statement(t).update(NotAction="s3:DeleteBucket"),
    "a function that has no use for files": lambda t: _attachments_policy(t)["Roles"].append({"Ref": "SlaSweepRole"}),
    "one of the files' functions less": lambda t: _attachments_policy(t)["Roles"].pop(),
    "a role of its own": lambda t: _role_statements(t, "SlaSweepRole").append(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ATTACHMENT_OBJECTS}
    ),
    "a function sharing a files' function's role": lambda t: t["Resources"]["SlaSweep"]["Properties"].update(
        Role={"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}
    ),
    "anyone, by the bucket policy": lambda t: _bucket_statements(t).append(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": ATTACHMENT_OBJECTS}
    ),
    "the bucket policy only under a condition": lambda t: t["Resources"]["AttachmentsBucketPolicy"].update(
        Condition="ReceivesMail"
    ),
    "plain HTTP (no TLS-only policy)": lambda t: t["Resources"].pop("AttachmentsBucketPolicy"),
    "the bucket name to another function": lambda t: t["Resources"]["SlaSweep"]["Properties"]["Environment"][
        "Variables"
    ].update(HELPDESK_ATTACHMENTS_BUCKET={"Ref": "AttachmentsBucket"}),
}


def test_a_written_policy_that_grants_s3_is_refused() -> None:
    """The stage's policy goes to every function's role: files and raw mail are for some functions only."""
    files = {"Sid": "Files", "Action": "s3:GetObject", "Resource": "${AttachmentsBucket.Arn}/attachments/*"}
    refused = package.policy_problems({"Statement": [files]}, {"AttachmentsBucket"})
    assert [p.split(":")[0] for p in refused] == ["Files"]


@pytest.mark.parametrize("broader", list(BROADER_FILE_GRANTS))
def test_a_template_that_grants_more_on_the_files_is_not_deployable(template: Json, broader: str) -> None:
    changed = copy.deepcopy(template)
    BROADER_FILE_GRANTS[broader](changed)
    problems = package.template_problems(changed)
    assert problems != [], broader
    assert "attachment" in " ".join(problems).lower(), problems


def _raw_mail_policy(template: Json) -> Json:
    properties: Json = template["Resources"]["RawMailReadPolicy"]["Properties"]
    return properties


def test_a_fourth_role_that_reads_raw_mail_is_refused(template: Json) -> None:
    changed = copy.deepcopy(template)
    _raw_mail_policy(changed)["Roles"].append({"Ref": "SlaSweepRole"})
    refused = (
        "${RawMailBucket.Arn}/inbound/* is granted to ['ApiHandlerRole', 'InboundMailRole', 'SlaSweepRole', "
        "'StaleSweepRole'], not exactly ['ApiHandlerRole', 'InboundMailRole', 'StaleSweepRole']"
    )
    assert package.template_problems(changed) == [refused]


BROADER_RAW_MAIL_GRANTS: dict[str, Callable[[Json], object]] = {
    "a third role, by a statement of its own": lambda t: _role_statements(t, "TicketChangesRole").append(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": RAW_MAIL_OBJECTS}
    ),
    "a function sharing the API handler's role": lambda t: t["Resources"]["SlaSweep"]["Properties"].update(
        Role={"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}
    ),
    "the API handler's role less": lambda t: _raw_mail_policy(t)["Roles"].remove({"Ref": "ApiHandlerRole"}),
    "the inbound function's role less": lambda t: _raw_mail_policy(t)["Roles"].remove({"Ref": "InboundMailRole"}),
    "every key of the bucket": lambda t: _raw_mail_policy(t)["PolicyDocument"]["Statement"][0].update(
        Resource={"Fn::Sub": "${RawMailBucket.Arn}/*"}
    ),
    "more than reading and deleting": lambda t: _raw_mail_policy(t)["PolicyDocument"]["Statement"][0].update(
        Action=["s3:GetObject", "s3:DeleteObject", "s3:PutObject"]
    ),
}


@pytest.mark.parametrize("broader", list(BROADER_RAW_MAIL_GRANTS))
def test_a_template_that_grants_the_raw_mail_to_other_roles_or_more_is_not_deployable(
    template: Json, broader: str
) -> None:
    changed = copy.deepcopy(template)
    BROADER_RAW_MAIL_GRANTS[broader](changed)
    problems = package.template_problems(changed)
    assert problems != [], broader
    assert re.search("raw ?mail", " ".join(problems), re.IGNORECASE), problems


def test_the_attachments_bucket_refuses_plain_http_as_the_raw_mail_bucket_does(
    template: Json, transformed: Json
) -> None:
    [(name, policy)] = [
        (n, p)
        for n, p in _of_type(template, "AWS::S3::BucketPolicy")
        if p["Properties"]["Bucket"] == {"Ref": "AttachmentsBucket"}
    ]
    assert "Condition" not in policy  # in force whatever else the stack is given (no mail in, no upload origin)
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]  # it refuses; it grants nobody anything
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "s3:*")
    assert statement["Resource"] == [
        {"Fn::GetAtt": ["AttachmentsBucket", "Arn"]},
        {"Fn::Sub": "${AttachmentsBucket.Arn}/*"},
    ]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    raw_mail = template["Resources"]["RawMailBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [raw_tls] = [s for s in raw_mail if s["Effect"] == "Deny"]
    assert json.loads(json.dumps(raw_tls).replace("RawMailBucket", "AttachmentsBucket")) == statement
    assert transformed["Resources"][name] == policy


def test_the_attachments_bucket_aborts_unfinished_uploads_and_never_expires_a_file(template: Json) -> None:
    """A file is kept until its ticket's data is erased: nothing in S3 deletes it on a timer, and a delete leaves no
    older version behind."""
    bucket = template["Resources"]["AttachmentsBucket"]
    props = bucket["Properties"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert (rule["Status"], rule["Prefix"]) == ("Enabled", "attachments/")
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert set(rule) == {"Id", "Status", "Prefix", "AbortIncompleteMultipartUpload"}
    assert "VersioningConfiguration" not in props
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    expiring = copy.deepcopy(template)
    rules = expiring["Resources"]["AttachmentsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    rules.append({"Id": "Tidy", "Status": "Enabled", "Prefix": "attachments/", "ExpirationInDays": 365})
    assert package.template_problems(expiring) == ["AttachmentsBucket: lifecycle rule 'Tidy' sets ExpirationInDays"]


def test_browsers_at_the_upload_origin_alone_may_post_files_straight_to_the_bucket(template: Json) -> None:
    parameter = template["Parameters"]["AttachmentUploadOrigin"]
    assert (parameter["Type"], parameter["Default"]) == ("String", "")
    pattern = re.compile(parameter["AllowedPattern"])
    assert all(pattern.fullmatch(o) for o in ("", "https://desk.example.org", "http://127.0.0.1:8000"))
    assert not any(pattern.fullmatch(o) for o in ("*", "https://*.example.org", "https://desk.example.org/console"))
    has_origin = {"Fn::Not": [{"Fn::Equals": [{"Ref": "AttachmentUploadOrigin"}, ""]}]}
    cors = template["Resources"]["AttachmentsBucket"]["Properties"]["CorsConfiguration"]
    condition, when_set, when_empty = cors["Fn::If"]
    assert template["Conditions"][condition] == has_origin
    assert when_empty == {"Ref": "AWS::NoValue"}  # no origin: no CORS rule at all
    [rule] = when_set["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    assert rule["AllowedOrigins"] == [{"Ref": "AttachmentUploadOrigin"}]
    # A presigned POST carries its key, policy and signature as form fields: no header but the form's type.
    assert rule["AllowedHeaders"] == ["Content-Type"]
    assert rule["MaxAge"] == 3000
    assert set(rule) == {"Id", "AllowedMethods", "AllowedOrigins", "AllowedHeaders", "MaxAge"}


# What IAM checks for each S3 call (HeadObject, a presigned POST's upload and a presigned GET need these too).
S3_PERMISSIONS = {
    "PutObject": "s3:PutObject",
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject",
}


def test_the_grant_covers_every_call_the_attachment_store_makes_and_only_under_its_prefix(aws: dict[str, str]) -> None:
    from chalicelib.adapters.attachment_store import AttachmentStoreSettings, S3AttachmentStore

    store = S3AttachmentStore(AttachmentStoreSettings(bucket=aws["AttachmentsBucketName"]))
    calls: list[tuple[str, str]] = []

    def record(model: Any, params: Json, **_: Any) -> None:  # each request sent (presigning sends none)
        calls.append((model.name, params["url_path"]))

    store.client.meta.events.register("before-call.s3", record)
    ticket, file = "01HZTICKET", "01HZFILE"
    store.put(ticket, file, b"hello", "text/plain")
    assert store.verify(ticket, file, 100) == (5, b"hello")
    assert store.sha256(ticket, file, 100)[0] == 5
    assert b"".join(store.open(ticket, file)) == b"hello"
    post = store.presigned_post(ticket, file, 100, 60)
    link = store.presigned_get(
        ticket,
        file,
        {"Content-Type": "text/plain", "Content-Disposition": "attachment", "Cache-Control": "no-store"},
        60,
    )
    store.delete(ticket, file)
    key = f"attachments/{ticket}/{file}"
    assert {name for name, _ in calls} <= set(S3_PERMISSIONS)
    assert {S3_PERMISSIONS[name] for name, _ in calls} == set(FILE_ACTIONS)
    assert {path.removeprefix("/") for _, path in calls} == {key}  # the bucket is in the host name
    # The browser's upload (a presigned POST is a PutObject) and download (a GetObject) name that key alone,
    # over TLS, which the bucket policy requires of every request.
    assert post["fields"]["key"] == key
    assert urlsplit(link).path.removeprefix("/") == key
    assert post["url"].startswith("https://")
    assert link.startswith("https://")


def test_browsers_get_a_files_bytes_whatever_they_accept_first(template: Json, transformed: Json) -> None:
    """API Gateway decodes a base64 answer only when the first Accept type is binary; `*/*` makes every type so."""
    from app import app

    definition = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    types = definition["x-amazon-apigateway-binary-media-types"]
    assert types == list(dict.fromkeys([*app.api.binary_types, "*/*"]))
    assert "*/*" not in app.api.binary_types  # the app still base64-encodes only the answers that are bytes
    [(_, api)] = _of_type(transformed, "AWS::ApiGateway::RestApi")
    assert api["Properties"]["Body"]["x-amazon-apigateway-binary-media-types"] == types
    assert set(api["Properties"]["Body"]["paths"]) == set(app.routes)  # the merge kept every route
    integrations = [
        operation["x-amazon-apigateway-integration"]
        for methods in api["Properties"]["Body"]["paths"].values()
        for operation in methods.values()
    ]
    # A mock integration (a CORS preflight) fails under */* unless it converts to text (aws/chalice#1310).
    assert all(i["contentHandling"] == "CONVERT_TO_TEXT" for i in integrations)


def test_a_preflight_that_would_break_under_any_media_type_is_refused() -> None:
    preflight = {"x-amazon-apigateway-integration": {"type": "mock", "requestTemplates": {}}}
    definition = {"paths": {"/tickets": {"options": preflight}}, "x-amazon-apigateway-binary-media-types": ["a/b"]}
    with pytest.raises(gateway.GatewayError, match="OPTIONS /tickets"):
        gateway.binary_media_types(definition)
    preflight["x-amazon-apigateway-integration"]["contentHandling"] = "CONVERT_TO_TEXT"
    assert gateway.binary_media_types(definition) == ["a/b", "*/*"]


def _gateway_event(content_type: str, body: bytes, encoded: bool) -> Json:
    """POST /tickets as API Gateway hands it to the Lambda: under `*/*`, every body base64-encoded."""
    return {
        "resource": "/tickets",
        "path": "/tickets",
        "httpMethod": "POST",
        "headers": {"content-type": content_type, "accept": "application/json", "host": "desk.example.org"},
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "httpMethod": "POST",
            "resourcePath": "/tickets",
            "path": "/api/tickets",
            "stage": "api",
            "identity": {"sourceIp": "192.0.2.7"},
        },
        "body": base64.b64encode(body).decode("ascii") if encoded else body.decode("utf-8"),
        "isBase64Encoded": encoded,
    }


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps({"subject": "", "requester_email": "ada@example.org"}).encode()),
        ("application/x-www-form-urlencoded", b"subject=&requester_email=ada%40example.org"),
    ],
)
def test_a_base64_encoded_body_is_read_as_the_same_body(aws: dict[str, str], content_type: str, body: bytes) -> None:
    """The views read bodies only through Request.raw_body, which decodes what API Gateway encoded."""
    from app import app

    plain = app(_gateway_event(content_type, body, encoded=False), None)
    encoded = app(_gateway_event(content_type, body, encoded=True), None)
    assert plain["statusCode"] == 422  # read and refused on its fields: not a malformed body (400)
    assert (encoded["statusCode"], encoded.get("isBase64Encoded", False)) == (plain["statusCode"], False)
    # The same answer: for the form, its page shows the address again (not decoded, there would be none); the
    # page carries a fresh anti-forgery token each time.
    assert _without_tokens(encoded["body"]) == _without_tokens(plain["body"])


def _without_tokens(body: str) -> str:
    return re.sub(r'value="[A-Za-z0-9_-]{20,}"', 'value=""', body)
