"""The official SDK (``alibabacloud_vod20170321``) walks SearchMedia on a real emulator process:
its typed models read the answer, and its ScrollToken pages through every result."""

from __future__ import annotations

import pytest
from alibabacloud_vod20170321 import models as vod_models

from _servers import emulator_server

from . import sdk_clients as sdk

pytestmark = pytest.mark.e2e

AK, SECRET = "sdk-search-ak", "sdk-search-secret"


@pytest.fixture(scope="module")
def server():
    with emulator_server(AK, SECRET, seed=7) as server:
        yield server


@pytest.mark.parametrize("signature", sdk.SIGNATURES)
def test_sdk_scrolls_through_search_media(server, signature: str):
    server.reset()
    added = [server.control("media", method="POST", json={"media_type": kind, "region": "cn-shanghai",
                                                          "created": f"2024-05-01T00:00:{n:02d}Z"})
             for n in range(7) for kind in ("video", "image")]
    server.control("media", method="POST", json={"media_type": "video", "region": "cn-beijing",
                                                 "created": "2024-05-01T00:00:01Z"})
    client = sdk.vod_client(server, AK, SECRET, signature=signature)
    match = "CreationTime = ('2024-05-01T00:00:00Z','2024-05-01T00:00:05Z')"

    seen, token, bodies = [], None, []
    while True:
        request = vod_models.SearchMediaRequest(search_type="video", match=None if token else match,
                                                sort_by="CreationTime:Asc", page_size=2, scroll_token=token)
        body = client.search_media(request).body
        bodies.append(body)
        seen.extend(m.video.video_id for m in body.media_list)
        token = body.scroll_token
        if len(body.media_list) < 2:
            break

    assert isinstance(bodies[0], vod_models.SearchMediaResponseBody) and bodies[0].total == 6
    assert seen == [m["MediaId"] for m in added if m["MediaType"] == "video"][:6]
    first = bodies[0].media_list[0]
    assert (first.media_type, first.creation_time, first.video.status) == ("video", "2024-05-01T00:00:00Z", "UploadSucc")
    assert len(token) == 32
