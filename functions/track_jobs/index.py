"""FC handler for the Timer trigger that follows submitted jobs to their result.

Kept thin on purpose: all logic lives in the shared ``vodai`` package (vodai.track_jobs, vodai.tracking).
"""

from vodai.track_jobs import handle


def handler(event, context):
    return handle(event, context)
