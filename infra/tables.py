"""Build the desk's tables from infra/template.json through (moto's) CloudFormation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).with_name("template.json")
# Where there is no real sender: the stack makes no SES identity (moto could not; whoever sends mail verifies it).
LOCAL_PARAMETERS = {"SenderEmail": "desk@example.org", "CreateSenderIdentity": "false"}


def create_stack(cloudformation: Any, stack_name: str = "helpdesk") -> dict[str, str]:
    """Create the stack and return its outputs (the tables' names, TicketsTableStreamArn, SenderEmail)."""
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in LOCAL_PARAMETERS.items()],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name} ended as {stack['StackStatus']}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
