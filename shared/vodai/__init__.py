"""vodai: turn every finished ApsaraVideo VOD upload into the right VOD AI job.

The import of this package is kept light on purpose: Function Compute bills cold starts,
so nothing here imports the CLI, Flask or the emulator.
"""

import os
import sys
import warnings

# pydantic looks for plugins in every installed distribution's entry points the first time a
# model is built: about 100 ms of a cold start, for plugins vodai does not use. An explicit
# PYDANTIC_DISABLE_PLUGINS (even empty, to allow plugins) is left as it is.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

# The FC package leaves requests' encoding guesser out (vodai.packaging.LEFT_OUT); requests then
# warns at import that it has none. Expected there, so not written to every cold start's log.
warnings.filterwarnings("ignore", message="Unable to find acceptable character detection dependency",
                        module="requests")

__version__ = "0.1.0"

# requests' optional encoding guessers: looked for when requests is imported, used only by
# Response.text / .json() on an answer that names no charset, which vodai never calls.
ENCODING_GUESSERS = ("charset_normalizer", "chardet")


def block_encoding_guessers() -> None:
    """Keep requests from importing an encoding guesser in this process (about 3 MB and 20-40 ms
    of a cold start wherever one is installed: a dev venv, a layer, a runtime's bundled packages).

    Called first by every ``functions/*/index.py``, whose process runs only vodai. Not done on
    ``import vodai``: the CLI and tests share their process with code that may want ``.text``.
    A ``None`` entry in ``sys.modules`` makes ``import`` raise ImportError, which requests expects;
    it then decodes text as UTF-8. Too late once requests is imported; then nothing changes.
    """
    if "requests" in sys.modules:
        return
    for name in ENCODING_GUESSERS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
