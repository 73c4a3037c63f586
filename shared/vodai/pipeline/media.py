"""Checking an HTTP-callback event's media with VOD before its job costs money.

VOD signs a callback's ``URL|timestamp``, not its body, so a body under a valid header pair may
name any media. Before the job of an event that came by HTTP is paid for, VOD is asked whether
its media exists in that region and is uploaded (``GetVideoInfo`` for a VideoId, ``GetImageInfo``
for an ImageId); if not, the event is dead-lettered with that reason. ``VODAI_VERIFY_CALLBACK_MEDIA``
turns this off.
"""

from __future__ import annotations

from typing import Optional

from ..events.models import VodEvent
from ..exceptions import ApiError, VodApiError
from ..invocation import Invocation
from ..retry import next_delay
from ..routing.decision import Submit
from .dependencies import Dependencies

#: GetVideoInfo's Status values of a video whose file is uploaded (Uploading, UploadFail and
#: Blocked are not; an unknown value is not either).
UPLOADED_VIDEO_STATES = frozenset({"UploadSucc", "Transcoding", "TranscodeFail", "Checking", "Normal"})
#: GetImageInfo's Status of an uploaded image (the others: Uploading, UploadFail).
UPLOADED_IMAGE_STATES = frozenset({"Normal"})


def media_problem(event: VodEvent, decision: Submit, deps: Dependencies, inv: Invocation) -> Optional[str]:
    """Why the event's media must not cost money, or None when VOD has it uploaded in the region.

    Raises
    ------
    ApiError
        VOD could not answer (after retries within the deadline), or refused the check for
        another reason than a missing media (e.g. the RAM permission is missing).
    """
    image = event.media_type == "image"
    kind, action = ("image", "GetImageInfo") if image else ("video", "GetVideoInfo")
    attempt = 0
    while True:
        attempt += 1
        timeout = (deps.settings.connect_timeout, inv.deadline.bound(deps.settings.read_timeout))
        try:
            if image:
                found = deps.vod.get_image_info(decision.region, decision.media_id, timeout=timeout).get("ImageInfo")
            else:
                found = deps.vod.get_video_info(decision.region, decision.media_id, timeout=timeout).get("Video")
            break
        except VodApiError as exc:
            if exc.status == 404 or exc.code.endswith(".NotFound"):
                return f"media check: {kind} {decision.media_id} does not exist in {decision.region} ({exc.code})"
            error: ApiError = exc
        except ApiError as exc:
            error = exc
        wait = next_delay(deps.retry, attempt, inv.deadline, deps.rand) if error.retryable else None
        if wait is None:
            raise error
        deps.sleep(wait)
    status = found.get("Status") if isinstance(found, dict) else None
    uploaded = UPLOADED_IMAGE_STATES if image else UPLOADED_VIDEO_STATES
    if status not in uploaded:
        return (f"media check: {kind} {decision.media_id} is {status or 'without a Status'} in {decision.region}, "
                f"not uploaded ({action}; expected one of {', '.join(sorted(uploaded))})")
    return None
