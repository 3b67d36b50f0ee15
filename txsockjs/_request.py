"""
What a session keeps of the HTTP request that opened it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from twisted.internet.interfaces import IAddress
from twisted.web.http_headers import Headers
from twisted.web.iweb import IRequest

__all__ = ["RequestInfo"]


@dataclass(frozen=True)
class RequestInfo:
    """
    What the session keeps of the HTTP request that opened it: a copy, so
    that the request itself (and its connection) can go once it is done.
    """

    method: bytes
    uri: bytes
    path: bytes
    headers: Headers
    peer: IAddress
    host: IAddress
    cookies: Mapping[bytes, bytes]
    is_secure: bool

    @classmethod
    def from_request(cls, request: IRequest) -> "RequestInfo":
        # twisted.web's Request keeps the cookies it parsed; IRequest does
        # not name that attribute
        cookies: Mapping[bytes, bytes] = getattr(request, "received_cookies", {})
        return cls(
            method=request.method,
            uri=request.uri,
            path=request.path,
            headers=request.requestHeaders,
            peer=request.getClientAddress(),
            host=request.getHost(),
            cookies=dict(cookies),
            is_secure=request.isSecure(),
        )
