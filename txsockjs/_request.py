"""
What a session keeps of the HTTP request that opened it.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, Mapping, Optional, Tuple

from twisted.internet.interfaces import IAddress
from twisted.web.http_headers import Headers
from twisted.web.iweb import IRequest

__all__ = ["RequestInfo"]

#: name, value, name, value...: one flat tuple of bytes, which the collector
#: stops tracking at its first pass (nested tuples take one pass a level)
_RawHeaders = Tuple[bytes, ...]

_FIELDS = ("method", "uri", "path", "headers", "peer", "host", "cookies", "is_secure")


def _compact(headers: Optional[Headers]) -> Optional[_RawHeaders]:
    if headers is None:
        return None
    # (Headers._rawHeaders, by canonical name: see txsockjs._internals)
    return tuple(
        part
        for name, values in headers._rawHeaders.items()
        for value in values
        for part in (name, value)
    )


class RequestInfo:
    """
    What the session keeps of the HTTP request that opened it: a copy, so
    that the request itself (and its connection) can go once it is done.
    Frozen, like a frozen dataclass of its eight fields.

    The headers are kept as tuples of bytes and made into a C{Headers} the
    first time they are asked for: tuples of bytes are no work for Python's
    cyclic garbage collector, which otherwise walks a dict and a list per
    header of every session each time it collects the oldest generation
    (about 40 % of a websocket open's CPU is that collector,
    C{bench/RESULTS.md}).
    """

    __slots__ = (
        "method",
        "uri",
        "path",
        "peer",
        "host",
        "cookies",
        "is_secure",
        "_raw_headers",
        "_headers",
    )

    method: bytes
    uri: bytes
    path: bytes
    peer: IAddress
    host: IAddress
    cookies: Mapping[bytes, bytes]
    is_secure: bool
    _raw_headers: Optional[_RawHeaders]
    _headers: Optional[Headers]

    def __init__(
        self,
        method: bytes,
        uri: bytes,
        path: bytes,
        headers: Headers,
        peer: IAddress,
        host: IAddress,
        cookies: Mapping[bytes, bytes],
        is_secure: bool,
    ) -> None:
        put = object.__setattr__
        put(self, "method", method)
        put(self, "uri", uri)
        put(self, "path", path)
        put(self, "peer", peer)
        put(self, "host", host)
        put(self, "cookies", cookies)
        put(self, "is_secure", is_secure)
        put(self, "_raw_headers", _compact(headers))
        put(self, "_headers", None)

    @property
    def headers(self) -> Headers:
        """
        The request's headers (a C{twisted.web.http_headers.Headers}).
        """
        headers: Optional[Headers] = self._headers
        if headers is None:
            raw: Optional[_RawHeaders] = self._raw_headers
            if raw is None:
                return None  # type: ignore[return-value]
            headers = Headers()
            for at in range(0, len(raw), 2):
                headers.addRawHeader(raw[at], raw[at + 1])
            object.__setattr__(self, "_headers", headers)
        return headers

    @classmethod
    def from_request(cls, request: IRequest) -> "RequestInfo":
        # twisted.web's Request keeps the cookies it parsed; IRequest does
        # not name that attribute
        cookies: Mapping[bytes, bytes] = getattr(request, "received_cookies", {})
        return cls(
            request.method,
            request.uri,
            request.path,
            request.requestHeaders,
            request.getClientAddress(),
            request.getHost(),
            dict(cookies),
            request.isSecure(),
        )

    def _values(self) -> Tuple[Any, ...]:
        return (
            self.method,
            self.uri,
            self.path,
            self._raw_headers,
            self.peer,
            self.host,
            self.cookies,
            self.is_secure,
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, RequestInfo)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS)
        return f"RequestInfo({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
