#!/usr/bin/env python3
"""Create the DynamoDB table exactly as template.yaml defines it (key schema, attributes, billing, SSE, TTL),
against an emulator or DynamoDB Local, so the tests run on the table shape that is deployed.

usage: create_table.py --endpoint URL --table NAME [--template template.yaml] [--resource TokenTable]
"""
import argparse
import os
import sys

import boto3
from cfnlint.decode import decode


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--resource", default="TokenTable")
    args = parser.parse_args()

    template, errors = decode(args.template)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        return 1
    props = template["Resources"][args.resource]["Properties"]
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    client = boto3.client("dynamodb", endpoint_url=args.endpoint, region_name=region)
    if args.table in client.list_tables()["TableNames"]:
        client.delete_table(TableName=args.table)
    create = {
        "TableName": args.table,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props["BillingMode"],
    }
    if "SSESpecification" in props:
        create["SSESpecification"] = {"Enabled": props["SSESpecification"]["SSEEnabled"]}
    client.create_table(**create)
    client.get_waiter("table_exists").wait(TableName=args.table)
    ttl = props["TimeToLiveSpecification"]
    client.update_time_to_live(
        TableName=args.table,
        TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]},
    )
    pitr = props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
    if pitr:
        client.update_continuous_backups(
            TableName=args.table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    print(f"created table {args.table} from {args.template}:{args.resource} (TTL on {ttl['AttributeName']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
