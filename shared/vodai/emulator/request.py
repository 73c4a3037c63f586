"""A neutral request/response pair, independent of any transport.

Both front doors (the requests adapter and the Flask server) convert to and from these
types, so VOD and MNS handling is written once and never sees a transport.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Union
from urllib.parse import parse_qsl, quote, urlencode

from requests.structures import CaseInsensitiveDict


def parse_query_pairs(query_string: str) -> list[tuple[str, str]]:
    """Decode a raw query string into its pairs, in order and with repeats ('+' is a space:
    the official SDKs encode spaces that way)."""
    return parse_qsl(query_string, keep_blank_values=True, encoding="utf-8")


def parse_query(query_string: str) -> dict[str, str]:
    """Decode a raw query string into a dict (a repeated name keeps its last value)."""
    return dict(parse_query_pairs(query_string))


@dataclass
class EmulatorRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: CaseInsensitiveDict = field(default_factory=CaseInsensitiveDict)
    body: bytes = b""
    # The query exactly as sent: MNS signs it verbatim as part of the resource.
    # Built from ``query`` when a caller constructs a request by hand without it.
    query_string: str = ""
    # The decoded query as received, in order and with repeats: what signatures are checked
    # over, so a repeated name is never verified in one copy and used in another.
    query_pairs: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if not isinstance(self.headers, CaseInsensitiveDict):
            self.headers = CaseInsensitiveDict(self.headers)
        if self.query and not self.query_string:
            self.query_string = urlencode(self.query, quote_via=quote)
        if self.query and not self.query_pairs:
            self.query_pairs = list(self.query.items())

    @classmethod
    def from_raw(
        cls,
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: Union[bytes, str, None],
    ) -> "EmulatorRequest":
        if isinstance(body, str):
            body = body.encode("utf-8")
        pairs = parse_query_pairs(query_string)
        return cls(
            method=method,
            path=path or "/",
            query=dict(pairs),
            headers=CaseInsensitiveDict(headers),
            body=body or b"",
            query_string=query_string,
            query_pairs=pairs,
        )


# EmulatorResponse.abort values: how a front door must fail the connection instead of answering.
ABORT_RESET = "reset"  # reset the connection (the request was not processed)
ABORT_LOST = "lost"  # close it without an answer (the request was processed)


@dataclass
class EmulatorResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    # Set by an injected fault: the front door sends nothing and fails the connection
    # (ABORT_RESET or ABORT_LOST); status, headers and body are then meaningless.
    abort: Optional[str] = None
