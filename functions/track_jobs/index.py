"""FC handler for the Timer trigger that follows submitted jobs to their result.

Kept thin on purpose: all logic lives in the shared ``vodai`` package (vodai.tracking).
"""

from vodai.tracking.handler import handle


def handler(event, context):
    return handle(event, context)
