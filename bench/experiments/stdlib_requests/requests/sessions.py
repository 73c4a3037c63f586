from .adapters import HTTPAdapter
from .models import PreparedRequest
from .structures import CaseInsensitiveDict


class Session:
    def __init__(self):
        self.headers = CaseInsensitiveDict({"User-Agent": "python-requests-stdlib", "Accept-Encoding": "identity",
                                            "Accept": "*/*", "Connection": "keep-alive"})
        self.trust_env = True
        self.adapters = {}
        self.mount("https://", HTTPAdapter())
        self.mount("http://", HTTPAdapter())

    def mount(self, prefix, adapter):
        self.adapters[prefix] = adapter
        keys = sorted(self.adapters, key=len, reverse=True)
        self.adapters = {k: self.adapters[k] for k in keys}

    def get_adapter(self, url):
        for prefix, adapter in self.adapters.items():
            if url.lower().startswith(prefix.lower()):
                return adapter
        raise ValueError(f"no adapter for {url!r}")

    def prepare_request(self, request):
        p = PreparedRequest()
        p.method = (request.method or "GET").upper()
        p.url = request.url
        headers = CaseInsensitiveDict(self.headers)
        for k, v in (request.headers or {}).items():
            headers[k] = v
        body = request.data or None
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body is not None:
            headers["Content-Length"] = str(len(body))
        elif p.method not in ("GET", "HEAD"):
            headers["Content-Length"] = "0"
        p.headers, p.body = headers, body
        return p

    def send(self, request, **kwargs):
        kwargs.pop("allow_redirects", None)
        return self.get_adapter(request.url).send(request, **kwargs)

    def close(self):
        for adapter in self.adapters.values():
            adapter.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
