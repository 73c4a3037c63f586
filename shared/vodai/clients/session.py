"""One pooled ``requests.Session`` per process, reused across warm invocations.

Reusing it keeps TCP and TLS connections alive between invocations of a warm FC instance.
Tests and the emulator pass their own session instead (a transport adapter mounted on it).
"""

from __future__ import annotations

import datetime
import http.client
import re
import threading
from typing import Optional

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.util import SKIP_HEADER
from requests.structures import CaseInsensitiveDict

from ._answer import Answer
from .transport import case_insensitive

_lock = threading.Lock()
_session: Optional[requests.Session] = None

POOL_SIZE = 16
# The direct path needs requests' adapter over urllib3's pools, not a stand-in for requests;
# without it, and for what it does not cover, requests' own send runs.
_URLLIB3_POOLS = hasattr(HTTPAdapter, "get_connection_with_tls_context")
_REQUESTS_SEND = HTTPAdapter.send


class DirectAdapter(HTTPAdapter):
    """requests' HTTPAdapter for the calls vodai makes: no proxy, no cookies, small bodies.

    Measured per request on loopback, requests' generic path cost more than the round trip itself:
    a proxy look-up and a URL parse for every request, a CA-bundle ``os.path.exists`` per HTTPS
    request, a cookie jar filled from every answer, the body streamed in chunks through generators,
    and urllib3's ``urlopen`` around one request and one response (retry and timeout objects, the
    URL checked character by character, a response object of its own). So ``send`` takes a
    connection from urllib3's pool for the origin and has ``http.client`` (urllib3's connections
    are ``http.client`` connections) send the request and read the answer whole; failures are
    raised as the requests exceptions ``HTTPAdapter.send`` raises for them. Anything else goes
    through requests' own ``send``: a streamed response, a body that is not bytes, a timeout that
    is not seconds, a path that would need encoding, and ``HTTPAdapter.send`` replaced or wrapped
    (a test's mock, as ``responses`` does, or instrumentation).
    """

    def __init__(self, pool_connections: int = POOL_SIZE, pool_maxsize: int = POOL_SIZE, **kwargs) -> None:
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize, **kwargs)
        self._pool_limit = max(1, pool_connections)
        self._pools: dict = {}
        self._verified: set = set()

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        # One pool per origin (and TLS settings), kept while urllib3 keeps it open.
        key = (_split(request.url)[0], verify, _hashable(cert))
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # a pool is closed by close() (and by older urllib3 on eviction)
            if len(self._pools) >= self._pool_limit:
                self._pools.clear()  # as many origins as urllib3 keeps pools for, no more
            pool = self._pools[key] = super().get_connection_with_tls_context(request, verify, None, cert)
        return pool

    def close(self) -> None:
        super().close()
        self._pools.clear()
        self._verified.clear()

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        path = _split(request.url)[1]
        if not _direct(request, path, stream, timeout):
            return HTTPAdapter.send(self, request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                    proxies=proxies)
        connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        try:
            pool = self.get_connection_with_tls_context(request, verify, None, cert)
        except urllib3.exceptions.LocationValueError as exc:
            raise requests.exceptions.InvalidURL(exc, request=request) from None
        self.cert_verify(pool, request.url, verify, cert)
        try:
            conn = pool._get_conn()  # waits for a free one in a blocking pool; a dropped one is reset
        except urllib3.exceptions.HTTPError as exc:  # the pool was closed meanwhile
            raise requests.ConnectionError(exc, request=request) from None
        reusable = False
        try:
            try:
                conn.timeout = connect_timeout
                if conn.is_closed:
                    conn.connect()
                pool._validate_conn(conn)  # HTTPS: warns of an unverified certificate, as urlopen does
            except (OSError, urllib3.exceptions.HTTPError) as exc:
                raise _connect_failure(exc, request) from None
            try:
                if conn.sock.gettimeout() != read_timeout:  # setting it is a system call (ioctl) every time
                    conn.sock.settimeout(read_timeout)
                data = request_bytes(conn, request.method, path, request.headers, request.body)
                if data is not None:
                    conn.sock.sendall(data)  # the request line, headers and body in one write
                    answer = Answer(conn.sock, method=request.method)
                    try:
                        answer.begin()
                    except BaseException:
                        answer.close()  # its file object holds the socket open (http.client closes it too)
                        raise
                else:  # what only http.client knows how to send (or to refuse)
                    try:
                        http.client.HTTPConnection.request(conn, request.method, path, request.body,
                                                           dict(request.headers.items()))
                    except ValueError:
                        # http.client refused a header (a line break, a control character); its
                        # message quotes the value, which may be a credential: never repeated.
                        raise requests.exceptions.InvalidHeader(
                            f"a header HTTP cannot carry: {', '.join(_unsendable(request.headers)) or 'unknown'}"
                            " (line break or control character)", request=request) from None
                    conn.response_class = Answer  # http.client's response, its header block read without the email parser
                    answer = http.client.HTTPConnection.getresponse(conn)
            except requests.exceptions.InvalidHeader:
                raise  # a requests exception is an OSError too: not a failure of the exchange
            except (OSError, http.client.HTTPException) as exc:
                raise _exchange_failure(exc, request) from None
            try:
                body = answer.read()
            except (OSError, http.client.HTTPException) as exc:
                raise _exchange_failure(exc, request, in_body=True) from None
            reusable = not answer.will_close
        finally:
            if not reusable:
                # Closed and dropped, as urlopen drops one: a request http.client refused half-way
                # leaves its first lines in the connection's buffer, to go out before the next one.
                conn.close()
                conn = None  # the pool opens a new one in its place on next use
            pool._put_conn(conn)
        return self._response(request, answer, body)

    def _response(self, request, answer: http.client.HTTPResponse, body: bytes) -> requests.Response:
        store: dict = {}
        for name, value in answer.msg.raw_items():  # as getheaders(): values decoded from latin-1 need no clean-up
            key = name.lower()
            seen = store.get(key)
            store[key] = (name, value) if seen is None else (seen[0], f"{seen[1]}, {value}")  # repeated: joined
        encoding = store.get("content-encoding", ("", "identity"))[1].strip().lower()
        content = body if encoding in ("", "identity") else _decoded(body, answer, request)
        return self._filled(request, answer.status, answer.reason, store, answer, content)

    def _filled(self, request, status: int, reason: str, store: dict, raw, content: bytes) -> requests.Response:
        """A Response as requests builds one; ``store``: lower-cased name -> (name, value), filled
        directly (CaseInsensitiveDict's constructor goes key by key)."""
        response = _Response()
        response.status_code = status
        response.headers = case_insensitive(store)
        response.raw = raw
        response.reason = reason
        response.url = request.url
        response.request = request
        response.connection = self
        response._content = content
        response._content_consumed = True
        return response

    def cert_verify(self, conn, url, verify, cert) -> None:
        key = (id(conn), verify, _hashable(cert))
        if key not in self._verified:
            super().cert_verify(conn, url, verify, cert)
            self._verified.add(key)

    def request_url(self, request, proxies) -> str:
        return _split(request.url)[1]

    def build_response(self, req, resp) -> requests.Response:
        # requests' own send (and a test's mock) ends here. The whole body at once (a small JSON or
        # XML document); reading it to the end also returns the connection to the pool. A failure
        # here is raised as requests raises it.
        store = {name.lower(): (name, value) for name, value in resp.headers.itermerged()}
        return self._filled(req, resp.status, resp.reason, store, resp, _read(resp, req))


# A request's header lines as http.client writes them, for names that are tokens and values of
# printable Latin-1 text (no CR, LF or other control character but tab): anything else is left
# to http.client, which checks and encodes it (and refuses what it must).
_PLAIN_HEADER_LINES = re.compile(r"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [\t\x20-\x7e\xa0-\xff]*\r\n)*")
_TOKENS = re.compile(r"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*)?")  # names, one per line
_METHOD = re.compile(r"[A-Z]+")
_BODY_EXPECTED = frozenset(("PATCH", "POST", "PUT"))
_LINE_BREAK_OR_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _unsendable(headers) -> list:
    """The names of the headers whose name or value holds a line break or a control character."""
    bad = _LINE_BREAK_OR_CONTROL
    return [str(name) for name, value in headers.items()
            if isinstance(name, str) and isinstance(value, str) and (bad.search(name) or bad.search(value))]


def request_bytes(conn, method: str, path: str, headers, body: Optional[bytes]) -> Optional[bytes]:
    """The bytes ``http.client.HTTPConnection.request(conn, method, path, body, headers)`` sends
    (the same request line, Host and Accept-Encoding it adds, the same header lines in the same
    order, the body), as one piece: http.client writes the body with a second ``send``, a second
    system call and a second TCP segment for each request with a body. None when http.client would
    add a length or a chunked encoding itself, or check the request harder than this does (its
    own path then sends it). ``path``: the request target, already checked as ``_direct`` checks it."""
    if type(headers) is not CaseInsensitiveDict or _METHOD.fullmatch(method) is None:
        return None
    # Its store (lower-cased name -> (name, value)) read directly: the Mapping methods go through
    # the ABCs' generators and a __getitem__ per key, which cost more than building the request.
    store = headers._store
    if ("content-length" not in store and (body is not None or method in _BODY_EXPECTED)) or "transfer-encoding" in store:
        return None
    try:
        lines = "".join([name + ": " + value + "\r\n" for name, value in store.values()])
        names = "\n".join(store)  # lower-cased: the same characters as far as the token check goes
    except TypeError:
        return None  # bytes or numbers: http.client's encoding
    if lines.count("\r\n") != len(store) or _TOKENS.fullmatch(names) is None or SKIP_HEADER in lines:
        # A line break inside a name or value, a name that is no token (": " in a name would pass
        # the line check as part of a value), or urllib3's marker for a header it leaves out.
        return None
    if "host" not in store:
        host = conn.host
        if not host.isascii() or ":" in host or getattr(conn, "_tunnel_host", None):
            return None  # IDNA, IPv6 brackets and zones, proxy tunnels: http.client's own rules
        lines = (f"Host: {host}\r\n" if conn.port == conn.default_port else f"Host: {host}:{conn.port}\r\n") + (
            "Accept-Encoding: identity\r\n" + lines if "accept-encoding" not in store else lines)
    elif "accept-encoding" not in store:
        lines = "Accept-Encoding: identity\r\n" + lines
    if _PLAIN_HEADER_LINES.fullmatch(lines) is None:
        return None
    head = f"{method} {path} HTTP/1.1\r\n{lines}\r\n".encode("latin-1")
    return head + body if body else head


class _Response(requests.Response):
    """requests' Response, minus the empty cookie jar ``Response()`` builds for every answer (a
    ``CookieJar`` with its lock and policy: more than the rest of the response together). vodai
    never reads cookies; a caller that does gets an empty jar, made then."""

    def __init__(self) -> None:
        # What Response.__init__ sets, except the jar; build_response sets the rest.
        self._content = False
        self._content_consumed = False
        self._next = None
        self.encoding = None
        self.history = []
        self.elapsed = datetime.timedelta(0)

    def __getattr__(self, name: str):
        if name == "cookies":
            from requests.cookies import cookiejar_from_dict

            self.cookies = jar = cookiejar_from_dict({})
            return jar
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _split(url: str) -> tuple:
    """(``scheme://host[:port]``, ``/path?query``) of an absolute URL, without a URL parser."""
    slash = url.find("/", url.find("//") + 2)
    return (url, "/") if slash < 0 else (url[:slash], url[slash:])


def _hashable(cert):
    return tuple(cert) if isinstance(cert, list) else cert


def _read(resp, req) -> bytes:
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    try:
        return resp.read(decode_content=True) or b""
    except ProtocolError as exc:  # as Response.iter_content maps them
        raise requests.exceptions.ChunkedEncodingError(exc, request=req) from None
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc, request=req) from None
    except ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc, request=req) from None
    except SSLError as exc:
        raise requests.exceptions.SSLError(exc, request=req) from None


def _connect_failure(exc: Exception, request) -> requests.RequestException:
    """What requests raises when urlopen could not connect (requests.adapters.HTTPAdapter.send)."""
    import ssl

    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    from urllib3.exceptions import SSLError as Urllib3SSLError

    if isinstance(exc, ConnectTimeoutError) and not isinstance(exc, NewConnectionError):
        return requests.ConnectTimeout(exc, request=request)  # nothing was sent
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError, Urllib3SSLError)):
        return requests.exceptions.SSLError(exc, request=request)
    return requests.ConnectionError(exc, request=request)  # refused or unresolved: NewConnectionError inside


def _direct(request, path: str, stream: bool, timeout) -> bool:
    """Whether ``DirectAdapter.send`` can send this itself, exactly as requests would."""
    return (not stream and _URLLIB3_POOLS
            and HTTPAdapter.send is _REQUESTS_SEND and getattr(_REQUESTS_SEND, "__module__", None) == "requests.adapters"
            and not hasattr(HTTPAdapter.send, "__wrapped__")
            and (request.body is None or isinstance(request.body, bytes))
            and (timeout is None or isinstance(timeout, (tuple, int, float)))
            # What urllib3 would percent-encode first (vodai's URLs come encoded as signed).
            and path.isascii() and path.isprintable() and " " not in path)


def _exchange_failure(exc: Exception, request, *, in_body: bool = False) -> requests.RequestException:
    """What requests raises for a failure once connected (the request may have been processed).
    Before the answer: ``ConnectionError(ProtocolError("Connection aborted.", cause))`` as urlopen
    raises it, a timeout as ``ReadTimeout``; in the body, as ``_read`` maps urllib3's."""
    import ssl

    from urllib3.exceptions import ProtocolError

    if isinstance(exc, TimeoutError):  # socket.timeout
        return (requests.ConnectionError if in_body else requests.ReadTimeout)(exc, request=request)
    if isinstance(exc, ssl.SSLError):
        return requests.exceptions.SSLError(exc, request=request)
    if in_body:
        return requests.exceptions.ChunkedEncodingError(ProtocolError(f"Connection broken: {exc!r}", exc), request=request)
    return requests.ConnectionError(ProtocolError("Connection aborted.", exc), request=request)  # reset, closed


def _decoded(body: bytes, answer: http.client.HTTPResponse, request) -> bytes:
    """A body with a Content-Encoding (vodai asks for none), decoded as urllib3 decodes it."""
    import io

    from urllib3.exceptions import DecodeError
    from urllib3.response import HTTPResponse

    try:
        return HTTPResponse(io.BytesIO(body), headers=answer.getheaders(), status=answer.status,
                            preload_content=False, decode_content=True).read()
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc, request=request) from None


def new_session(*, connections: int = POOL_SIZE, block: bool = False) -> requests.Session:
    """A session keeping up to ``connections`` open connections per endpoint.

    With ``block`` it never opens more: a request waits for one of them to be free (urllib3's
    blocking pool). That bounds the requests in flight to each endpoint however many threads
    send, which is how replay runs more workers than ``--concurrency``.
    """
    if connections < 1:
        raise ValueError("connections must be >= 1")
    session = requests.Session()
    # Retries are vodai's own decision (it knows which errors are safe to retry), never urllib3's.
    adapter = DirectAdapter(pool_connections=POOL_SIZE, pool_maxsize=connections, pool_block=block, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # vodai builds its requests directly (transport.prepared), which sets its own User-Agent.
    # Environment proxies and .netrc are not used by FC; skip their per-request look-ups.
    session.trust_env = False
    return session


def shared_session() -> requests.Session:
    global _session
    if _session is None:
        with _lock:
            if _session is None:
                _session = new_session()
    return _session
