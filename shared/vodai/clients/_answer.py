"""http.client's response, with a plain header block read without the email parser.

``http.client`` parses every response's header block with ``email.parser`` (a feed parser, a policy
object, a regex per line): on the replay path that was the largest single cost of reading an
answer. ``Answer`` builds the very same ``HTTPMessage`` directly when every line is a plain
``Name: value`` line, and hands anything else (folded lines, stray characters, a block cut short)
to ``http.client.parse_headers``' own parser, so the result is always what http.client gives.
"""

from __future__ import annotations

import email.parser
import http.client
import re

# A whole header block of plain lines: a token, a colon, printable ASCII or tabs, CRLF or LF; then
# the blank line. The email parser also splits on \r, \v, \f, \x1c-\x1e and \x85, and reads a
# line starting with a space or tab as a continuation: none of those can pass this.
_PLAIN_BLOCK = re.compile(r"(?:[!-9;-~]+:[\t -~]*\r?\n)*\r?\n")
_FIELD = re.compile(r"([!-9;-~]+):[\t ]*([\t -~]*?)\r?\n")


def parse_header_block(lines: list) -> http.client.HTTPMessage:
    """The ``HTTPMessage`` http.client.parse_headers makes of these raw lines (as its
    ``_read_headers`` returns them, the blank line included)."""
    text = b"".join(lines).decode("iso-8859-1")
    if _PLAIN_BLOCK.fullmatch(text) is None:
        return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)
    message = http.client.HTTPMessage()
    for name, value in _FIELD.findall(text):
        message.set_raw(name, value)
    message.set_payload("")  # as the email parser leaves a message whose body is empty
    return message


class Answer(http.client.HTTPResponse):
    """``HTTPResponse`` with ``begin`` as in CPython 3.10 and 3.11 (the same in both), but for the
    header block's parser; without debug printing (vodai never sets a debug level)."""

    def begin(self) -> None:
        if self.headers is not None:
            return  # already begun
        while True:  # skip 100 Continue answers
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            http.client._read_headers(self.fp)
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)

        self.headers = self.msg = parse_header_block(http.client._read_headers(self.fp))

        tr_enc = self.headers.get("transfer-encoding")
        self.chunked = bool(tr_enc and tr_enc.lower() == "chunked")
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if (status == http.client.NO_CONTENT or status == http.client.NOT_MODIFIED or 100 <= status < 200
                or self._method == "HEAD"):
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # no length, not chunked: the body ends when the connection closes
