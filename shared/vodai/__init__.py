"""vodai: turn every finished ApsaraVideo VOD upload into the right VOD AI job.

The import of this package is kept light on purpose: Function Compute bills cold starts,
so nothing here imports the CLI, Flask or the emulator.
"""

__version__ = "0.1.0"
