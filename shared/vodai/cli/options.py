"""Options shared by several commands."""

from __future__ import annotations

import click

profile_option = click.option(
    "--profile", metavar="NAME", default=None,
    help="With --cloud: take the credentials from this profile of the Alibaba Cloud CLI (~/.aliyun/config.json) "
         "instead of the standard chain (environment, CLI profile, ECS RAM role, OIDC, credentials URI).")
