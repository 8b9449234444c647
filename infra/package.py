"""Package the desk for CloudFormation: Chalice's SAM template merged with infra/template.json and the deploy wiring."""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from chalicelib.adapters.settings import STREAM_PLACEHOLDER

Json = dict[str, Any]

ROOT = Path(__file__).resolve().parents[1]
INFRA_TEMPLATE = Path(__file__).with_name("template.json")
CHALICE_DIR = ROOT / ".chalice"

FUNCTION = "AWS::Serverless::Function"
ROLE = "AWS::IAM::Role"
# What every Lambda function of the package is given, next to its stage's variables from .chalice/config.json.
FUNCTION_ENVIRONMENT: Json = {
    "HELPDESK_TICKETS_TABLE": {"Ref": "TicketsTable"},
    "HELPDESK_DESK_TABLE": {"Ref": "DeskTable"},
    "HELPDESK_EVENTS_TABLE": {"Ref": "EventsTable"},
    "HELPDESK_TICKETS_STREAM_ARN": {"Fn::GetAtt": ["TicketsTable", "StreamArn"]},
}
LOG_RETENTION_DAYS = 30
# The only stream the app reads; app.py names it STREAM_PLACEHOLDER when packaged (HELPDESK_TICKETS_STREAM_ARN unset).
STREAM_TABLE = "TicketsTable"
DEAD_LETTER_QUEUE = "StreamDeadLetterQueue"
# A record the handler keeps failing is retried alone (bisect), a bounded number of times, then its position in the
# stream goes to the dead-letter queue and the shard moves on; AWS's defaults would block the shard for 24 hours.
STREAM_FAILURE_HANDLING: Json = {
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": 5,
    "MaximumRecordAgeInSeconds": 3600,
    "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "Arn"]}}},
}
FORBIDDEN_ACTIONS = {"*", "dynamodb:*", "dynamodb:scan"}
SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


class PackagingError(Exception):
    """The app, its policy or its template cannot be packaged as they are."""


def deploy_parameters() -> Json:
    return {
        "AlarmTopicArn": {
            "Type": "String",
            "Default": "",
            "Description": "An SNS topic told when stream records land in the dead-letter queue (empty: none).",
            "AllowedPattern": "^(arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+)?$",
        }
    }


def deploy_resources() -> Json:
    """What only a deployed desk has: the stream's dead-letter queue and its alarm."""
    return {
        DEAD_LETTER_QUEUE: {
            "Type": "AWS::SQS::Queue",
            "Properties": {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True},
        },
        "StreamDeadLetterAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": "Ticket changes the stream handler gave up on wait in the dead-letter queue.",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "QueueName"]}}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]},
            },
        },
    }


def deploy_outputs() -> Json:
    return {"StreamDeadLetterQueueUrl": {"Value": {"Ref": DEAD_LETTER_QUEUE}}}


def stage_policy(stage: str, chalice_dir: Path = CHALICE_DIR) -> Json:
    """The stage's written policy (its iam_policy_file in .chalice/config.json): the actions the app needs."""
    config = json.loads((chalice_dir / "config.json").read_text())
    if stage not in config.get("stages", {}):
        raise PackagingError(f"no stage {stage!r} in {chalice_dir / 'config.json'}")
    stage_config = config["stages"][stage]
    per_function = [*config.get("lambda_functions", {}).values(), *stage_config.get("lambda_functions", {}).values()]
    if any("iam_policy_file" in settings for settings in per_function):
        raise PackagingError("a function has its own iam_policy_file: the package gives every role the stage's policy")
    name = stage_config.get("iam_policy_file") or config.get("iam_policy_file")
    if not name:
        raise PackagingError(f"stage {stage!r} has no iam_policy_file")
    document: Json = json.loads((chalice_dir / name).read_text())
    return document


def _statements(document: Json) -> list[Json]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def packaged_policy(document: Json) -> Json:
    """The written policy with each `${Resource.Attr}` resource made the Fn::Sub it reads as."""
    packaged = copy.deepcopy(document)
    for statement in _statements(packaged):
        resources = [{"Fn::Sub": r} if isinstance(r, str) and "${" in r else r for r in _as_list(statement["Resource"])]
        statement["Resource"] = resources if isinstance(statement["Resource"], list) else resources[0]
    return packaged


def policy_problems(document: Json, names: set[str]) -> list[str]:
    """What a written policy must not do: scan, wildcards on DynamoDB, or name a resource the template lacks."""
    problems = []
    for index, statement in enumerate(_statements(document)):
        where = statement.get("Sid") or f"statement {index}"
        actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
        problems += [f"{where}: grants {a}" for a in actions if a in FORBIDDEN_ACTIONS]
        for resource in _as_list(statement.get("Resource", [])):
            if not isinstance(resource, str):
                problems.append(f"{where}: resource {resource!r} is not a string")
                continue
            if any(a.startswith("dynamodb:") for a in actions) and not resource.startswith("${"):
                problems.append(f"{where}: DynamoDB resource {resource!r} is not one of the template's (${{Name.Arn}})")
            for name in SUB_NAME.findall(resource):
                if not name.startswith("AWS::") and name.split(".")[0] not in names:
                    problems.append(f"{where}: {resource!r} names {name.split('.')[0]!r}, not in the template")
    return problems


def _resources_of(template: Json, kind: str) -> Iterator[tuple[str, Json]]:
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") == kind:
            yield name, resource


def _stream_events(function: Json) -> Iterator[tuple[str, Json]]:
    for name, event in function.get("Properties", {}).get("Events", {}).items():
        if event.get("Type") == "DynamoDB":
            yield name, event


def build_overlay(chalice_template: Json, infra: Json, policy: Json) -> Json:
    """The template to merge into Chalice's: the tables, the deploy resources, and the wiring of each function."""
    resources: Json = {**copy.deepcopy(infra["Resources"]), **deploy_resources()}
    clashes = sorted(set(resources) & set(chalice_template["Resources"]))
    if clashes:
        raise PackagingError(f"Chalice's template already has {', '.join(clashes)}: rename the handler or the resource")
    parameters = {**copy.deepcopy(infra.get("Parameters", {})), **deploy_parameters()}
    conditions = {
        **copy.deepcopy(infra.get("Conditions", {})),
        "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]},
    }
    problems = policy_problems(policy, set(resources) | set(parameters))
    if problems:
        raise PackagingError("the written IAM policy cannot be packaged:\n  " + "\n  ".join(problems))

    roles = dict(_resources_of(chalice_template, ROLE))
    streams = 0
    for name, function in _resources_of(chalice_template, FUNCTION):
        role = function["Properties"].get("Role")
        if not (isinstance(role, dict) and role.get("Fn::GetAtt", [None])[0] in roles):
            raise PackagingError(f"function {name} has a role this package does not manage: {role!r}")
        log_group = f"{name}LogGroup"
        resources[log_group] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{name}"},
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        }
        properties: Json = {
            "Environment": {"Variables": copy.deepcopy(FUNCTION_ENVIRONMENT)},
            "LoggingConfig": {"LogGroup": {"Ref": log_group}},
        }
        events: Json = {}
        for event_name, event in _stream_events(function):
            if event["Properties"].get("Stream") != STREAM_PLACEHOLDER:
                raise PackagingError(f"{name}.{event_name} reads a stream this package does not know")
            stream = {"Stream": {"Fn::GetAtt": [STREAM_TABLE, "StreamArn"]}}
            events[event_name] = {"Properties": {**stream, **copy.deepcopy(STREAM_FAILURE_HANDLING)}}
            streams += 1
        if events:
            properties["Events"] = events
        resources[name] = {"Properties": properties}
    if streams == 0:
        raise PackagingError("the app has no handler on the tickets table's stream, yet the package wires one")
    for name in roles:
        policies = [{"PolicyName": f"{name}Policy", "PolicyDocument": packaged_policy(policy)}]
        resources[name] = {"Properties": {"Policies": policies}}

    overlay: Json = {
        "Description": infra.get("Description", ""),
        "Parameters": parameters,
        "Conditions": conditions,
        "Resources": resources,
        "Outputs": {**copy.deepcopy(infra.get("Outputs", {})), **deploy_outputs()},
    }
    return overlay


def _chalice_environment(environ: Mapping[str, str]) -> dict[str, str]:
    env = dict(environ)
    env.pop("HELPDESK_TICKETS_STREAM_ARN", None)  # the app then names its stream by STREAM_PLACEHOLDER
    if not env.get("AWS_DEFAULT_REGION"):
        env["AWS_DEFAULT_REGION"] = env.get("AWS_REGION") or "us-east-1"  # chalice wants one; the template has none
    return env


def chalice_package(stage: str, out: Path, merge_template: Path | None = None) -> Json:
    """Run `chalice package` (SAM, JSON) for the stage into out and return the template it wrote."""
    command = [sys.executable, "-c", "from chalice.cli import main; main()", "--project-dir", str(ROOT)]
    command += ["package", "--stage", stage]
    if merge_template is not None:
        command += ["--merge-template", str(merge_template)]
    command.append(str(out))
    done = subprocess.run(  # noqa: S603 - this interpreter's chalice, with arguments built here
        command, cwd=ROOT, env=_chalice_environment(os.environ), capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not (out / "sam.json").is_file():
        raise PackagingError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    template: Json = json.loads((out / "sam.json").read_text())
    return template


def template_problems(template: Json) -> list[str]:
    """Checks of the packaged template that hold for every deploy (the tests assert them too)."""
    problems = []
    for name, function in _resources_of(template, FUNCTION):
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        problems += [
            f"{name}: {key} is not set" for key, value in FUNCTION_ENVIRONMENT.items() if variables.get(key) != value
        ]
        for event_name, event in _stream_events(function):
            props = event["Properties"]
            if props.get("Stream") != {"Fn::GetAtt": [STREAM_TABLE, "StreamArn"]}:
                problems.append(f"{name}.{event_name}: reads {props.get('Stream')!r}")
            problems += [
                f"{name}.{event_name}: {key} is not {value!r}"
                for key, value in STREAM_FAILURE_HANDLING.items()
                if props.get(key) != value
            ]
    for name, role in _resources_of(template, ROLE):
        for policy in role["Properties"].get("Policies", []):
            for statement in _statements(policy["PolicyDocument"]):
                actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
                problems += [f"{name}: grants {a}" for a in actions if a in FORBIDDEN_ACTIONS]
                if any(a.startswith("dynamodb:") for a in actions):
                    problems += [
                        f"{name}: DynamoDB on {r!r}" for r in _as_list(statement["Resource"]) if isinstance(r, str)
                    ]
    if STREAM_PLACEHOLDER in json.dumps(template):
        problems.append("the placeholder stream ARN is still in the template")
    return problems


def package(stage: str, out: Path) -> Path:
    """Write out/sam.json (the deployable template), out/deployment.zip and out/overlay.json (what was merged)."""
    out = out.resolve()
    policy = stage_policy(stage)
    with tempfile.TemporaryDirectory(prefix="helpdesk-package-") as scratch:
        discovered = chalice_package(stage, Path(scratch) / "plain")
    overlay = build_overlay(discovered, json.loads(INFRA_TEMPLATE.read_text()), policy)
    out.mkdir(parents=True, exist_ok=True)
    overlay_file = out / "overlay.json"
    overlay_file.write_text(json.dumps(overlay, indent=2) + "\n")
    template = chalice_package(stage, out, merge_template=overlay_file)
    problems = template_problems(template)
    if problems:
        raise PackagingError("the packaged template is not deployable:\n  " + "\n  ".join(problems))
    return out / "sam.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__)
    parser.add_argument("--stage", default="dev", help="a stage of .chalice/config.json (default: dev)")
    parser.add_argument("--out", type=Path, help="the output folder (default: dist/STAGE)")
    args = parser.parse_args(argv)
    try:
        template = package(args.stage, args.out or ROOT / "dist" / args.stage)
    except PackagingError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    functions = sorted(name for name, _ in _resources_of(json.loads(template.read_text()), FUNCTION))
    sys.stdout.write(f"Packaged stage {args.stage} ({', '.join(functions)}) into {template}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
