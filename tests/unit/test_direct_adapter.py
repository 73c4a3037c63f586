"""vodai's requests adapter (vodai.clients.session.DirectAdapter) over real sockets: keep-alive
reuse, pools replaced when urllib3 closes them, bodies read whole (gzip too), and failures while
reading a body classified like any other transport failure."""

from __future__ import annotations

import gzip
import socket
import threading

import pytest
import requests

from vodai.clients._answer import Answer
from vodai.clients.session import DirectAdapter, new_session
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


def test_new_session_mounts_the_direct_adapter():
    session = new_session()
    assert isinstance(session.get_adapter("https://vod.cn-shanghai.aliyuncs.com/"), DirectAdapter)
    assert isinstance(session.get_adapter("http://127.0.0.1:1/"), DirectAdapter)


def test_many_requests_share_one_keep_alive_connection(server):
    srv = server(lambda n: ok(b'{"n":%d}' % n))
    session = new_session()
    bodies = [call(session, srv.url).content for _ in range(20)]
    assert bodies == [b'{"n":%d}' % n for n in range(1, 21)]
    assert srv.connections == 1 and srv.requests == 20


def test_the_response_is_what_requests_would_build(server):
    # build_response fills the headers' store directly and makes no cookie jar up front: the
    # answer must still read as requests' own (repeated headers joined, names case-insensitive).
    srv = server(lambda n: ok(b'{"a":1}', extra=b"X-Vodai: one\r\nx-vodai: two\r\nSet-Cookie: s=1\r\n"))
    response = call(new_session(), srv.url)
    assert isinstance(response, requests.Response)
    assert (response.status_code, response.reason, response.json()) == (200, "OK", {"a": 1})
    assert response.headers["X-VODAI"] == "one, two"
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.raw, Answer)  # read with the response class whose header parse skips the email parser
    assert response.url == f"{srv.url}/?Action=x" and response.history == [] and response.ok
    assert len(response.cookies) == 0  # vodai ignores cookies: the jar is empty, made on first use
    assert response.cookies is response.cookies
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        response.missing


def test_the_path_and_query_are_sent_as_prepared(server):
    seen = []

    def answer(n):
        return ok(b"{}")

    srv = server(answer)
    session = new_session()
    adapter = session.get_adapter(srv.url)
    request = prepared("POST", f"{srv.url}/a/b?x=%2F&y=1", {})
    assert adapter.request_url(request, None) == "/a/b?x=%2F&y=1"
    assert adapter.request_url(prepared("POST", srv.url, {}), None) == "/"
    send(session, request, timeout=(2, 2), action="x")
    seen.append(srv.requests)
    assert seen == [1]


def test_a_closed_session_opens_new_connections(server):
    srv = server(lambda n: ok(b"{}"))
    session = new_session()
    call(session, srv.url)
    session.close()
    assert call(session, srv.url).status_code == 200
    assert srv.connections == 2


def test_more_origins_than_pools_are_all_served(server):
    """urllib3 keeps at most ``pool_connections`` pools; the adapter keeps no more than that either."""
    import requests

    one, two = server(lambda n: ok(b"1")), server(lambda n: ok(b"2"))
    session = requests.Session()
    session.mount("http://", DirectAdapter(pool_connections=1, pool_maxsize=1, max_retries=0))
    answers = [call(session, url).content for url in (one.url, two.url, one.url, two.url)]
    assert answers == [b"1", b"2", b"1", b"2"]
    assert len(session.get_adapter(one.url)._pools) == 1


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


# -- the direct path: http.client over urllib3's pooled connections ---------------------------


def test_requests_are_sent_without_urllib3s_urlopen(server, monkeypatch):
    # The per-request cost this adapter exists to avoid; a regression here is silent otherwise.
    from urllib3.connectionpool import HTTPConnectionPool

    def refuse(*args, **kwargs):
        raise AssertionError("urlopen was called")

    monkeypatch.setattr(HTTPConnectionPool, "urlopen", refuse)
    srv = server(lambda n: ok(b'{"n":%d}' % n))
    session = new_session()
    assert [call(session, srv.url).json() for _ in range(3)] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert srv.connections == 1


def test_a_mock_of_requests_send_still_intercepts_it():
    # `responses` replaces HTTPAdapter.send: the adapter must then go through it, not the network.
    import responses

    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "http://127.0.0.1:9/", json={"JobId": "mocked"})
        assert call(new_session(), "http://127.0.0.1:9").json() == {"JobId": "mocked"}


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
        __import__("time").sleep(0.05)  # the close reaches the client before the next request
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
    finally:
        stop.set()


def test_a_connection_closed_before_the_answer_is_ambiguous_and_keeps_requests_shape(server):
    srv = server(lambda n: lambda conn: None)  # reads the request, closes without a word
    session = new_session()
    adapter = session.get_adapter(srv.url)
    with pytest.raises(requests.ConnectionError) as info:
        adapter.send(prepared("POST", f"{srv.url}/?Action=x", {}), timeout=(2, 2))
    from urllib3.exceptions import ProtocolError

    [protocol_error] = info.value.args
    assert isinstance(protocol_error, ProtocolError) and protocol_error.args[0] == "Connection aborted."
    with pytest.raises(TransportError) as classified:
        call(session, srv.url)
    assert classified.value.ambiguous


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
        adapter = new_session().get_adapter(url)
        response = adapter.send(prepared("POST", f"{url}/?Action=x", {}), timeout=(2, 2), verify=str(cert))
        assert response.json() == {"tls": True}
    finally:
        listener.close()


@pytest.mark.parametrize("case", ["bytes", "str body", "urllib3 Timeout", "unencoded path", "stream"])
def test_what_the_direct_path_leaves_to_requests_own_send(server, monkeypatch, case):
    # requests encodes a str body as UTF-8, accepts urllib3's Timeout and percent-encodes a raw
    # path; http.client would do none of that. Those requests take requests' own path.
    from urllib3.connectionpool import HTTPConnectionPool
    from urllib3.util.timeout import Timeout

    used = []
    real = HTTPConnectionPool.urlopen
    monkeypatch.setattr(HTTPConnectionPool, "urlopen", lambda *a, **kw: used.append(1) or real(*a, **kw))
    srv = server(lambda n: ok(b'{"ok":true}'))
    adapter = new_session().get_adapter(srv.url)
    body, timeout, path, stream = b"{}", (2, 2), "/?Action=x", False
    if case == "str body":
        body = '{"é":1}'
    elif case == "urllib3 Timeout":
        timeout = Timeout(connect=2, read=2)
    elif case == "unencoded path":
        path = "/a b?x=é"
    elif case == "stream":
        stream = True
    request = prepared("POST", srv.url + path, {})
    request.body = body
    response = adapter.send(request, timeout=timeout, stream=stream)
    assert response.status_code == 200 and response.content == b'{"ok":true}'
    assert len(used) == (0 if case == "bytes" else 1)


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


class _Recorder:
    """A socket that keeps what is written to it."""

    def __init__(self) -> None:
        self.writes = []

    def sendall(self, data) -> None:
        self.writes.append(bytes(data))


def _http_client_sends(scheme: str, host: str, port: int, method: str, path: str, headers, body) -> bytes:
    """The oracle: what http.client's own request() writes for this request on a connection of
    urllib3's pool (the adapter's path before 2026-12), every write joined."""
    from urllib3.connection import HTTPConnection, HTTPSConnection

    conn = (HTTPSConnection if scheme == "https" else HTTPConnection)(host, port)
    conn.sock = _Recorder()
    import http.client

    http.client.HTTPConnection.request(conn, method, path, body, dict(headers.items()))
    return b"".join(conn.sock.writes)


_SIGNED = {"Accept": "application/json", "x-acs-action": "SubmitAIImageJob", "Authorization": "ACS3-HMAC-SHA256 Credential=AK,Signature=ab"}


@pytest.mark.parametrize("scheme,host,port,method,headers,body", [
    ("http", "127.0.0.1", 8123, "POST", {"Content-Type": "text/xml;charset=utf-8", "x-mns-version": "2015-06-06"}, b"<Message>x</Message>"),
    ("http", "127.0.0.1", 8123, "POST", _SIGNED, b""),
    ("https", "vod.cn-shanghai.aliyuncs.com", 443, "POST", {**_SIGNED, "host": "vod.cn-shanghai.aliyuncs.com"}, b""),
    ("http", "mns.example", 80, "GET", {"Accept-Encoding": "gzip"}, None),
    ("http", "mns.example", 80, "POST", {"Accept-Encoding": "gzip", "Host": "other"}, b"{}"),
    ("http", "example.com", 8080, "PUT", {"X-Latin": "caf\u00e9 \t tab", "X-Empty": ""}, b"\x00\xff binary"),
])
def test_a_request_is_written_once_as_http_client_writes_it_in_pieces(scheme, host, port, method, headers, body):
    from urllib3.connection import HTTPConnection, HTTPSConnection

    from vodai.clients.session import request_bytes

    request = prepared(method, f"{scheme}://{host}:{port}/p?q=1", headers, body if body is not None else b"")
    request.body = body
    if body is None:
        del request.headers["content-length"]
    expected = _http_client_sends(scheme, host, port, method, "/p?q=1", request.headers, body)
    conn = (HTTPSConnection if scheme == "https" else HTTPConnection)(host, port)
    assert request_bytes(conn, method, "/p?q=1", request.headers, body) == expected
    assert expected.count(b"\r\n\r\n") >= 1 and expected.startswith(f"{method} /p?q=1 HTTP/1.1\r\n".encode())


@pytest.mark.parametrize("case", ["C1 control", "bytes value", "IPv6 host", "name with a space", "header injection",
                                  "no length for a body", "a plain dict", "lower-case method", "chunked",
                                  "colon in a name", "empty name", "urllib3's skip marker"])
def test_what_the_one_write_leaves_to_http_client(server, case):
    # request_bytes answers None and the adapter sends through http.client, which encodes it the
    # same way it always did, or refuses it with its own error (before anything is written).
    from urllib3.connection import HTTPConnection

    from vodai.clients.session import request_bytes

    host, method, body = "127.0.0.1", "POST", b"{}"
    request = prepared(method, "http://127.0.0.1:1/", {})
    headers = request.headers
    if case == "C1 control":
        headers["X-Odd"] = "a\x85b"
    elif case == "bytes value":
        headers["X-Bytes"] = b"raw"
    elif case == "IPv6 host":
        host = "::1"
    elif case == "name with a space":
        headers["Bad Name"] = "x"
    elif case == "header injection":
        headers["X-Note"] = "a\r\nX-Injected: 1"
    elif case == "no length for a body":
        del headers["content-length"]
    elif case == "a plain dict":
        headers = dict(headers)
    elif case == "lower-case method":
        method = "post"
    elif case == "chunked":
        headers["Transfer-Encoding"] = "chunked"
    elif case == "colon in a name":
        headers["Host: evil"] = "x"  # joined, "Host: evil: x" would read as a second Host line
    elif case == "empty name":
        headers[""] = "x"
    elif case == "urllib3's skip marker":
        from urllib3.util import SKIP_HEADER

        headers["User-Agent"] = SKIP_HEADER
    assert request_bytes(HTTPConnection(host, 1), method, "/", headers, body) is None
    if case in ("name with a space", "header injection"):
        srv = server(lambda n: ok(b"{}"))
        request = prepared("POST", f"{srv.url}/", {})
        request.headers.update({k: v for k, v in headers.items() if k in ("Bad Name", "X-Note")})
        adapter = new_session().get_adapter(srv.url)
        if case == "header injection":
            with pytest.raises(requests.exceptions.InvalidHeader) as info:
                adapter.send(request, timeout=(2, 2))
            assert "X-Note" in str(info.value) and "Injected" not in str(info.value)  # the name, never the value
            assert srv.requests == 0  # refused before anything was written
        else:  # http.client takes a space inside a name
            assert adapter.send(request, timeout=(2, 2)).status_code == 200 and srv.requests == 1


def test_vodais_own_requests_are_written_without_http_clients_request(server, monkeypatch):
    import http.client

    used = []
    real = http.client.HTTPConnection.request
    monkeypatch.setattr(http.client.HTTPConnection, "request", lambda *a, **kw: used.append(1) or real(*a, **kw))
    srv = server(lambda n: ok(b'{"n":%d}' % n))
    session = new_session()
    assert [call(session, srv.url).json() for _ in range(3)] == [{"n": 1}, {"n": 2}, {"n": 3}]
    request = prepared("POST", f"{srv.url}/", {"X-Odd": "a\x85b"})  # left to http.client: sent all the same
    assert send(session, request, timeout=(2, 2), action="x").json() == {"n": 4}
    assert used == [1] and srv.connections == 1


def test_the_one_write_matches_http_client_over_random_headers():
    # 3,000 header sets drawn from an alphabet with the characters that matter (CR, LF, tab, space,
    # colon, DEL, C1 controls, Latin-1, beyond Latin-1): either http.client's exact bytes, or None
    # (left to http.client); never bytes for a request http.client refuses.
    import random

    from urllib3.connection import HTTPConnection

    from vodai.clients.session import request_bytes

    rng = random.Random(20261206)
    name_chars = "abcXYZ-_.09!#~ :\r\n\t\x85é"
    special = ["Host", "host", "Accept-Encoding", "Transfer-Encoding", "Content-Length", "Host: x", "a: b", ""]
    value_chars = "abc XYZ-_=/;,.09\t:\r\n\x00\x7f\x85\xa0é€"
    fast = refused = 0
    for _ in range(3000):
        headers = requests.structures.CaseInsensitiveDict()
        for _ in range(rng.randint(0, 6)):
            name = "".join(rng.choice(name_chars if rng.random() < 0.1 else "abcXYZ-") for _ in range(rng.randint(1, 8)))
            name = rng.choice(special) if rng.random() < 0.15 else name
            headers[name] = "".join(rng.choice(value_chars if rng.random() < 0.2 else "abc XYZ-=") for _ in range(rng.randint(0, 10)))
        body = rng.choice([None, b"", b"{}", b"<x/>" * 5])
        if body is not None or rng.random() < 0.5:
            headers["Content-Length"] = str(len(body or b""))
        try:
            expected = _http_client_sends("http", "127.0.0.1", 8123, "POST", "/?a=1", headers, body)
        except (ValueError, UnicodeEncodeError):
            expected = None
            refused += 1
        got = request_bytes(HTTPConnection("127.0.0.1", 8123), "POST", "/?a=1", headers, body)
        assert got is None or got == expected, (dict(headers), body)
        fast += got is not None
    assert fast > 800 and refused > 100  # both sides were exercised


def test_each_request_gets_its_own_read_timeout_on_a_reused_connection(server):
    # The socket's timeout is set only when it changes (each setting is a system call): a second
    # request on the same connection with a shorter read timeout must still time out by it.
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


def test_a_refused_request_leaves_nothing_behind_for_the_next_one(server):
    # http.client refuses a header half-way through writing the request's lines into the
    # connection's buffer; that connection is dropped, so nothing of it (the Authorization line
    # above all) goes out ahead of the next request, which goes through http.client too.
    srv = server(lambda n: ok(b"{}"))
    session = new_session()
    refused = prepared("POST", f"{srv.url}/first", {"Authorization": "MNS AK:secret-signature", "X-Note": "a\r\nb"})
    with pytest.raises(TransportError) as info:
        send(session, refused, timeout=(2, 2), action="x")
    assert not info.value.ambiguous and "secret-signature" not in str(info.value) and "a\r\nb" not in str(info.value)
    after = prepared("POST", f"{srv.url}/second", {"X-Odd": "a\x85b"})  # left to http.client
    assert send(session, after, timeout=(2, 2), action="x").status_code == 200
    assert srv.requests == 1 and srv.heads[0].startswith(b"POST /second HTTP/1.1\r\n")
    assert b"secret-signature" not in srv.heads[0]


def test_a_credential_with_a_line_break_is_refused_without_being_repeated(server):
    srv = server(lambda n: ok(b"{}"))
    request = prepared("POST", f"{srv.url}/", {"x-acs-security-token": "STS-token-value\n"})
    with pytest.raises(TransportError) as info:
        send(new_session(), request, timeout=(2, 2), action="SubmitAIImageJob")
    assert "x-acs-security-token" in str(info.value) and "STS-token-value" not in str(info.value)
    assert not info.value.ambiguous and srv.requests == 0
