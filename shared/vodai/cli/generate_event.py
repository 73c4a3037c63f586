"""``vodai generate-event``: print a sample event of any delivery shape, like ``sam local generate-event``.

The event comes from the same builder as the saved samples in events/, and is checked by the
same models the handler uses before it is printed.
"""

from __future__ import annotations

import json
import sys

import click

from ..events import samples
from ..events.envelopes import unwrap
from ..events.models import parse_event
from ..exceptions import EventError

MEDIA = ("video", "audio", "image", "attached")


@click.command("generate-event")
@click.option("--shape", type=click.Choice(list(samples.SHAPES)), default="raw", show_default=True,
              help="How the event is delivered.")
@click.option("--media", "media_type", type=click.Choice(MEDIA), default="video", show_default=True)
@click.option("--region", default="cn-shanghai", show_default=True, help="Region of the upload (its OSS host).")
@click.option("--no-region-hint", is_flag=True, help="Leave the region out of the envelope (only the file URL names it).")
@click.option("--media-id", help="VideoId / ImageId / AttachedMediaId (default: a stable sample id).")
@click.option("--extend", help="The upload's Extend, as JSON text.")
@click.option("--size", type=int, help="Size in bytes.")
@click.option("--event-time", help="EventTime text, e.g. 2017-03-20T07:49:17Z.")
@click.option("--status", type=click.Choice(["success", "fail"]), default="success", show_default=True)
def generate_event(shape, media_type, region, no_region_hint, media_id, extend, size, event_time, status):
    """Print a sample VOD upload event in the chosen delivery shape."""
    options = {"status": status}
    for key, value in (("media_id", media_id), ("size", size), ("event_time", event_time)):
        if value is not None:
            options[key] = value
    if extend is not None:
        try:
            json.loads(extend)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--extend") from None
        options["extend"] = extend
    data = samples.generate(shape, media_type, region=region, region_hint=not no_region_hint, **options)
    # Validated by the handler's own models: what is printed is what the handler accepts.
    for record in unwrap(data):
        try:
            if record.error:
                raise record.error
            parse_event(record.body)
        except EventError as exc:
            raise click.ClickException(f"generated event does not validate: {exc}") from None
    sys.stdout.write(data.decode("utf-8") if data.endswith(b"\n") else data.decode("utf-8") + "\n")
