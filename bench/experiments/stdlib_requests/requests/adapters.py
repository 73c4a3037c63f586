import http.client
import select
import socket
import threading
from urllib.parse import urlsplit

from .exceptions import ConnectionError, ConnectTimeout, ReadTimeout, RequestException
from .models import Response
from .structures import CaseInsensitiveDict


class BaseAdapter:
    def __init__(self):
        pass

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        raise NotImplementedError

    def close(self):
        pass


def _timeouts(timeout):
    if isinstance(timeout, tuple):
        return timeout[0], timeout[1] if len(timeout) > 1 else timeout[0]
    return timeout, timeout


class HTTPAdapter(BaseAdapter):
    """Keep-alive http.client connections, pooled per (scheme, host, port)."""

    def __init__(self, pool_connections=10, pool_maxsize=10, max_retries=0, pool_block=False):
        super().__init__()
        self.maxsize = pool_maxsize
        self._idle = {}
        self._lock = threading.Lock()

    def _connection(self, key, connect_timeout):
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                sock = conn.sock
                # urllib3's check: an idle socket that is readable has been closed by the server.
                if sock is not None and not select.select([sock], [], [], 0)[0]:
                    return conn
                conn.close()
        scheme, host, port = key
        cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        conn = cls(host, port, timeout=connect_timeout)
        try:
            conn.connect()
        except socket.timeout:
            raise ConnectTimeout("connect timed out") from None
        except OSError as exc:
            raise ConnectionError(exc) from exc
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = urlsplit(request.url)
        scheme = url.scheme.lower()
        key = (scheme, url.hostname, url.port or (443 if scheme == "https" else 80))
        connect_timeout, read_timeout = _timeouts(timeout)
        conn = self._connection(key, connect_timeout)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        try:
            conn.sock.settimeout(read_timeout)
            conn.request(request.method, target, body=request.body, headers=dict(request.headers.items()))
            raw = conn.getresponse()
            body = raw.read()
        except socket.timeout:
            conn.close()
            raise ReadTimeout("read timed out", request=request) from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ConnectionError(exc, request=request) from exc
        response = Response()
        response.status_code = raw.status
        response.reason = raw.reason
        response.headers = CaseInsensitiveDict(raw.getheaders())
        response._content = body
        response.url = request.url
        response.request = request
        if raw.will_close:
            conn.close()
        else:
            with self._lock:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self.maxsize:
                    idle.append(conn)
                    conn = None
            if conn is not None:
                conn.close()
        return response

    def build_response(self, req, resp):
        """A Response from a urllib3-like response (``status``, ``reason``, ``headers``, ``read()``)."""
        response = Response()
        response.status_code = resp.status
        response.reason = resp.reason
        response.headers = CaseInsensitiveDict(resp.headers)
        response._content = resp.read()
        response.url = req.url
        response.request = req
        return response

    def close(self):
        with self._lock:
            for idle in self._idle.values():
                for conn in idle:
                    conn.close()
            self._idle.clear()


__all__ = ["BaseAdapter", "HTTPAdapter", "RequestException"]
