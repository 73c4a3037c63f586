"""``vodai emulator-faults`` (also ``vodai emulator faults``): change the fault rules of a
running ``vodai emulator``.

It talks to the emulator's control API (``/_emulator/faults``, ``/_emulator/seed``); specs
are checked here first, so a typo is reported before anything is sent.
"""

from __future__ import annotations

import json

import click

from .emulator import DEFAULT_URL, FAULT_HELP, FAULT_SPEC, _call
from .emulator import url_option as _url_option

__all__ = ["DEFAULT_URL", "emulator_faults"]


def _print_rules(rules: list[dict], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rules, indent=2))
        return
    if not rules:
        click.echo("no fault rules")
    for index, rule in enumerate(rules):
        click.echo(f"{index}: {rule['spec']}  (fired {rule['fired']})")


@click.group("emulator-faults")
def emulator_faults() -> None:
    """Add, list or clear the fault rules of a running emulator."""


@emulator_faults.command("add", epilog=FAULT_HELP)
@click.argument("specs", nargs=-1, required=True, type=FAULT_SPEC, metavar="SPEC...")
@_url_option
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
def add(specs: tuple, url: str, as_json: bool) -> None:
    """Append fault rules (after the ones already set)."""
    rules = _call(url, "POST", "faults", [rule.to_dict() for rule in specs])
    _print_rules(rules, as_json)


@emulator_faults.command("list")
@_url_option
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
def list_(url: str, as_json: bool) -> None:
    """Show the fault rules, in order, with how often each has fired."""
    _print_rules(_call(url, "GET", "faults"), as_json)


@emulator_faults.command("clear")
@_url_option
def clear(url: str) -> None:
    """Remove every fault rule."""
    cleared = _call(url, "DELETE", "faults")["cleared"]
    click.echo(f"cleared {cleared} fault rule{'s' if cleared != 1 else ''}")


@emulator_faults.command("seed")
@click.argument("seed", type=int)
@_url_option
def seed(seed: int, url: str) -> None:
    """Restart the probability draws from SEED."""
    _call(url, "POST", "seed", {"seed": seed})
    click.echo(f"seed {seed}")
