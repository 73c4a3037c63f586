import json as _json

from .structures import CaseInsensitiveDict


class Request:
    def __init__(self, method=None, url=None, headers=None, data=None, **_ignored):
        self.method, self.url, self.headers, self.data = method, url, headers or {}, data


class PreparedRequest:
    def __init__(self):
        self.method = self.url = self.body = None
        self.headers = CaseInsensitiveDict()
        self.hooks = {"response": []}

    def copy(self):
        p = PreparedRequest()
        p.method, p.url, p.body, p.headers = self.method, self.url, self.body, self.headers.copy()
        return p


class Response:
    def __init__(self):
        self.status_code = None
        self.headers = CaseInsensitiveDict()
        self._content = b""
        self.reason = None
        self.url = None
        self.request = None
        self.encoding = "utf-8"
        self.connection = None

    @property
    def content(self):
        return self._content

    @property
    def text(self):
        return self._content.decode(self.encoding or "utf-8", "replace")

    def json(self, **kwargs):
        return _json.loads(self._content, **kwargs)

    @property
    def ok(self):
        return self.status_code < 400
