"""
The HTTP side of a client: one treq client per connection attempt series,
with its own connection pool and cookie jar (kept across requests, as a
browser does, which is what C{cookie_needed} asks for), and C{/info}.
"""

from __future__ import annotations

import json
import urllib.request
from http.cookiejar import CookieJar
from typing import Any, Optional

from treq.client import HTTPClient
from twisted.internet import defer
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.iweb import IPolicyForHTTPS

from ._session import ServerInfo

__all__ = ["HTTP", "InfoError", "parse_info"]


class InfoError(Exception):
    """
    C{/info} did not answer as a SockJS server does.
    """


def parse_info(body: bytes) -> ServerInfo:
    """
    The C{/info} body as a L{ServerInfo}.

    @raise InfoError: not a JSON object.
    """
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise InfoError(f"/info is not JSON: {body[:60]!r}") from None
    if not isinstance(value, dict):
        raise InfoError("/info is not a JSON object")
    origins = value.get("origins", ["*:*"])
    entropy = value.get("entropy", 0)
    return ServerInfo(
        websocket=bool(value.get("websocket", True)),
        cookie_needed=bool(value.get("cookie_needed", False)),
        origins=tuple(origins) if isinstance(origins, list) else ("*:*",),
        entropy=entropy if isinstance(entropy, int) else 0,
    )


class HTTP:
    """
    treq over one pool and one cookie jar.
    """

    def __init__(
        self,
        reactor: Any,
        tls_policy: Optional[IPolicyForHTTPS] = None,
        connect_timeout: Optional[float] = None,
        headers: Optional[dict] = None,
    ) -> None:
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        # a receiving request and a send at once, and one spare
        self.pool.maxPersistentPerHost = 3
        agent = Agent(
            reactor,
            contextFactory=tls_policy or BrowserLikePolicyForHTTPS(),
            connectTimeout=connect_timeout,
            pool=self.pool,
        )
        self.cookies = CookieJar()
        self.client = HTTPClient(agent, cookiejar=self.cookies)
        self.headers = dict(headers or {})

    def request(self, method: str, url: str, data: bytes = b"", headers: Optional[dict] = None) -> defer.Deferred:
        """
        A request whose response body is not buffered.
        """
        all_headers = dict(self.headers)
        all_headers.update(headers or {})
        return self.client.request(method, url, data=data, headers=all_headers, unbuffered=True)

    def cookie_header(self, url: str) -> Optional[str]:
        """
        The C{Cookie} header a browser would send to C{url} (for websockets).
        """
        request = urllib.request.Request(url)
        self.cookies.add_cookie_header(request)
        return request.get_header("Cookie")

    @defer.inlineCallbacks
    def info(self, base_url: str):
        """
        GET C{base_url/info}.
        """
        response = yield self.request("GET", base_url + "/info")
        body = yield response.content()
        if response.code != 200:
            raise InfoError(f"/info answered {response.code}")
        return parse_info(body)

    def close(self) -> defer.Deferred:
        """
        Close the pool's idle connections.
        """
        return self.pool.closeCachedConnections()
