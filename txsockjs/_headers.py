"""
The HTTP headers SockJS responses carry: caching, CORS, JSESSIONID.
"""

from __future__ import annotations

import time
from typing import Callable, Tuple, Union

from twisted.web.http import datetimeToString
from twisted.web.http_headers import Headers
from twisted.web.iweb import IRequest

from ._internals import set_prepared

__all__ = [
    "NO_CACHE",
    "ONE_YEAR",
    "cors",
    "no_cache",
    "cache_for_a_year",
    "preflight",
    "set_jsessionid",
    "error",
    "prepared",
]

ONE_YEAR = 365 * 24 * 60 * 60
NO_CACHE = b"no-store, no-cache, no-transform, must-revalidate, max-age=0"
_PUBLIC_A_YEAR = b"public, max-age=%d" % ONE_YEAR
_PLAIN = b"text/plain; charset=UTF-8"


def prepared(name: bytes, value: bytes) -> Tuple[bytes, bytes]:
    """
    A response header to set with L{txsockjs._internals.set_prepared}: its
    name as C{Headers} spells it and its value as C{Headers} keeps it, both
    found once, by C{Headers} itself.
    """
    headers = Headers()
    headers.setRawHeaders(name, [value])
    ((spelled, values),) = headers.getAllRawHeaders()
    return spelled, values[0]


_NO_CACHE_HEADER = prepared(b"cache-control", NO_CACHE)


def cors(request: IRequest, restricted: bool = False) -> None:
    """
    Let the requesting origin read the answer, with credentials.

    @param restricted: the endpoint accepts only some origins (and refused
        the others already): no C{*} for a request with no C{Origin}.
    """
    origin = request.getHeader(b"origin")
    setHeader = request.responseHeaders.setRawHeaders
    if origin is None:
        if restricted:
            return
        setHeader(b"access-control-allow-origin", [b"*"])
    else:
        setHeader(b"access-control-allow-origin", [origin])
        setHeader(b"access-control-allow-credentials", [b"true"])
    wanted = request.getHeader(b"access-control-request-headers")
    if wanted:
        setHeader(b"access-control-allow-headers", [wanted])


def no_cache(request: IRequest) -> None:
    set_prepared(request, _NO_CACHE_HEADER)


def cache_for_a_year(request: IRequest) -> None:
    headers = request.responseHeaders
    headers.setRawHeaders(b"cache-control", [_PUBLIC_A_YEAR])
    headers.setRawHeaders(b"expires", [datetimeToString(time.time() + ONE_YEAR)])


def preflight(request: IRequest, methods: bytes, restricted: bool = False) -> bytes:
    """
    Answer a CORS preflight (C{OPTIONS}) allowing C{methods}.
    """
    request.setResponseCode(204)
    cache_for_a_year(request)
    cors(request, restricted)
    headers = request.responseHeaders
    headers.setRawHeaders(b"access-control-allow-methods", [methods])
    headers.setRawHeaders(b"access-control-max-age", [b"%d" % ONE_YEAR])
    # twisted.web's Request (not IRequest) would add "text/html"
    request.defaultContentType = None  # type: ignore[attr-defined]
    return b""


def set_jsessionid(
    request: IRequest, option: Union[None, bool, Callable[[IRequest], object]]
) -> None:
    """
    Set the JSESSIONID cookie as C{Options.jsessionid} says.
    """
    if not option:
        return
    if callable(option):
        option(request)
        return
    # Written by hand: addCookie says "Path=/", and the reference test
    # suite (like sockjs-node) wants exactly "JSESSIONID=<value>; path=/".
    value = request.getCookie(b"JSESSIONID") or b""
    value = b" ".join(value.replace(b";", b" ").split()) or b"dummy"
    # http.Request's list of Set-Cookie values; IRequest does not declare it
    request.cookies.append(b"JSESSIONID=" + value + b"; path=/")  # type: ignore[attr-defined]


def error(request: IRequest, code: int, message: bytes) -> bytes:
    """
    A plain-text error answer.
    """
    request.setResponseCode(code)
    request.responseHeaders.setRawHeaders(b"content-type", [_PLAIN])
    return message
