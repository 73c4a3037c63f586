"""vodai: turn every finished ApsaraVideo VOD upload into the right VOD AI job.

The import of this package is kept light on purpose: Function Compute bills cold starts,
so nothing here imports the CLI, Flask or the emulator.
"""

import os

# pydantic looks for plugins in every installed distribution's entry points the first time a
# model is built: about 100 ms of a cold start, for plugins vodai does not use. An explicit
# PYDANTIC_DISABLE_PLUGINS (even empty, to allow plugins) is left as it is.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

__version__ = "0.1.0"
