"""vodai's ``on_upload`` handler with cold-start fixes applied from outside ``shared/``, chosen by
environment variables (so one file serves every experiment variant):

- ``BENCH_DEFER_BUILD=1``: pydantic models are built on first use (``defer_build=True`` as the
  default of every model config), so the models an event never touches (image, attached media,
  other events, the bases) are never built. The proposed change: ``defer_build=True`` in the
  ``model_config`` of ``VodEvent`` (inherited by every event model), ``Settings`` and the
  routing models.
- ``PYDANTIC_DISABLE_PLUGINS=__all__`` (read by pydantic itself): no entry-point scan of every
  installed distribution when the first model class is built.
"""

import os

if os.environ.get("BENCH_DEFER_BUILD"):
    from pydantic._internal import _config

    _config.config_defaults["defer_build"] = True

from vodai.handler import handle  # noqa: E402


def handler(event, context):
    return handle(event, context)
