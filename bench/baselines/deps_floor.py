"""The floor for vodai's chosen dependencies: the stdlib floor's work, in a process that has
first imported what vodai's runtime is built on, the way vodai imports it.

- ``requests``, with pydantic's plugin scan turned off (and the warning about a missing encoding
  guesser filtered), as ``vodai/__init__.py`` does;
- ``pydantic``, with one model for the event built and used (vodai's event models are pydantic).

The requests themselves are the stdlib floor's (:mod:`stdlib_floor`), so the gap between this
handler and vodai's is vodai's own code, and the gap between this one and the stdlib floor is
what the dependencies cost (the house standard: pydantic v2 for models, requests for HTTP).
"""

import json
import os
import sys

import vodai  # noqa: F401  (first: PYDANTIC_DISABLE_PLUGINS and the warnings filter, as for the handlers)
import requests  # noqa: F401  (imported for its cost, as vodai's handler imports it)
from pydantic import BaseModel, ConfigDict, Field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stdlib_floor  # noqa: E402


class UploadEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    EventType: str = Field(min_length=1)
    VideoId: str = Field(min_length=1)


def handler(event, context):
    envelope = json.loads(event)
    body = json.loads(envelope["Message"]) if "Message" in envelope else envelope
    UploadEvent.model_validate(body)
    return stdlib_floor.handler(event, context)
