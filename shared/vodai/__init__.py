"""vodai: turn every finished ApsaraVideo VOD upload into the right VOD AI job.

The import of this package is kept light on purpose: Function Compute bills cold starts,
so nothing here imports the CLI, Flask or the emulator.
"""

import os
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
