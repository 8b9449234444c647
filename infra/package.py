"""Package the desk for CloudFormation: Chalice's SAM template merged with infra/template.json and the deploy wiring,
and Chalice's bundle without the libraries the Lambda runtime has (infra/bundle.py)."""

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

from chalicelib.adapters import attachment_store
from chalicelib.adapters.settings import STREAM_PLACEHOLDER
from infra import bundle, gateway, inbound

Json = dict[str, Any]

ROOT = Path(__file__).resolve().parents[1]
INFRA_TEMPLATE = Path(__file__).with_name("template.json")
CHALICE_DIR = ROOT / ".chalice"

FUNCTION = "AWS::Serverless::Function"
ROLE = "AWS::IAM::Role"
REST_API = "AWS::Serverless::Api"
# The mail side of a deployed desk: SES's bounce and complaint handling (configuration set -> SNS topic).
MAIL_CONFIGURATION_SET = "MailConfigurationSet"
MAIL_EVENTS_TOPIC = "MailEventsTopic"
# CloudFormation takes the SES v1 spelling of event types (lower camel case).
MAIL_EVENT_TYPES = ["bounce", "complaint", "reject", "deliveryDelay"]
# What every Lambda function of the package is given, next to its stage's variables from .chalice/config.json.
FUNCTION_ENVIRONMENT: Json = {
    "HELPDESK_TICKETS_TABLE": {"Ref": "TicketsTable"},
    "HELPDESK_DESK_TABLE": {"Ref": "DeskTable"},
    "HELPDESK_EVENTS_TABLE": {"Ref": "EventsTable"},
    "HELPDESK_TICKETS_STREAM_ARN": {"Fn::GetAtt": ["TicketsTable", "StreamArn"]},
    "HELPDESK_SENDER_EMAIL": {"Ref": "SenderEmail"},
    "HELPDESK_SES_CONFIGURATION_SET": {"Ref": MAIL_CONFIGURATION_SET},
    "HELPDESK_EVENT_BUS": {"Ref": "EventBus"},
    **inbound.function_environment(),
}
# Events out (chalicelib/services/webhooks.py): the desk's EventBridge bus, and app.py's webhook_sender, which the
# functions that record history (and so deliveries) or retry deliveries invoke without waiting. Only they are given
# its name: the API handler records none (and naming the sender, whose links name the REST API, would be a circular
# dependency), and the sender itself hands nothing on.
EVENT_BUS = "EventBus"
WEBHOOK_SENDER = "WebhookSender"
WEBHOOK_SENDER_VARIABLE = "HELPDESK_WEBHOOK_SENDER_FUNCTION"
WEBHOOK_HANDOFF_FUNCTIONS = ("TicketChanges", "StaleSweep", "SlaSweep", "SurveySender", "OutboxRetry")
# Also set on every function, to a value that depends on the function (see public_url).
PUBLIC_URL_VARIABLE = "HELPDESK_PUBLIC_URL"
# The function SES's notifications reach (app.py's `inbound_mail`), and the topic it names there.
INBOUND_FUNCTION = "InboundMail"
INBOUND_TOPIC_PLACEHOLDER = inbound.TOPIC_PLACEHOLDER
# Files on tickets, in infra/template.json's bucket (moto builds it for the tests and the local run) under the one
# prefix of their keys (chalicelib/adapters/attachment_store.py).
ATTACHMENTS_BUCKET = "AttachmentsBucket"
ATTACHMENTS_BUCKET_POLICY = "AttachmentsBucketPolicy"
ATTACHMENTS_POLICY = "AttachmentsAccessPolicy"
ATTACHMENTS_VARIABLE = "HELPDESK_ATTACHMENTS_BUCKET"
ATTACHMENTS_PREFIX = attachment_store.PREFIX
# Store a file, read it (HeadObject is GetObject's permission too), delete it: never list the bucket or touch it whole.
ATTACHMENT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
# The only functions that touch files (Chalice's logical names): the API handler (uploads, downloads, deletes),
# inbound_mail (a mail's files), ticket_changes (sends the mail that carries files), outbox_retry (sends it again) and
# stale_sweep (its retention job erases old tickets' files). Only they get the bucket's name and the grant on its files.
ATTACHMENT_FUNCTIONS = ("APIHandler", INBOUND_FUNCTION, "TicketChanges", "OutboxRetry", "StaleSweep")
# The only functions that read the raw mail SES stores (s3:GetObject under inbound.PREFIX): inbound_mail, which reads
# each message it is told of, and the API handler, which serves the console's "Original message" download.
# The API handler (a requester's erasure) and stale_sweep (retention) also delete the messages of erased tickets.
RAW_MAIL_FUNCTIONS = (INBOUND_FUNCTION, "APIHandler", "StaleSweep")
RAW_MAIL_ACTIONS = ["s3:GetObject", "s3:DeleteObject"]
# A stage may name its inbound address: it becomes the InboundAddress parameter's default (see inbound_address).
PACKAGED_VARIABLES = {
    *FUNCTION_ENVIRONMENT,
    PUBLIC_URL_VARIABLE,
    ATTACHMENTS_VARIABLE,
    WEBHOOK_SENDER_VARIABLE,
} - {inbound.ADDRESS_VARIABLE}
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
FORBIDDEN_ACTIONS = {"*", "dynamodb:*", "dynamodb:scan", "ses:*"}
SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")
# Names a written policy may use in `${...}` next to the template's resources and parameters: values the package
# computes. A desk may verify the sender's whole domain with SES instead of the address.
SUB_VARIABLES: Json = {"SenderDomain": {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "SenderEmail"}]}]}}
# The only resources SES may be used on: the sender's identities (address, domain) and the configuration set.
SES_RESOURCE = re.compile(
    r"^arn:\$\{AWS::Partition\}:ses:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
    r"(identity|configuration-set)/\$\{[A-Za-z0-9]+\}$"
)


class PackagingError(Exception):
    """The app, its policy or its template cannot be packaged as they are."""


def deploy_parameters() -> Json:
    return {
        "AlarmTopicArn": {
            "Type": "String",
            "Default": "",
            "Description": "An SNS topic told when stream records land in the dead-letter queue (empty: none).",
            "AllowedPattern": "^(arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+)?$",
        },
        "PublicUrl": {
            "Type": "String",
            "Default": "",
            "Description": "The desk's public base URL, e.g. a custom domain https://desk.example.org "
            "(empty: the API Gateway stage URL).",
            "AllowedPattern": "^(https://[^\\s/]+(/[^\\s]*)?)?$",
            "ConstraintDescription": "empty, or an https:// URL",
        },
        "AlertEmail": {
            "Type": "String",
            "Default": "",
            "Description": "An address subscribed to the mail events topic (bounces, complaints, rejects, delays); "
            "SNS mails it a confirmation link first (empty: no subscription).",
            "AllowedPattern": "^([^@\\s]+@[^@\\s]+\\.[^@\\s]+)?$",
            "ConstraintDescription": "empty, or an email address",
        },
    }


def deploy_conditions() -> Json:
    return {
        "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]},
        "HasAlertEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]},
        "HasPublicUrl": {"Fn::Not": [{"Fn::Equals": [{"Ref": "PublicUrl"}, ""]}]},
        **inbound.conditions(),
    }


def _mail_resources() -> Json:
    """SES's configuration set and where its bounce, complaint, reject and delay events go (an SNS topic)."""
    ses = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
    configuration_set_arn = f"{ses}:configuration-set/${{{MAIL_CONFIGURATION_SET}}}"
    return {
        MAIL_CONFIGURATION_SET: {
            "Type": "AWS::SES::ConfigurationSet",
            "Properties": {
                "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
                "ReputationOptions": {"ReputationMetricsEnabled": True},
            },
        },
        MAIL_EVENTS_TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "Help desk mail events"}},
        "MailEventsTopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [{"Ref": MAIL_EVENTS_TOPIC}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "SesPublishesTheDesksMailEvents",
                            "Effect": "Allow",
                            "Principal": {"Service": "ses.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": {"Ref": MAIL_EVENTS_TOPIC},
                            "Condition": {
                                "StringEquals": {"AWS:SourceAccount": {"Ref": "AWS::AccountId"}},
                                "ArnLike": {"AWS:SourceArn": {"Fn::Sub": configuration_set_arn}},
                            },
                        }
                    ],
                },
            },
        },
        "MailEventsDestination": {
            "Type": "AWS::SES::ConfigurationSetEventDestination",
            "DependsOn": "MailEventsTopicPolicy",
            "Properties": {
                "ConfigurationSetName": {"Ref": MAIL_CONFIGURATION_SET},
                "EventDestination": {
                    "Name": "mail-problems",
                    "Enabled": True,
                    "MatchingEventTypes": MAIL_EVENT_TYPES,
                    "SnsDestination": {"TopicARN": {"Ref": MAIL_EVENTS_TOPIC}},
                },
            },
        },
        "MailEventsAlertSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlertEmail",
            "Properties": {
                "TopicArn": {"Ref": MAIL_EVENTS_TOPIC},
                "Protocol": "email",
                "Endpoint": {"Ref": "AlertEmail"},
            },
        },
    }


def attachment_objects() -> Json:
    """The ARN of every attachment's key and of nothing else in the bucket."""
    return {"Fn::Sub": f"${{{ATTACHMENTS_BUCKET}.Arn}}/{ATTACHMENTS_PREFIX}*"}


def tls_only(bucket: str) -> Json:
    """A bucket policy's refusal of any request over plain HTTP (as the raw mail bucket's, infra/inbound.py)."""
    return {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [{"Fn::GetAtt": [bucket, "Arn"]}, {"Fn::Sub": f"${{{bucket}.Arn}}/*"}],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def attachment_resources(roles: list[str]) -> Json:
    """The attachments bucket's policy (TLS only, granting nothing) and the one grant on the files, to `roles`.

    A separate policy rather than the stage's written one: that one goes to every role, and the files are only for
    ATTACHMENT_FUNCTIONS (as the raw mail is only for RAW_MAIL_FUNCTIONS).
    """
    return {
        ATTACHMENTS_BUCKET_POLICY: {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": ATTACHMENTS_BUCKET},
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [tls_only(ATTACHMENTS_BUCKET)]},
            },
        },
        ATTACHMENTS_POLICY: {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "TicketAttachments",
                "Roles": [{"Ref": role} for role in roles],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "TicketAttachments",
                            "Effect": "Allow",
                            "Action": list(ATTACHMENT_ACTIONS),
                            "Resource": attachment_objects(),
                        }
                    ],
                },
            },
        },
    }


def deploy_resources() -> Json:
    """What only a deployed desk has: the stream's dead-letter queue and its alarm, SES's configuration set and topic.

    moto's CloudFormation (the tests, `make run`) builds none of the SES and SNS subscription resources (it skips
    them with a warning), so they are here rather than in infra/template.json.
    """
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
        **_mail_resources(),
        # Every event the history records is put on this bus (Source "helpdesk", DetailType the kind): a desk's
        # owner routes them with rules of their own. A custom bus costs nothing while no event is put on it.
        EVENT_BUS: {"Type": "AWS::Events::EventBus", "Properties": {"Name": {"Fn::Sub": "${AWS::StackName}-events"}}},
    }


def deploy_outputs() -> Json:
    return {
        "StreamDeadLetterQueueUrl": {"Value": {"Ref": DEAD_LETTER_QUEUE}},
        "EventBusName": {"Value": {"Ref": EVENT_BUS}},
        "EventBusArn": {"Value": {"Fn::GetAtt": [EVENT_BUS, "Arn"]}},
        "MailConfigurationSetName": {"Value": {"Ref": MAIL_CONFIGURATION_SET}},
        "MailEventsTopicArn": {"Value": {"Ref": MAIL_EVENTS_TOPIC}},
        **inbound.outputs(),
    }


def _referenced(value: Any) -> set[str]:
    """The logical names a template fragment refers to (Ref, Fn::GetAtt, Fn::Sub), pseudo parameters included."""
    names: set[str] = set()
    if isinstance(value, list):
        for item in value:
            names |= _referenced(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                names.add(item)
            elif key == "Fn::GetAtt":
                names.add(item[0] if isinstance(item, list) else str(item).split(".")[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                names |= {name.split(".")[0] for name in SUB_NAME.findall(text)} - set(
                    item[1] if isinstance(item, list) else {}
                )
            names |= _referenced(item)
    return names


def rest_api(template: Json) -> tuple[str, Json] | None:
    """The REST API Chalice made for the routes (None for an app without routes)."""
    apis = list(_resources_of(template, REST_API))
    if len(apis) > 1:
        raise PackagingError(f"more than one REST API ({', '.join(n for n, _ in apis)}): which is the desk's URL?")
    return apis[0] if apis else None


def desk_url(template: Json) -> Json:
    """The base URL of the desk's links: the PublicUrl parameter, or else the REST API's stage URL."""
    found = rest_api(template)
    if found is None:
        return {"Ref": "PublicUrl"}
    name, api = found
    stage = api["Properties"]["StageName"]
    stage_url = f"https://${{{name}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{stage}"
    return {"Fn::If": ["HasPublicUrl", {"Ref": "PublicUrl"}, {"Fn::Sub": stage_url}]}


def public_url(template: Json, function: str) -> Json:
    """The function's HELPDESK_PUBLIC_URL: desk_url, except for a function the REST API refers to.

    That one (the API handler, an authorizer) cannot refer back to the API: CloudFormation would find a circular
    dependency (the API's definition names the function's ARN). It gets the PublicUrl parameter alone; when that is
    empty, the API handler takes the URL from the request it answers (the same stage URL).
    """
    found = rest_api(template)
    if found is not None and function in _referenced(found[1]):
        return {"Ref": "PublicUrl"}
    return desk_url(template)


def function_environment(template: Json, function: str) -> Json:
    """Every variable the package gives the function (its stage's own come from .chalice/config.json); the
    attachments bucket only to the functions that may use it."""
    variables = {**copy.deepcopy(FUNCTION_ENVIRONMENT), PUBLIC_URL_VARIABLE: public_url(template, function)}
    if function in ATTACHMENT_FUNCTIONS:
        variables[ATTACHMENTS_VARIABLE] = {"Ref": ATTACHMENTS_BUCKET}
    if function in WEBHOOK_HANDOFF_FUNCTIONS and WEBHOOK_SENDER in template.get("Resources", {}):
        variables[WEBHOOK_SENDER_VARIABLE] = {"Ref": WEBHOOK_SENDER}
    return variables


def _chalice_config(chalice_dir: Path) -> Json:
    config: Json = json.loads((chalice_dir / "config.json").read_text())
    return config


def stage_environment_problems(stage: str, chalice_dir: Path = CHALICE_DIR) -> list[str]:
    """Variables .chalice/config.json must leave to the package (it would overwrite them without a word)."""
    config = _chalice_config(chalice_dir)
    stage_config = config.get("stages", {}).get(stage, {})
    places: list[tuple[str, Json]] = [("config.json", config), (f"stage {stage}", stage_config)]
    for where, scope in list(places):
        places += [(f"{where}, function {n}", f) for n, f in scope.get("lambda_functions", {}).items()]
    return [
        f"{where} sets {name}: the package sets it (from the stack's resources and parameters)"
        for where, settings in places
        for name in settings.get("environment_variables", {})
        if name in PACKAGED_VARIABLES
    ]


def stage_policy(stage: str, chalice_dir: Path = CHALICE_DIR) -> Json:
    """The stage's written policy (its iam_policy_file in .chalice/config.json): the actions the app needs."""
    config = _chalice_config(chalice_dir)
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


def _sub(text: str) -> Json:
    """The Fn::Sub a `${...}` string reads as; names of SUB_VARIABLES get their computed value."""
    computed = {name: copy.deepcopy(SUB_VARIABLES[name]) for name in SUB_NAME.findall(text) if name in SUB_VARIABLES}
    return {"Fn::Sub": [text, computed] if computed else text}


def packaged_policy(document: Json) -> Json:
    """The written policy with each `${Resource.Attr}` (or `${SenderDomain}`) resource made the Fn::Sub it reads as."""
    packaged = copy.deepcopy(document)
    for statement in _statements(packaged):
        resources = [_sub(r) if isinstance(r, str) and "${" in r else r for r in _as_list(statement["Resource"])]
        statement["Resource"] = resources if isinstance(statement["Resource"], list) else resources[0]
    return packaged


def policy_problems(document: Json, names: set[str]) -> list[str]:
    """What a written policy must not do: scan, wildcards on DynamoDB, SES on anything but the sender's identities and
    the configuration set, S3 at all (it goes to every role; the package grants S3 to the functions that need it), or
    name a resource the template lacks."""
    problems = []
    for index, statement in enumerate(_statements(document)):
        where = statement.get("Sid") or f"statement {index}"
        actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
        problems += [f"{where}: grants {a}" for a in actions if a in FORBIDDEN_ACTIONS]
        problems += [
            f"{where}: grants {a}, which the package gives only the functions that need it"
            for a in actions
            if a.startswith("s3:")
        ]
        for resource in _as_list(statement.get("Resource", [])):
            if not isinstance(resource, str):
                problems.append(f"{where}: resource {resource!r} is not a string")
                continue
            if any(a.startswith("dynamodb:") for a in actions) and not resource.startswith("${"):
                problems.append(f"{where}: DynamoDB resource {resource!r} is not one of the template's (${{Name.Arn}})")
            if any(a.startswith("ses:") for a in actions) and not SES_RESOURCE.match(resource):
                problems.append(
                    f"{where}: SES resource {resource!r} is not an identity or configuration set (${{Name}})"
                )
            for name in SUB_NAME.findall(resource):
                if not name.startswith("AWS::") and name.split(".")[0] not in names | set(SUB_VARIABLES):
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


def _topic_events(function: Json) -> Iterator[tuple[str, Json]]:
    for name, event in function.get("Properties", {}).get("Events", {}).items():
        if event.get("Type") == "SNS":
            yield name, event


def inbound_address(chalice_template: Json) -> str | None:
    """The stage's HELPDESK_INBOUND_ADDRESS (.chalice/config.json), as Chalice gave it to the inbound function."""
    function = chalice_template["Resources"].get(INBOUND_FUNCTION, {})
    value = function.get("Properties", {}).get("Environment", {}).get("Variables", {}).get(inbound.ADDRESS_VARIABLE)
    return value if isinstance(value, str) and value else None


def _function_role(template: Json, function: str, why: str) -> str:
    """The logical name of the role the function runs as; a missing function is an error (`why` it is needed)."""
    found = template["Resources"].get(function)
    if found is None or found.get("Type") != FUNCTION:
        raise PackagingError(f"the app has no function {function} ({why})")
    role = found["Properties"].get("Role")
    if not (isinstance(role, dict) and isinstance(role.get("Fn::GetAtt"), list)):
        raise PackagingError(f"{function} has a role this package does not manage: {role!r}")
    name: str = role["Fn::GetAtt"][0]
    return name


def _sharing(template: Json, roles: set[str], functions: set[str]) -> list[str]:
    """Functions other than `functions` that run as one of `roles` (and would get what those roles are granted)."""
    sharing = []
    for name, function in _resources_of(template, FUNCTION):
        role = function["Properties"].get("Role")
        if name not in functions and isinstance(role, dict) and role.get("Fn::GetAtt", [None])[0] in roles:
            sharing.append(name)
    return sharing


def _exclusive_roles(template: Json, functions: tuple[str, ...], why: str, what: str) -> list[str]:
    """The roles of `functions`, which no other function may share: it would be granted `what` too."""
    roles = list(dict.fromkeys(_function_role(template, f, why) for f in functions))
    others = _sharing(template, set(roles), set(functions))
    if others:
        raise PackagingError(
            f"{', '.join(others)} run as the role of a function that {what}: only {', '.join(functions)} may"
        )
    return roles


def raw_mail_roles(template: Json) -> list[str]:
    return _exclusive_roles(template, RAW_MAIL_FUNCTIONS, "it reads raw mail", "reads raw mail")


def attachment_roles(template: Json) -> list[str]:
    return _exclusive_roles(template, ATTACHMENT_FUNCTIONS, "it uses attachments", "touches attachments")


def build_overlay(chalice_template: Json, infra: Json, policy: Json) -> Json:
    """The template to merge into Chalice's: the tables, the deploy resources, and the wiring of each function."""
    resources: Json = {
        **copy.deepcopy(infra["Resources"]),
        **deploy_resources(),
        **inbound.resources(raw_mail_roles(chalice_template)),
        **attachment_resources(attachment_roles(chalice_template)),
    }
    clashes = sorted(set(resources) & set(chalice_template["Resources"]))
    if clashes:
        raise PackagingError(f"Chalice's template already has {', '.join(clashes)}: rename the handler or the resource")
    parameters = {
        **copy.deepcopy(infra.get("Parameters", {})),
        **deploy_parameters(),
        **inbound.parameters(inbound_address(chalice_template)),
        **gateway.stage_parameters(),
    }
    conditions = {**copy.deepcopy(infra.get("Conditions", {})), **deploy_conditions()}
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
            "Environment": {"Variables": function_environment(chalice_template, name)},
            "LoggingConfig": {"LogGroup": {"Ref": log_group}},
        }
        events: Json = {}
        for event_name, event in _stream_events(function):
            if event["Properties"].get("Stream") != STREAM_PLACEHOLDER:
                raise PackagingError(f"{name}.{event_name} reads a stream this package does not know")
            stream = {"Stream": {"Fn::GetAtt": [STREAM_TABLE, "StreamArn"]}}
            events[event_name] = {"Properties": {**stream, **copy.deepcopy(STREAM_FAILURE_HANDLING)}}
            streams += 1
        for event_name, event in _topic_events(function):
            if (name, event["Properties"].get("Topic")) != (INBOUND_FUNCTION, INBOUND_TOPIC_PLACEHOLDER):
                raise PackagingError(f"{name}.{event_name} listens to a topic this package does not know")
            events[event_name] = {"Properties": {"Topic": {"Ref": inbound.TOPIC}}}
        if events:
            properties["Events"] = events
        resources[name] = {"Properties": properties}
    if streams == 0:
        raise PackagingError("the app has no handler on the tickets table's stream, yet the package wires one")
    api = rest_api(chalice_template)
    if api is not None:
        try:
            resources[api[0]] = {"Properties": gateway.api_properties(api[1])}
        except gateway.GatewayError as error:
            raise PackagingError(str(error)) from None
    for name in roles:
        policies = [{"PolicyName": f"{name}Policy", "PolicyDocument": packaged_policy(policy)}]
        resources[name] = {"Properties": {"Policies": policies}}

    outputs = {
        **copy.deepcopy(infra.get("Outputs", {})),
        **deploy_outputs(),
        "PublicURL": {"Value": desk_url(chalice_template)},
    }
    used = json.dumps([resources, outputs])
    overlay: Json = {
        "Description": infra.get("Description", ""),
        "Parameters": parameters,
        "Conditions": {name: c for name, c in conditions.items() if json.dumps(name) in used},
        "Resources": resources,
        "Outputs": outputs,
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
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for name, function in _resources_of(template, FUNCTION):
        if function["Properties"].get("Runtime") != runtime:
            problems.append(
                f"{name}: runs {function['Properties'].get('Runtime')}, the bundle's bytecode is {runtime}'s"
            )
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        problems += [
            f"{name}: {key} is not {value!r}"
            for key, value in function_environment(template, name).items()
            if variables.get(key) != value
        ]
        if ATTACHMENTS_VARIABLE in variables and name not in ATTACHMENT_FUNCTIONS:
            problems.append(f"{name}: is given {ATTACHMENTS_VARIABLE} but is not one of ATTACHMENT_FUNCTIONS")
        log_group = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
        if template["Resources"].get(log_group, {}).get("Type") != "AWS::Logs::LogGroup":
            problems.append(f"{name}: logs to no log group of the stack")
        for event_name, event in _stream_events(function):
            props = event["Properties"]
            if props.get("Stream") != {"Fn::GetAtt": [STREAM_TABLE, "StreamArn"]}:
                problems.append(f"{name}.{event_name}: reads {props.get('Stream')!r}")
            problems += [
                f"{name}.{event_name}: {key} is not {value!r}"
                for key, value in STREAM_FAILURE_HANDLING.items()
                if props.get(key) != value
            ]
        for event_name, event in _topic_events(function):
            if event["Properties"].get("Topic") != {"Ref": inbound.TOPIC}:
                problems.append(f"{name}.{event_name}: listens to {event['Properties'].get('Topic')!r}")
    problems += _grant_problems(template)
    problems += _attachments_bucket_problems(template)
    found = rest_api(template)
    if found is not None:
        properties = found[1]["Properties"]
        if properties.get("GatewayResponses") != gateway.gateway_responses():
            problems.append(f"{found[0]}: API Gateway's own answers are not the desk's (GatewayResponses)")
        if properties.get("MethodSettings") != gateway.method_settings(properties["DefinitionBody"]):
            problems.append(f"{found[0]}: the stage is not throttled as infra/gateway.py says (MethodSettings)")
        if gateway.ANY_MEDIA_TYPE not in properties["DefinitionBody"].get(gateway.BINARY_MEDIA_TYPES, []):
            problems.append(f"{found[0]}: {gateway.ANY_MEDIA_TYPE} is not a binary media type: browsers get base64")
    if STREAM_PLACEHOLDER in json.dumps(template):
        problems.append("the placeholder stream ARN is still in the template")
    if INBOUND_TOPIC_PLACEHOLDER in json.dumps(template):
        problems.append("the placeholder inbound topic ARN is still in the template")
    return problems


def raw_mail_objects() -> Json:
    """The ARN of the raw messages SES stores (infra/inbound.py), the only part of that bucket the desk reads."""
    return {"Fn::Sub": f"${{{inbound.BUCKET}.Arn}}/{inbound.PREFIX}*"}


def _iam_statements(template: Json) -> Iterator[tuple[str, set[str], Json, bool]]:
    """Every IAM statement of the template: where it is, the roles it is given to, itself, and whether it comes from
    the stage's written policy (a role's own) rather than one of the package's IAM policies."""
    for name, role in _resources_of(template, ROLE):
        for policy in role["Properties"].get("Policies", []):
            for statement in _statements(policy["PolicyDocument"]):
                yield name, {name}, statement, True
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, policy in _resources_of(template, kind):
            refs = policy["Properties"].get("Roles", [])
            roles = {r["Ref"] if isinstance(r, dict) and "Ref" in r else json.dumps(r) for r in refs}
            for statement in _statements(policy["Properties"]["PolicyDocument"]):
                yield name, roles, statement, False


def _grant_problems(template: Json) -> list[str]:
    """IAM in the template: no forbidden action; DynamoDB and SES only on what the written policy names; S3 only as
    the package grants it, to exactly its roles: RAW_MAIL_FUNCTIONS read raw mail, ATTACHMENT_FUNCTIONS store, read
    and delete the files (no listing, no other key, no whole bucket)."""
    problems: list[str] = []
    allowed = {
        json.dumps(raw_mail_objects()): {a.lower() for a in RAW_MAIL_ACTIONS},
        json.dumps(attachment_objects()): {a.lower() for a in ATTACHMENT_ACTIONS},
    }
    holders: dict[str, set[str]] = {resource: set() for resource in allowed}
    for where, roles, statement, written in _iam_statements(template):
        actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
        problems += [f"{where}: grants {a}" for a in actions if a in FORBIDDEN_ACTIONS]
        if {"NotAction", "NotResource", "NotPrincipal"} & set(statement):
            problems.append(f"{where}: a statement grants by exclusion (NotAction, NotResource or NotPrincipal)")
        resources = _as_list(statement.get("Resource", []))
        if written:
            for service in ("dynamodb", "ses"):
                if any(a.startswith(f"{service}:") for a in actions):
                    problems += [f"{where}: {service} on {r!r}" for r in resources if isinstance(r, str)]
        else:
            problems += [f"{where}: grants {a}" for a in actions if not a.startswith("s3:") and a != "*"]
        s3 = [a for a in actions if a == "*" or a.startswith("s3:")]
        if not s3 or statement.get("Effect") == "Deny":
            continue
        for resource in resources:
            key = json.dumps(resource)
            if key not in allowed:
                problems.append(f"{where}: grants {', '.join(s3)} on {resource!r}")
                continue
            problems += [f"{where}: grants {a} on {resource!r}" for a in s3 if a not in allowed[key]]
            holders[key] |= roles
    expected: dict[str, set[str]] = {}
    # Each bucket's holders apart: a role shared with another function is a problem for each grant it would widen.
    for resource, holders_of in ((raw_mail_objects(), raw_mail_roles), (attachment_objects(), attachment_roles)):
        try:
            expected[json.dumps(resource)] = set(holders_of(template))
        except PackagingError as error:
            problems.append(str(error))
    problems += [
        f"{json.loads(key)['Fn::Sub']} is granted to {sorted(holders[key])}, not exactly {sorted(roles)}"
        for key, roles in expected.items()
        if holders[key] != roles
    ]
    return problems


def _attachments_bucket_problems(template: Json) -> list[str]:
    """The files' bucket: one policy, always in force, that refuses plain HTTP and allows nobody anything; no
    lifecycle rule that expires a file (a file is kept until its ticket's data is erased)."""
    bucket = template["Resources"].get(ATTACHMENTS_BUCKET, {})
    if bucket.get("Type") != "AWS::S3::Bucket":
        return [f"the template has no bucket {ATTACHMENTS_BUCKET}"]
    problems = []
    for rule in bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", []):
        if not isinstance(rule, dict):
            problems.append(f"{ATTACHMENTS_BUCKET}: a lifecycle rule this package cannot read: {rule!r}")
            continue
        problems += [f"{ATTACHMENTS_BUCKET}: lifecycle rule {rule.get('Id')!r} sets {k}" for k in rule if "Expir" in k]
    policies = [
        (name, policy)
        for name, policy in _resources_of(template, "AWS::S3::BucketPolicy")
        if policy["Properties"].get("Bucket") == {"Ref": ATTACHMENTS_BUCKET}
    ]
    if len(policies) != 1:
        problems.append(f"{ATTACHMENTS_BUCKET} has {len(policies)} bucket policies, not one")
    for name, policy in policies:
        if "Condition" in policy:
            problems.append(f"{name}: exists only under the condition {policy['Condition']}")
        statements = _statements(policy["Properties"]["PolicyDocument"])
        problems += [f"{name}: allows {s.get('Action')!r}" for s in statements if s.get("Effect") != "Deny"]
        if tls_only(ATTACHMENTS_BUCKET) not in statements:
            problems.append(f"{name}: does not refuse requests over plain HTTP")
    return problems


def lean_bundle(template: Json, out: Path) -> bundle.Stripped:
    """Strip the bundle every function's CodeUri names (out/deployment.zip) in place; at most bundle.LIMIT_BYTES."""
    uris = {function["Properties"].get("CodeUri") for _, function in _resources_of(template, FUNCTION)}
    if len(uris) != 1:
        raise PackagingError(
            f"the functions use {len(uris)} bundles ({sorted(map(str, uris))}); expected Chalice's one"
        )
    path = (out / str(uris.pop())).resolve()
    if not path.is_file() or not path.is_relative_to(out):
        raise PackagingError(f"the functions' CodeUri is not a bundle in {out}: {path}")
    try:
        stripped = bundle.strip_bundle(path, path)
    except bundle.BundleError as error:
        raise PackagingError(str(error)) from None
    if stripped.after_bytes > bundle.LIMIT_BYTES:
        raise PackagingError(f"{path.name} is {stripped.after_bytes} bytes, over {bundle.LIMIT_BYTES}: what grew?")
    return stripped


def package(stage: str, out: Path) -> tuple[Path, bundle.Stripped]:
    """Write out/sam.json (the deployable template), out/deployment.zip (stripped) and out/overlay.json (what was
    merged); return the template's path and what stripping the bundle did."""
    out = out.resolve()
    problems = stage_environment_problems(stage)
    if problems:
        raise PackagingError("the stage's settings cannot be packaged:\n  " + "\n  ".join(problems))
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
    return out / "sam.json", lean_bundle(template, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__)
    parser.add_argument("--stage", default="dev", help="a stage of .chalice/config.json (default: dev)")
    parser.add_argument("--out", type=Path, help="the output folder (default: dist/STAGE)")
    args = parser.parse_args(argv)
    try:
        template, stripped = package(args.stage, args.out or ROOT / "dist" / args.stage)
    except PackagingError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    functions = sorted(name for name, _ in _resources_of(json.loads(template.read_text()), FUNCTION))
    sys.stdout.write(f"Packaged stage {args.stage} ({', '.join(functions)}) into {template}\n")
    sys.stdout.write(
        f"{template.with_name('deployment.zip')}: {stripped.before_bytes / 1e6:.1f} MB -> "
        f"{stripped.after_bytes / 1e6:.2f} MB without what the Lambda runtime has ({', '.join(stripped.removed)}), "
        f"with bytecode for {stripped.compiled} modules\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
