"""
The HTTP side of a client: one treq client per connection attempt series,
with its own connection pool and cookie jar (kept across requests, as a
browser does, which is what C{cookie_needed} asks for), and C{/info}.
"""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any, Dict, Generator, Optional, Union

from treq.client import HTTPClient
from treq.cookies import IndexableCookieJar
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTCP
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.iweb import IPolicyForHTTPS

from ._session import ServerInfo

if TYPE_CHECKING:
    # what treq's request() fires with: an IResponse with content() and co.
    from treq.response import _Response

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
        reactor: IReactorTCP,
        tls_policy: Optional[IPolicyForHTTPS] = None,
        connect_timeout: Optional[float] = None,
        headers: Optional[Dict[str, str]] = None,
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
        # treq's CookieJar (the standard one, indexable by cookie name)
        self.cookies = IndexableCookieJar()
        self.client = HTTPClient(agent, cookiejar=self.cookies)
        self.headers = dict(headers or {})

    def request(
        self, method: str, url: str, data: bytes = b"", headers: Optional[Dict[str, str]] = None
    ) -> Deferred[_Response]:
        """
        A request whose response body is not buffered.
        """
        # (treq takes bytes or str names and values)
        all_headers: Dict[Union[bytes, str], Union[bytes, str]] = {}
        all_headers.update(self.headers)
        all_headers.update(headers or {})
        return self.client.request(method, url, data=data, headers=all_headers, unbuffered=True)

    def cookie_header(self, url: str) -> Optional[str]:
        """
        The C{Cookie} header a browser would send to C{url} (for websockets).
        """
        request = urllib.request.Request(url)
        self.cookies.add_cookie_header(request)
        return request.get_header("Cookie")

    # (what a Deferred yielded to inlineCallbacks fires with has no one type)
    @defer.inlineCallbacks
    def info(self, base_url: str) -> Generator[Deferred[Any], Any, ServerInfo]:
        """
        GET C{base_url/info}.
        """
        response: _Response = yield self.request("GET", base_url + "/info")
        body: bytes = yield response.content()
        if response.code != 200:
            raise InfoError(f"/info answered {response.code}")
        return parse_info(body)

    def close(self) -> Deferred[None]:
        """
        Close the pool's idle connections.
        """
        closed: Deferred[None] = self.pool.closeCachedConnections()
        return closed
