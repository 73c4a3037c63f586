"""FC handler for VOD upload events (MNS topic/queue triggers, direct and async invocation).

Kept thin on purpose: all logic lives in the shared ``vodai`` package.
"""

import vodai

vodai.block_encoding_guessers()  # before requests is imported: see its docstring

from vodai.handler import handle  # noqa: E402


def handler(event, context):
    return handle(event, context)
