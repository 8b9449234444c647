"""Build the desk's tables from infra/template.json through (moto's) CloudFormation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).with_name("template.json")


def create_stack(cloudformation: Any, stack_name: str = "helpdesk") -> dict[str, str]:
    """Create the stack and return its outputs (TicketsTableName, DeskTableName, TicketsTableStreamArn)."""
    cloudformation.create_stack(StackName=stack_name, TemplateBody=TEMPLATE.read_text())
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name} ended as {stack['StackStatus']}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
