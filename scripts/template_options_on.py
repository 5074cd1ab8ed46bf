#!/usr/bin/env python3
"""Writes a copy of a SAM template with its optional features switched on, by changing the defaults of the
parameters that gate them, so that `scripts/test` lints the template both ways: as shipped (every option at its
default, mostly off) and with every option on. `sam validate` takes no parameter overrides, and SAM resolves a
parameter to its default when it translates (Tracing decides whether TracingConfig and the X-Ray policy exist at
all), so a copy is the way to lint the other branch.

Usage: template_options_on.py <template> <output>

A parameter added behind an option belongs in OPTIONS_ON; a listed parameter missing from the template fails, so
the list cannot go stale.
"""

import re
import sys

# Parameter -> the default that switches its option on.
OPTIONS_ON = {
    "Tracing": "Active",
    "AlarmTopicArn": '"arn:aws:sns:us-east-1:123456789012:tessera-alarms"',
    "IssuerUrl": '"https://auth.example.com"',
    "AuthorizerResultTtlSeconds": "1",
    # The multi-Region option, as the home Region's stack sets it: it creates the global table (docs/multi-region.md).
    "GlobalTableName": "tessera-tokens",
    "GlobalTableReplicaRegions": '"eu-west-1,ap-southeast-2"',
    # Identity-provider events (README, Identity-provider events): a mapping, and a partner event bus's rule.
    "IdentityEventSources": '"identity_events = [{ preset = \\"auth0\\", issuer = \\"https://example.eu.auth0.com/\\" }]"',
    "PartnerEventBusName": "aws.partner/auth0.com/example-5c1a/auth0.logs",
    # Revocation announcements on a bus of the user's own rather than the account's default bus.
    "RevocationEventBusName": "tessera-revocations-out",
    # Mutual TLS (RFC 8705): the custom domain with its certificate and S3 truststore (README, Mutual TLS).
    "MtlsDomainName": "mtls.auth.example.com",
    "MtlsCertificateArn": '"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"',
    "MtlsTruststoreUri": '"s3://example-tessera-truststore/truststore.pem"',
    "MtlsTruststoreVersion": "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    "MtlsTruststoreHolds": "ClientCertificates",
}


def main(source: str, target: str) -> None:
    text = open(source, encoding="utf-8").read()
    for name, default in OPTIONS_ON.items():
        # The parameter's block: `  Name:` up to the next two-space key; its `    Default:` line within it.
        block = re.search(rf"^  {re.escape(name)}:\n(?:    .*\n|\n)*?    Default: .*$", text, re.MULTILINE)
        if block is None:
            sys.exit(f"{source}: parameter {name} with a Default not found")
        start, end = block.span()
        head, _, _ = block.group(0).rpartition("    Default: ")
        text = text[:start] + head + "    Default: " + default + text[end:]
    open(target, "w", encoding="utf-8").write(text)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
