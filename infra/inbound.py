"""Mail in, deployed: SES's receipt rule stores each message in the raw mail bucket and notifies the inbound topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]

BUCKET = "RawMailBucket"  # in infra/template.json: the local run's moto builds it too
BUCKET_POLICY = "RawMailBucketPolicy"
TOPIC = "InboundMailTopic"
TOPIC_POLICY = "InboundMailTopicPolicy"
RULE_SET = "InboundRuleSet"
RULE = "InboundRule"
READ_POLICY = "RawMailReadPolicy"
ADDRESS_PARAMETER = "InboundAddress"
ADDRESS_VARIABLE = "HELPDESK_INBOUND_ADDRESS"
# SES writes each message under this prefix; the handler reads nothing else (HELPDESK_RAW_MAIL_PREFIX).
PREFIX = "inbound/"
# What app.py's @app.on_sns_message names (an ARN, which Chalice keeps as it is); the package puts the stack's topic
# in its place.
TOPIC_PLACEHOLDER = "arn:aws:sns:us-east-1:000000000000:helpdesk-inbound-mail-unset"
# Empty: the desk receives no mail (no receipt rule; its mails' Reply-To stays `email.reply_to`).
ADDRESS_PATTERN = "^$|^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"
RECEIVES_MAIL = "ReceivesMail"
_RULE_ARN = (
    "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:receipt-rule-set/${" + RULE_SET + "}:receipt-rule/*"
)


def _from_the_desks_rule(action: str, resource: Any) -> Json:
    """SES may do `action` on `resource`, only for this account's receipt rule set (no other account's rule)."""
    return {
        "Sid": "SesDeliversTheDesksInboundMail",
        "Effect": "Allow",
        "Principal": {"Service": "ses.amazonaws.com"},
        "Action": action,
        "Resource": resource,
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnLike": {"AWS:SourceArn": {"Fn::Sub": _RULE_ARN}},
        },
    }


def parameters(default_address: str | None) -> Json:
    """The inbound address; its default is the stage's HELPDESK_INBOUND_ADDRESS in .chalice/config.json."""
    parameter: Json = {
        "Type": "String",
        "Description": "The desk's inbound address, e.g. help@desk.example.org: SES receives its mail (plus-labelled "
        "forms included) and the desk reads it. Its domain's MX record must point at SES receiving.",
        "AllowedPattern": ADDRESS_PATTERN,
        "ConstraintDescription": "an email address, e.g. help@desk.example.org, or empty for no mail in",
        "Default": default_address or "",
    }
    return {ADDRESS_PARAMETER: parameter}


def conditions() -> Json:
    """Mail in is on when the stack has an inbound address: only then is there a receipt rule to activate."""
    return {RECEIVES_MAIL: {"Fn::Not": [{"Fn::Equals": [{"Ref": ADDRESS_PARAMETER}, ""]}]}}


def resources(reader_roles: Sequence[str]) -> Json:
    """The receipt rule set and rule, the topic, who may write and publish, and the roles that read the mail.

    The readers are the inbound function's role (it reads each message SES stores) and the API handler's (the
    console's "Original message" download): s3:GetObject only, under the prefix, and unconditional like the bucket
    (infra/template.json), so messages stored before mail in was turned off can still be downloaded.
    """
    objects = {"Fn::Sub": "${" + BUCKET + ".Arn}/" + PREFIX + "*"}
    return {
        BUCKET_POLICY: {
            "Type": "AWS::S3::BucketPolicy",
            "Condition": RECEIVES_MAIL,  # its grant names the rule set, which exists only then
            "Properties": {
                "Bucket": {"Ref": BUCKET},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        _from_the_desks_rule("s3:PutObject", objects),
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [
                                {"Fn::GetAtt": [BUCKET, "Arn"]},
                                {"Fn::Sub": "${" + BUCKET + ".Arn}/*"},
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ],
                },
            },
        },
        TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "Help desk inbound mail"}},
        TOPIC_POLICY: {
            "Type": "AWS::SNS::TopicPolicy",
            "Condition": RECEIVES_MAIL,
            "Properties": {
                "Topics": [{"Ref": TOPIC}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [_from_the_desks_rule("sns:Publish", {"Ref": TOPIC})],
                },
            },
        },
        RULE_SET: {"Type": "AWS::SES::ReceiptRuleSet", "Condition": RECEIVES_MAIL, "Properties": {}},
        RULE: {
            "Type": "AWS::SES::ReceiptRule",
            "Condition": RECEIVES_MAIL,
            # SES checks that it may write to the bucket and publish to the topic when the rule is created.
            "DependsOn": [BUCKET_POLICY, TOPIC_POLICY],
            "Properties": {
                "RuleSetName": {"Ref": RULE_SET},
                "Rule": {
                    "Name": "desk-inbound-address",
                    "Enabled": True,
                    "ScanEnabled": True,
                    "TlsPolicy": "Require",
                    "Recipients": [{"Ref": ADDRESS_PARAMETER}],
                    # One action: the message is stored, then the topic is told where (bucket and key).
                    "Actions": [
                        {
                            "S3Action": {
                                "BucketName": {"Ref": BUCKET},
                                "ObjectKeyPrefix": PREFIX,
                                "TopicArn": {"Ref": TOPIC},
                            }
                        }
                    ],
                },
            },
        },
        READ_POLICY: {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "ReadRawInboundMail",
                "Roles": [{"Ref": role} for role in reader_roles],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "RawInboundMail",
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:DeleteObject"],  # erasures delete a person's messages
                            "Resource": objects,
                        }
                    ],
                },
            },
        },
    }


def function_environment() -> Json:
    """What every function is given for mail in (the inbound function and the API handler read the bucket, the
    others may show the address)."""
    return {
        ADDRESS_VARIABLE: {"Ref": ADDRESS_PARAMETER},
        "HELPDESK_RAW_MAIL_BUCKET": {"Ref": BUCKET},
        "HELPDESK_RAW_MAIL_PREFIX": PREFIX,
    }


def outputs() -> Json:
    return {
        "InboundMailTopicArn": {"Value": {"Ref": TOPIC}},
        "InboundRuleSetName": {"Condition": RECEIVES_MAIL, "Value": {"Ref": RULE_SET}},
        "InboundAddress": {"Value": {"Ref": ADDRESS_PARAMETER}},
    }
