# -*- test-case-name: tests.test_http_protocol -*-
"""
The answers of a SockJS endpoint that involve no session: the greeting,
C{/info} and the iframe page; prepared once, when the endpoint is made.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
from typing import Optional

from twisted.web.iweb import IRequest

from . import _headers as H
from ._internals import set_prepared
from ._origins import OriginPolicy
from .options import Options

__all__ = ["Pages", "method_not_allowed", "not_found", "PLAIN"]

PLAIN = b"text/plain; charset=UTF-8"
_JSON = b"application/json; charset=UTF-8"
_JSON_HEADER = H.prepared(b"content-type", _JSON)
_HTML = b"text/html; charset=UTF-8"
_GREETING = b"Welcome to SockJS!\n"

_IFRAME_PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="{sockjs_url}"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""


class Pages:
    """
    The greeting, C{/info} and the iframe page of one endpoint.

    The C{/info} entropy comes from a generator seeded once, here: SockJS
    clients use it only to tell answers apart (it is no secret), and a
    draw from the operating system on every request would cost a syscall.
    """

    def __init__(self, options: Options, origins: OriginPolicy) -> None:
        self._origins = origins
        info = json.dumps(
            {
                "websocket": options.serves("websocket"),
                "cookie_needed": bool(options.jsessionid),
                "origins": list(options.origins),
                "entropy": 0,
            },
            separators=(",", ":"),
        )
        # everything but the entropy, which is fresh for every answer
        self._info_head = info[: info.rindex("0}")].encode()
        self._entropy = random.Random().getrandbits
        page = _IFRAME_PAGE.format(sockjs_url=html.escape(options.sockjs_url, quote=True))
        self._iframe = page.encode("utf-8")
        self._iframe_etag = b'"' + hashlib.sha256(self._iframe).hexdigest()[:32].encode() + b'"'

    def greeting(self, request: IRequest) -> bytes:
        if request.method not in (b"GET", b"HEAD"):
            return method_not_allowed(request, b"GET")
        request.setHeader(b"content-type", PLAIN)
        return _GREETING

    def info(self, request: IRequest) -> bytes:
        restricted = self._origins.restricted
        if request.method == b"OPTIONS":
            return H.preflight(request, b"OPTIONS, GET", restricted)
        if request.method != b"GET":
            return method_not_allowed(request, b"OPTIONS, GET")
        H.no_cache(request)
        H.cors(request, restricted)
        set_prepared(request, _JSON_HEADER)
        return self._info_head + b"%d}" % self._entropy(32)

    def iframe(self, request: IRequest) -> bytes:
        """
        The page, cached for a year; C{304} when the client has it already.
        """
        if request.method not in (b"GET", b"HEAD"):
            return method_not_allowed(request, b"GET")
        if _etag_matches(request.getHeader(b"if-none-match"), self._iframe_etag):
            request.setResponseCode(304)
            _no_content_type(request)
            return b""
        H.cache_for_a_year(request)
        self._origins.set_frame_headers(request)
        request.setHeader(b"etag", self._iframe_etag)
        request.setHeader(b"content-type", _HTML)
        return self._iframe


def _etag_matches(header: Optional[bytes], etag: bytes) -> bool:
    if not header:
        return False
    for candidate in header.split(b","):
        candidate = candidate.strip()
        if candidate.startswith(b"W/"):
            candidate = candidate[2:]
        if candidate == etag or candidate == b"*":
            return True
    return False


def not_found(request: IRequest) -> bytes:
    return H.error(request, 404, b"Not found.")


def method_not_allowed(request: IRequest, allowed: bytes) -> bytes:
    request.setResponseCode(405)
    request.setHeader(b"allow", allowed)
    _no_content_type(request)
    return b""


def _no_content_type(request: IRequest) -> None:
    # twisted.web's Request answers text/html unless told otherwise, with an
    # attribute IRequest does not declare
    request.defaultContentType = None  # type: ignore[attr-defined]
