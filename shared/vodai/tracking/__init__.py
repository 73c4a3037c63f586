"""Following each submitted job to its result.

The pipeline records every job it submits (after its JobId is published) in a tracking store;
``poller.poll_once`` asks VOD about the pending ones (GetAIImageJobs, ten at a time per region;
GetAIMediaAuditJob), and AIMediaAuditComplete events report audit jobs. Whichever sees a job
finish first publishes ONE completion message (``completion``), exactly once, whatever the
redeliveries and races.

    tracking = open_tracking("redis://127.0.0.1:6379/0", namespace="vodai")
    tracking.pending(100)

Kept light on purpose: the poller is imported from its own module, and the FC handler lives above
both this package and the pipeline, in :mod:`vodai.track_jobs`.
"""

from ..exceptions import TrackingError, TrackingUrlError
from .base import DONE, FAIL, LOST, PENDING, STATUSES, SUCCESS, TrackedJob, TrackingStore
from .factory import default_url, open_tracking

__all__ = [
    "DONE", "FAIL", "LOST", "PENDING", "STATUSES", "SUCCESS", "TrackedJob", "TrackingError", "TrackingStore",
    "TrackingUrlError", "default_url", "open_tracking",
]
