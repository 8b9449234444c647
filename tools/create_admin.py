"""Create a desk admin (the very first one, or a replacement) and print its token once.

    python -m tools.create_admin --stack helpdesk-prod --name "Ada Lovelace" --email ada@example.org

The desk table is found from the CloudFormation stack's `DeskTableName` output (or given with
--desk-table). It runs with your own AWS credentials: whoever may write that table may create admins.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def desk_table_of(stack: str, cloudformation: Any) -> str:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == "DeskTableName":
            return str(output["OutputValue"])
    raise SystemExit(f"stack {stack} has no DeskTableName output; pass --desk-table")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.create_admin", description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="the deployed CloudFormation stack (its DeskTableName output is used)")
    where.add_argument("--desk-table", help="the desk table's name")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--name", required=True)
    parser.add_argument("--email", required=True)
    args = parser.parse_args(argv)

    import boto3

    from chalicelib import wiring
    from chalicelib.domain.errors import ConflictError, ValidationError

    region = args.region or "us-east-1"
    table = args.desk_table or desk_table_of(args.stack, boto3.client("cloudformation", region_name=region))
    os.environ["HELPDESK_DESK_TABLE"] = table
    os.environ["AWS_DEFAULT_REGION"] = region
    wiring.reset()
    try:
        agent, token = wiring.desk().create_agent({"name": args.name, "email": args.email, "role": "admin"})
    except ValidationError as error:
        for field, problem in error.errors.items():
            print(f"{field}: {problem}", file=sys.stderr)
        return 2
    except ConflictError as error:
        print(f"email: {error.message}", file=sys.stderr)
        return 2
    print(f"Created admin {agent.name} <{agent.email}> (id {agent.id}) in {table}.")
    print("Their token, shown only this once; it is stored only as a hash:")
    print(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
