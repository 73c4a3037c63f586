"""VOD OpenAPI client (version 2017-03-21, RPC style), signed by vodai's own signing code.

Like the official SDK it sends ``POST /?<parameters>`` with an empty body, and a ``RegionId``
parameter (as the legacy SDK does) so one endpoint can serve several regions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from typing import Callable, Dict, Iterable, Optional, Tuple
from urllib.parse import urlsplit

import requests

from ..credentials import Credentials
from ..exceptions import VodApiError
from ..redaction import redact
from ..signing import acs3, rpc
from ..signing._encoding import canonical_query
from ..timestamps import utc_now_text
from .errors import is_retryable
from .transport import prepared, send

API_VERSION = "2017-03-21"
MAX_JOB_IDS = 10
#: SearchMedia's largest PageSize (VOD's limit).
MAX_SEARCH_PAGE_SIZE = 100


def vod_endpoint(region: str) -> str:
    # The SDK maps cn-hangzhou to vod.cn-shanghai: VOD has no cn-hangzhou endpoint.
    if region == "cn-hangzhou":
        region = "cn-shanghai"
    return f"https://vod.{region}.aliyuncs.com"


@functools.lru_cache(maxsize=64)
def _host(base_url: str) -> str:
    return urlsplit(base_url).netloc


def request_digest(action: str, region: str, params: Dict[str, str]) -> str:
    """sha256 of what a request asks for (action, region, parameters; not who signs it or when):
    kept with the nonce so a re-sent request can be told from a different one."""
    query = {k: str(v) for k, v in params.items() if v is not None}
    query.update(Action=action, RegionId=region)
    return hashlib.sha256(canonical_query(query).encode("utf-8")).hexdigest()


class VodClient:
    def __init__(
        self,
        credentials: Credentials,
        session: requests.Session,
        *,
        endpoint: Optional[str] = None,
        signature_version: str = "v3",
        timeout: Tuple[float, float] = (3.05, 10.0),
        clock: Callable[[], str] = utc_now_text,
        nonce: Callable[[], str] = lambda: os.urandom(16).hex(),  # what uuid4().hex holds, without the UUID object
    ) -> None:
        if signature_version not in ("v3", "v1"):
            raise ValueError("signature_version must be 'v3' or 'v1'")
        self.credentials = credentials
        self.session = session
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.signature_version = signature_version
        self.timeout = timeout
        self._clock = clock
        self._nonce = nonce

    # -- the actions vodai calls -------------------------------------------------
    def submit_ai_image_job(self, region: str, params: Dict[str, str]) -> dict:
        return self.call("SubmitAIImageJob", region, params)

    def submit_ai_image_audit_job(self, region: str, params: Dict[str, str]) -> dict:
        return self.call("SubmitAIImageAuditJob", region, params)

    def get_ai_image_jobs(self, region: str, job_ids: Iterable[str], *, timeout: Optional[Tuple[float, float]] = None) -> dict:
        """``AIImageJobList`` for up to ten JobIds (VOD's limit); a JobId VOD does not know is left out."""
        ids = list(job_ids)
        if not 1 <= len(ids) <= MAX_JOB_IDS:
            raise ValueError(f"JobIds: between 1 and {MAX_JOB_IDS} ids, got {len(ids)}")
        return self.call("GetAIImageJobs", region, {"JobIds": ",".join(ids)}, timeout=timeout)

    def get_ai_media_audit_job(self, region: str, job_id: str, *, timeout: Optional[Tuple[float, float]] = None) -> dict:
        """``MediaAuditJob`` of one image (or media) audit job: Status, Code, Message, CompleteTime, Data."""
        if not job_id:
            raise ValueError("JobId: required")
        return self.call("GetAIMediaAuditJob", region, {"JobId": job_id}, timeout=timeout)

    def get_video_info(self, region: str, video_id: str, *, timeout: Optional[Tuple[float, float]] = None) -> dict:
        """``Video`` of one video or audio in ``region``: VideoId, Status (Uploading, UploadFail,
        UploadSucc, Transcoding, TranscodeFail, Blocked, Normal, ...), Title, Size, CreationTime.

        Raises
        ------
        VodApiError
            ``InvalidVideo.NotFound`` (404) when ``region`` has no such video.
        """
        if not video_id:
            raise ValueError("VideoId: required")
        return self.call("GetVideoInfo", region, {"VideoId": video_id}, timeout=timeout)

    def get_image_info(self, region: str, image_id: str, *, timeout: Optional[Tuple[float, float]] = None) -> dict:
        """``ImageInfo`` of one image in ``region``: ImageId, Status (Uploading, Normal, UploadFail),
        Type, URL, CreationTime.

        Raises
        ------
        VodApiError
            A 404 (``InvalidImage.NotFound`` in the emulator) when ``region`` has no such image.
        """
        if not image_id:
            raise ValueError("ImageId: required")
        return self.call("GetImageInfo", region, {"ImageId": image_id}, timeout=timeout)

    def search_media(self, region: str, *, search_type: str, match: Optional[str] = None,
                     sort_by: str = "CreationTime:Asc", page_size: int = MAX_SEARCH_PAGE_SIZE,
                     scroll_token: Optional[str] = None, page_no: Optional[int] = None,
                     timeout: Optional[Tuple[float, float]] = None) -> dict:
        """One page of ``SearchMedia``: ``MediaList`` (each with ``MediaType``, ``MediaId``,
        ``CreationTime`` and a ``Video``, ``Audio``, ``Image`` or ``AttachedMedia`` object),
        ``Total`` and the ``ScrollToken`` to pass for the next page.

        Parameters
        ----------
        region : str
            The VOD region whose media are searched (media are regional).
        search_type : str
            ``video``, ``audio``, ``image`` or ``attached``.
        match : str, optional
            VOD's search protocol, e.g. ``CreationTime = ('2024-01-01T00:00:00Z','2024-02-01T00:00:00Z')``.
        sort_by : str
            One sort field when traversing with ``scroll_token`` (VOD's rule).
        page_size : int
            1 to 100 (VOD's limit).
        scroll_token : str, optional
            The previous page's ``ScrollToken``: the only way past the first 5,000 results.
        """
        if search_type not in ("video", "audio", "image", "attached"):
            raise ValueError(f"SearchType: video, audio, image or attached, not {search_type!r}")
        if not 1 <= page_size <= MAX_SEARCH_PAGE_SIZE:
            raise ValueError(f"PageSize: between 1 and {MAX_SEARCH_PAGE_SIZE}, got {page_size}")
        params: Dict[str, str] = {"SearchType": search_type, "SortBy": sort_by, "PageSize": str(page_size)}
        if match:
            params["Match"] = match
        if scroll_token:
            params["ScrollToken"] = scroll_token
        if page_no is not None:
            params["PageNo"] = str(page_no)
        return self.call("SearchMedia", region, params, timeout=timeout)

    # -- the request --------------------------------------------------------------
    def stamp(self) -> Tuple[str, str]:
        """A fresh (signature nonce, timestamp) pair for :meth:`prepare`."""
        return self._nonce(), self._clock()

    def prepare(self, action: str, region: str, params: Dict[str, str], *, nonce: Optional[str] = None,
                timestamp: Optional[str] = None) -> requests.PreparedRequest:
        """The signed request for ``action``; pure apart from the clock and nonce.

        Parameters
        ----------
        action, region, params
            What to call, where, with which parameters.
        nonce, timestamp
            The signature nonce and timestamp (``2017-03-20T07:49:17Z``) to sign with, to rebuild a
            request sent before (VOD then refuses it as ``SignatureNonceUsed`` if the first copy
            was processed); fresh ones when None.
        """
        nonce = nonce or self._nonce()
        timestamp = timestamp or self._clock()
        base = self.endpoint or vod_endpoint(region)
        host = _host(base)
        query = {k: str(v) for k, v in params.items() if v is not None}
        query["RegionId"] = region
        if self.signature_version == "v1":
            headers = {"Accept": "application/json"}
            query.update(Action=action, Version=API_VERSION, Format="JSON")
            query = rpc.signed_params(
                query,
                method="POST",
                access_key_id=self.credentials.access_key_id,
                access_key_secret=self.credentials.access_key_secret,
                security_token=self.credentials.security_token,
                timestamp=timestamp,
                nonce=nonce,
            )
            # Sent exactly as signed (RFC 3986, sorted): the canonical form, Signature included.
            encoded = canonical_query(query)
        else:
            headers = {
                "host": host,
                "x-acs-action": action,
                "x-acs-version": API_VERSION,
                "x-acs-date": timestamp,
                "x-acs-signature-nonce": nonce,
                "x-acs-content-sha256": acs3.EMPTY_BODY_SHA256,
            }
            if self.credentials.security_token:
                headers["x-acs-accesskey-id"] = self.credentials.access_key_id
                headers["x-acs-security-token"] = self.credentials.security_token
            encoded = canonical_query(query)  # signed and sent as the very same string
            headers["Authorization"] = acs3.authorization(
                "POST",
                "/",
                encoded,
                headers,
                access_key_id=self.credentials.access_key_id,
                access_key_secret=self.credentials.access_key_secret,
            )
            headers["Accept"] = "application/json"
        return prepared("POST", f"{base}/?{encoded}", headers)

    def call(self, action: str, region: str, params: Dict[str, str], *, timeout: Optional[Tuple[float, float]] = None) -> dict:
        return self.send(self.prepare(action, region, params), action, timeout=timeout)

    def send(self, prepared: requests.PreparedRequest, action: str, *, timeout: Optional[Tuple[float, float]] = None) -> dict:
        """Send a prepared request. Sending the same one twice repeats its nonce on purpose: VOD
        refuses the copy (SignatureNonceUsed) if the first was processed, so a resend after an
        ambiguous failure can never create a second job."""
        response = send(self.session, prepared, timeout=timeout or self.timeout, action=action)
        return self._result(action, response)

    def _result(self, action: str, response: requests.Response) -> dict:
        try:
            # Not response.json(): without a charset it would guess the encoding first; VOD's JSON is UTF-8.
            data = json.loads(response.content)
        except ValueError:
            data = None
        if response.status_code >= 400 or not isinstance(data, dict) or "Code" in data and "JobId" not in data:
            data = data if isinstance(data, dict) else {}
            code = str(data.get("Code") or f"HTTP{response.status_code}")
            raise VodApiError(
                code,
                redact(str(data.get("Message") or response.reason or "no message"), self.credentials.secrets()),
                status=response.status_code,
                request_id=data.get("RequestId") or response.headers.get("x-acs-request-id"),
                retryable=is_retryable(code, response.status_code),
                action=action,
            )
        return data
