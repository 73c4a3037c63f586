"""vodai's HTTP session (requests' HTTPAdapter, as mounted by new_session) and transport.send over
real sockets: keep-alive reuse, bounded pools, requests sent exactly as signed, bodies read whole
(gzip too), and every failure classified as vodai's TransportError, ambiguous or not."""

from __future__ import annotations

import gzip
import socket
import threading
import time

import pytest
import requests

from vodai.clients.session import new_session
from vodai.clients.transport import prepared, send
from vodai.exceptions import TransportError


class Server:
    """A tiny HTTP/1.1 server: answers each request with ``answer(n)`` (raw bytes), or runs it
    as a callable on the socket; counts the connections it accepted."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.requests = 0
        self.heads = []  # each request's head (request line and header lines), as received
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        buf = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    while len(buf) < length:
                        buf += conn.recv(65536)
                    buf = buf[length:]
                    self.heads.append(head)
                    self.requests += 1
                    answer = self.answer(self.requests)
                    if callable(answer):
                        answer(conn)
                        return
                    conn.sendall(answer)

    def close(self) -> None:
        self.sock.close()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.fixture
def server(request):
    made = []

    def make(answer):
        made.append(Server(answer))
        return made[-1]

    yield make
    for s in made:
        s.close()


def call(session, url, timeout=(2.0, 2.0)):
    return send(session, prepared("POST", f"{url}/?Action=x", {"Accept": "application/json"}), timeout=timeout, action="x")


def test_many_requests_share_one_keep_alive_connection(server):
    srv = server(lambda n: ok(b'{"n":%d}' % n))
    session = new_session()
    bodies = [call(session, srv.url).content for _ in range(20)]
    assert bodies == [b'{"n":%d}' % n for n in range(1, 21)]
    assert srv.connections == 1 and srv.requests == 20


def test_the_answer_is_requests_own_response(server):
    srv = server(lambda n: ok(b'{"a":1}', extra=b"X-Vodai: one\r\nx-vodai: two\r\n"))
    response = call(new_session(), srv.url)
    assert isinstance(response, requests.Response)
    assert (response.status_code, response.reason, response.json()) == (200, "OK", {"a": 1})
    assert response.headers["X-VODAI"] == "one, two"  # repeated: joined; names case-insensitive
    assert response.url == f"{srv.url}/?Action=x" and response.history == [] and response.ok


def test_the_request_is_sent_exactly_as_signed(server):
    # The query is signed as encoded: requests must not re-quote it (%7E, %2F, %20 stay as they are).
    srv = server(lambda n: ok(b"{}"))
    headers = {"Authorization": "ACS3-HMAC-SHA256 Credential=AK", "x-acs-action": "SubmitAIImageJob"}
    send(new_session(), prepared("POST", f"{srv.url}/?A=%7E&B=%2F&C=%20", headers, b"<x/>"), timeout=(2, 2), action="x")
    [head] = srv.heads
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /?A=%7E&B=%2F&C=%20 HTTP/1.1"
    assert b"Authorization: ACS3-HMAC-SHA256 Credential=AK" in lines and b"x-acs-action: SubmitAIImageJob" in lines
    assert b"User-Agent: vodai/0.1" in lines and b"Content-Length: 4" in lines
    assert not any(line.lower().startswith(b"cookie") for line in lines)


def test_a_closed_session_opens_new_connections(server):
    srv = server(lambda n: ok(b"{}"))
    session = new_session()
    call(session, srv.url)
    session.close()
    assert call(session, srv.url).status_code == 200
    assert srv.connections == 2


def test_a_gzip_body_is_decoded(server):
    packed = gzip.compress(b'{"JobId":"j"}')
    srv = server(lambda n: ok(packed, b"Content-Encoding: gzip\r\n"))
    assert call(new_session(), srv.url).content == b'{"JobId":"j"}'


def test_a_connection_reset_in_the_middle_of_the_body_is_an_ambiguous_transport_error(server):
    def cut(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"JobId\":")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST

    srv = server(lambda n: cut)
    with pytest.raises(TransportError) as info:
        call(new_session(), srv.url)
    assert info.value.ambiguous  # the request was processed: only an identical resend is safe


def test_a_body_that_stops_coming_is_an_ambiguous_timeout(server):
    stop = threading.Event()

    def stall(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
        stop.wait(5)

    srv = server(lambda n: stall)
    try:
        with pytest.raises(TransportError) as info:
            call(new_session(), srv.url, timeout=(2.0, 0.3))
        assert info.value.ambiguous
    finally:
        stop.set()


@pytest.mark.parametrize("block", [True, False])
def test_a_blocking_session_never_has_more_requests_in_flight_than_connections(server, block):
    # Six threads send through a session of two connections while the server holds every answer.
    # Blocking: two requests reach the server and the others wait for a free connection; without
    # it (the check that this test can fail), every thread opens its own.
    release = threading.Event()
    arrived = threading.Semaphore(0)

    def answer(n):
        arrived.release()
        assert release.wait(30)
        return ok(b'{"n": %d}' % n)

    srv = server(answer)
    session = new_session(connections=2, block=block)
    results = []
    threads = [threading.Thread(target=lambda: results.append(call(session, srv.url + "/x", timeout=(5, 30))))
               for _ in range(6)]
    for t in threads:
        t.start()
    expected = 2 if block else 6
    for _ in range(expected):
        assert arrived.acquire(timeout=30)
    # Whatever else was going to reach the server has had ample time to: nothing more may arrive.
    assert not arrived.acquire(timeout=0.5)
    assert srv.requests == expected and srv.connections == expected
    release.set()
    for t in threads:
        t.join(30)
    assert len(results) == 6 and all(r.status_code == 200 for r in results)
    assert srv.requests == 6 and srv.connections == expected  # the waiting threads reused the two


def test_a_session_needs_at_least_one_connection():
    with pytest.raises(ValueError, match="connections"):
        new_session(connections=0)


def test_responses_mocks_the_very_send_path_production_uses():
    # `responses` replaces HTTPAdapter.send, the adapter new_session mounts: a test that mocks it
    # goes through everything vodai does in production but the socket.
    import responses

    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "http://127.0.0.1:9/", json={"JobId": "mocked"})
        assert call(new_session(), "http://127.0.0.1:9").json() == {"JobId": "mocked"}
        assert mock.calls[0].request.headers["User-Agent"] == "vodai/0.1"


def test_an_answer_with_connection_close_is_read_and_the_next_request_reconnects(server):
    srv = server(lambda n: ok(b'{"n":%d}' % n, b"Connection: close\r\n"))
    session = new_session()
    assert [call(session, srv.url).json()["n"] for _ in range(2)] == [1, 2]
    assert srv.connections == 2


def test_a_connection_the_server_closed_while_idle_is_replaced(server):
    def answer_then_close(conn):
        conn.sendall(ok(b"{}"))

    srv = server(lambda n: answer_then_close)  # answers, then closes without saying so
    session = new_session()
    for _ in range(3):
        assert call(session, srv.url).status_code == 200
        time.sleep(0.05)  # the close reaches the client before the next request
    assert srv.connections == 3


def test_a_refused_connection_is_a_transport_error_that_sent_nothing():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(TransportError) as info:
        call(new_session(), f"http://127.0.0.1:{port}")
    assert not info.value.ambiguous and "NewConnectionError" in str(info.value)


def test_no_answer_at_all_is_an_ambiguous_read_timeout(server):
    stop = threading.Event()
    srv = server(lambda n: lambda conn: stop.wait(5))
    try:
        with pytest.raises(TransportError) as info:
            call(new_session(), srv.url, timeout=(2.0, 0.3))
        assert info.value.ambiguous and "timed out waiting for the response" in str(info.value)
        assert srv.requests == 1
    finally:
        stop.set()


def test_a_connection_closed_before_the_answer_is_ambiguous_and_never_retried_by_urllib3(server):
    # Retrying is vodai's decision (an identical resend only): urllib3 must not resend on its own.
    srv = server(lambda n: lambda conn: None)  # reads the request, closes without a word
    session = new_session()
    with pytest.raises(requests.ConnectionError) as info:
        session.send(prepared("POST", f"{srv.url}/?Action=x", {}), timeout=(2, 2))
    from urllib3.exceptions import ProtocolError

    [protocol_error] = info.value.args
    assert isinstance(protocol_error, ProtocolError) and protocol_error.args[0] == "Connection aborted."
    assert srv.requests == 1
    with pytest.raises(TransportError) as classified:
        call(session, srv.url)
    assert classified.value.ambiguous and srv.requests == 2


def test_https_verifies_the_certificate(tmp_path):
    import ssl

    from conftest import self_signed_certificate

    cert, key = self_signed_certificate(tmp_path, name="127.0.0.1", san="IP:127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    url = f"https://127.0.0.1:{listener.getsockname()[1]}"

    def serve():
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(65536)
                    conn.sendall(ok(b'{"tls":true}'))
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(TransportError) as info:  # not signed by a CA the client trusts
            call(new_session(), url)
        assert "SSLCertVerificationError" in str(info.value)
        session = new_session()
        session.verify = str(cert)
        assert call(session, url).json() == {"tls": True}
    finally:
        listener.close()


def test_an_endpoint_that_is_no_url_is_a_transport_error():
    with pytest.raises(TransportError) as info:
        call(new_session(), "http://:80")
    assert "InvalidURL" in str(info.value)


def test_a_reset_while_an_earlier_refusal_is_being_handled_is_still_ambiguous(server):
    # Python links an exception raised inside an `except` block to the one being handled
    # (__context__): that unrelated refusal must not make a reset look like "nothing was sent".
    from urllib3.exceptions import NewConnectionError

    def reset(conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    srv = server(lambda n: reset)
    try:
        raise NewConnectionError(None, "an earlier attempt was refused")
    except NewConnectionError:
        with pytest.raises(TransportError) as info:
            call(new_session(), srv.url)
    assert info.value.ambiguous


def test_each_request_gets_its_own_read_timeout_on_a_reused_connection(server):
    stop = threading.Event()

    def answer(n):
        if n == 1:
            return ok(b'{"n":1}')

        def late(conn):
            stop.wait(5)  # an answer that would come after 5 s
            conn.sendall(ok(b'{"n":2}'))
        return late

    srv = server(answer)
    session = new_session()
    try:
        assert call(session, srv.url, timeout=(10.0, 60.0)).json() == {"n": 1}
        with pytest.raises(TransportError) as info:
            call(session, srv.url, timeout=(10.0, 0.3))
        assert info.value.ambiguous and srv.connections == 1
    finally:
        stop.set()


@pytest.mark.parametrize("name,value", [
    ("x-acs-security-token", "STS-token-value\n"),
    ("Authorization", "MNS AK:secret-signature\r\nX-Injected: 1"),
    ("x-acs-security-token", " STS-token-value"),
    ("x-acs-security-token", "STS-token-\u20ac-value"),
])
def test_a_header_http_cannot_carry_is_refused_by_name_without_being_repeated(server, name, value):
    srv = server(lambda n: ok(b"{}"))
    session = new_session()
    with pytest.raises(TransportError) as info:
        send(session, prepared("POST", f"{srv.url}/", {name: value}), timeout=(2, 2), action="SubmitAIImageJob")
    message = str(info.value)
    assert name in message and "STS-token" not in message and "secret-signature" not in message
    assert "\n" not in message and not info.value.ambiguous
    # Nothing reached the server, and the session still sends the next request cleanly.
    assert call(session, srv.url).status_code == 200
    assert srv.requests == 1 and b"secret-signature" not in srv.heads[0]
