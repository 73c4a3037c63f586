"""The ``vodai`` command line: local invoke, the emulator, and the tools around the function.

Subcommands live in their own modules and are imported only when run, so ``vodai --help``
stays fast and no command pulls Flask or the emulator in unless it needs them. The console
entry point is :func:`vodai.__main__.main`, which says what to install when click is missing.
"""

from __future__ import annotations

import importlib
import os

import click

from ..config import unknown_variables
from .errors import describe

# name -> "module:attribute" of the click command
_COMMANDS = {
    "invoke": "vodai.cli.invoke:invoke",
    "emulator": "vodai.cli.emulator:emulator",
    "emulator-faults": "vodai.cli.emulator_faults:emulator_faults",
    "serve": "vodai.cli.serve:serve",
    "demo-upload": "vodai.cli.demo:demo_upload",
    "generate-event": "vodai.cli.generate_event:generate_event",
    "replay": "vodai.cli.replay:replay",
    "backfill": "vodai.cli.backfill:backfill",
    "jobs": "vodai.cli.jobs:jobs",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(_COMMANDS)

    def get_command(self, ctx, name):
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(describe(exc)) from None


def warn(message: str) -> None:
    """One warning line on stderr."""
    click.echo(f"vodai: warning: {message}", err=True)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the traceback of an error instead of one line.")
@click.version_option(package_name="vodai")
def main(debug: bool) -> None:
    """vodai: every finished VOD upload becomes the right VOD AI job."""
    for message in unknown_variables(os.environ):
        warn(message)


__all__ = ["main", "warn"]
