"""vodai.clients._answer: the response class DirectAdapter reads answers with. http.client itself is
the oracle: for every header block and every response, ``Answer`` must leave exactly the state
``http.client.HTTPResponse`` leaves, whether its own fast parse or the email parser's took it."""

from __future__ import annotations

import io

import pytest
import http.client

from vodai.clients._answer import _PLAIN_BLOCK, Answer, parse_header_block

BLOCKS = {
    "plain, CRLF": b"Server: w\r\nContent-Type: text/xml;charset=utf-8\r\nContent-Length: 12\r\nx-mns-request-id: R1\r\n\r\n",
    "plain, LF": b"Server: w\nContent-Length: 3\n\n",
    "mixed line ends": b"A: 1\r\nB: 2\n\r\n",
    "repeated names": b"Set-Cookie: a=1\r\nset-cookie: b=2\r\nX: 1\r\n\r\n",
    "empty values": b"X-Empty:\r\nX-Space: \r\nX-Tab:\t\r\n\r\n",
    "kept trailing blanks": b"X-Trail: v  \r\nX-Tabs:\tv\t\r\n\r\n",
    "no blank after the colon": b"X:v\r\n\r\n",
    "colons in the value": b"Date: Sun, 22 Nov 2026 07:00:00 GMT\r\nX: a:b::c\r\n\r\n",
    "no headers": b"\r\n",
    "folded line": b"X: one\r\n two\r\nY: 3\r\n\r\n",
    "folded with a tab": b"X: one\r\n\ttwo\r\n\r\n",
    "latin-1 byte": b"X-Name: caf\xe9\r\n\r\n",
    "form feed in a value": b"X: a\x0cb\r\nY: 2\r\n\r\n",
    "bare CR in a value": b"X: a\rb\r\nY: 2\r\n\r\n",
    "NUL in a value": b"X: a\x00b\r\n\r\n",
    "a line without a colon": b"X: 1\r\nnot a header\r\nY: 2\r\n\r\n",
    "an empty name": b": v\r\nY: 2\r\n\r\n",
    "a space in the name": b"Bad Name: v\r\n\r\n",
    "space before the colon": b"X : v\r\n\r\n",
    "unix From line": b"From nobody\r\nX: 1\r\n\r\n",
    "cut short": b"X: 1\r\nY: 2",
    "cut short after a line": b"X: 1\r\n",
}


def state(message) -> dict:
    """Everything a message holds (defects by type: the parser makes new defect objects each time)."""
    found = dict(vars(message))
    found["defects"] = [type(d) for d in message.defects]
    return found


# The blocks the fast parse takes; every other one goes to the email parser.
PLAIN = ["plain, CRLF", "plain, LF", "mixed line ends", "repeated names", "empty values", "kept trailing blanks",
         "no blank after the colon", "colons in the value", "no headers"]


@pytest.mark.parametrize("name", BLOCKS)
def test_a_header_block_reads_as_http_client_reads_it(name):
    block = BLOCKS[name]
    assert (_PLAIN_BLOCK.fullmatch(block.decode("iso-8859-1")) is not None) == (name in PLAIN)
    expected = http.client.parse_headers(io.BytesIO(block))
    got = parse_header_block(http.client._read_headers(io.BytesIO(block)))
    assert type(got) is http.client.HTTPMessage
    assert state(got) == state(expected)
    assert got.items() == expected.items() and list(got.raw_items()) == list(expected.raw_items())


class FakeSocket:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode):
        return io.BytesIO(self.data)


RESPONSES = {
    "keep-alive with a length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "chunked, any case": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 99\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    "connection close": b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno",
    "no length: read to the end": b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of it",
    "HTTP/1.0": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.0 keep-alive": b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.0 Keep-Alive header": b"HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
    "proxy keep-alive": b"HTTP/1.0 200 OK\r\nProxy-Connection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    "100 Continue first": b"HTTP/1.1 100 Continue\r\nX: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\n!",
    "no content": b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
    "not modified": b"HTTP/1.1 304 Not Modified\r\n\r\n",
    "negative length": b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\nabc",
    "invalid length": b"HTTP/1.1 200 OK\r\nContent-Length: three\r\n\r\nabc",
    "folded header": b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 1\r\n\r\n.",
    "reason with blanks": b"HTTP/1.1 400  Bad Request  \r\nContent-Length: 0\r\n\r\n",
}


@pytest.mark.parametrize("method", ["POST", "HEAD"])
@pytest.mark.parametrize("raw", RESPONSES.values(), ids=RESPONSES.keys())
def test_an_answer_begins_and_reads_as_http_clients_response(raw, method):
    expected, got = http.client.HTTPResponse(FakeSocket(raw), method=method), Answer(FakeSocket(raw), method=method)
    expected.begin()
    got.begin()
    got.begin()  # a second call changes nothing
    names = ("status", "code", "reason", "version", "chunked", "chunk_left", "length", "will_close")
    assert {n: getattr(got, n) for n in names} == {n: getattr(expected, n) for n in names}
    assert state(got.msg) == state(expected.msg) and got.headers is got.msg
    assert got.read() == expected.read()


@pytest.mark.parametrize("raw", [b"HTTP/2 200 OK\r\n\r\n", b"", b"garbage\r\n\r\n"], ids=["HTTP/2", "nothing", "no status"])
def test_a_broken_status_line_fails_as_in_http_client(raw):
    with pytest.raises(http.client.HTTPException) as expected:
        http.client.HTTPResponse(FakeSocket(raw)).begin()
    with pytest.raises(type(expected.value)) as got:
        Answer(FakeSocket(raw)).begin()
    assert str(got.value) == str(expected.value)
