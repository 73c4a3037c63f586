"""FC handler for VOD upload events (MNS topic/queue triggers, direct and async invocation).

Kept thin on purpose: all logic lives in the shared ``vodai`` package.
"""

from vodai.handler import handle


def handler(event, context):
    return handle(event, context)
