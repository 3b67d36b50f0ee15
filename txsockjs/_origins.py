# -*- test-case-name: tests.test_http_protocol -*-
"""
Origins as people write them and as the endpoint compares them: which
origins may use a SockJS endpoint (C{Options.origins} patterns or
C{Options.check_origin}, a server's own origin), the headers that say who
may frame the pages that run in frames (the iframe page, C{htmlfile}), and
the C{host:port} pattern an origin setting stands for.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Iterable, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from twisted.web.iweb import IRequest

from .options import Options

__all__ = ["OriginPolicy", "origin_matches", "DEFAULT_PORTS", "origin_pattern"]

# a host:port pattern CSP's frame-ancestors can say as it is
_CSP_HOST = re.compile(r"\*|(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*")
_CSP_PORT = re.compile(r"\*|[0-9]{1,5}")

#: The port an origin (or URL) of each scheme has when it names none.
DEFAULT_PORTS: Mapping[str, int] = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class OriginPolicy:
    """
    The origin checks of one endpoint, decided once from its L{Options}.

    @ivar restricted: only some origins are allowed (no C{check_origin}, no
        C{*:*} pattern): CORS answers name only those, and the pages that
        run in frames refuse the others and say who may frame them.
    """

    def __init__(self, options: Options) -> None:
        self._patterns = tuple(options.origins)
        self._check = options.check_origin
        self.restricted = options.check_origin is None and "*:*" not in options.origins
        self._frame_headers = _frame_headers(self._patterns) if self.restricted else ()

    def allows(self, request: IRequest) -> bool:
        """
        Whether the request's C{Origin} may use the endpoint (a request
        without one may: it is not a browser's cross-origin request).
        """
        if self._check is not None:
            return bool(self._check(request))
        if not self.restricted:
            return True
        origin = request.getHeader(b"origin")
        if origin is None:
            return True
        return self._allowed(origin.decode("latin-1"), request)

    def allows_framed(self, request: IRequest) -> bool:
        """
        With restricted origins, the iframe page, C{htmlfile} and JSONP need
        an origin to check: C{Origin}, or else the origin of C{Referer}
        (what a browser sends for frames and scripts); with neither they are
        refused, as Spring refuses them.
        """
        if not self.restricted:
            return True
        origin = request.getHeader(b"origin")
        if origin is None:
            referer = request.getHeader(b"referer")
            if referer is None:
                return False
            try:
                parts = urlsplit(referer.decode("latin-1"))
            except ValueError:
                return False
            if not parts.scheme or not parts.netloc:
                return False
            origin = f"{parts.scheme}://{parts.netloc}".encode("latin-1")
        return self._allowed(origin.decode("latin-1"), request)

    def set_frame_headers(self, request: IRequest) -> None:
        """
        Say who may frame this answer (nothing to say when every origin may).
        """
        for name, value in self._frame_headers:
            request.responseHeaders.setRawHeaders(name, [value])

    def _allowed(self, origin: str, request: IRequest) -> bool:
        return origin_matches(origin, self._patterns) or _same_origin(origin, request)


def _origin_host_port(origin: str) -> Optional[Tuple[str, int]]:
    """
    The lower-cased host and the port of an origin (C{scheme://host[:port]}),
    or C{None} when it is malformed (a port past 65535 included).
    """
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    if port is None:
        port = DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    return parts.hostname.lower(), port


def origin_matches(origin: str, patterns: Iterable[str]) -> bool:
    """
    Whether an C{Origin} header value matches one of the C{host:port}
    patterns (C{*} matches anything in its part; hosts compare without
    regard to case). C{null} matches only a C{null} pattern; a malformed
    origin matches nothing.
    """
    if origin == "null":
        return "null" in patterns
    found = _origin_host_port(origin)
    if found is None:
        return False
    host, port = found
    for pattern in patterns:
        host_pattern, _, port_pattern = pattern.rpartition(":")
        if not host_pattern:
            host_pattern, port_pattern = port_pattern, "*"
        if fnmatch.fnmatchcase(host, host_pattern.lower()) and fnmatch.fnmatchcase(
            str(port), port_pattern
        ):
            return True
    return False


def _same_origin(origin: str, request: IRequest) -> bool:
    """
    Whether C{origin} is the origin the request was sent to (its C{Host}):
    a server's own pages may always use it.
    """
    found = _origin_host_port(origin)
    host_header = request.getHeader(b"host")
    if found is None or not host_header:
        return False
    scheme = "https" if request.isSecure() else "http"
    own = _origin_host_port(f"{scheme}://{host_header.decode('latin-1')}")
    return own is not None and own == found and origin.lower().startswith(scheme + ":")


def _frame_headers(patterns: Iterable[str]) -> Tuple[Tuple[bytes, bytes], ...]:
    """
    The headers that let only the allowed origins frame the iframe page and
    C{htmlfile}: CSP C{frame-ancestors} with the patterns it can express
    (others are left out, which refuses them), and C{X-Frame-Options:
    SAMEORIGIN} for browsers without CSP when no other origin may frame.
    """
    sources = ["'self'"]
    for pattern in patterns:
        host, _, port = pattern.lower().rpartition(":")
        if not host:
            host, port = port, "*"
        if _CSP_HOST.fullmatch(host) and _CSP_PORT.fullmatch(port):
            sources.append(f"{host}:{port}")
    headers = [(b"content-security-policy", ("frame-ancestors " + " ".join(sources)).encode())]
    if len(sources) == 1:
        headers.append((b"x-frame-options", b"SAMEORIGIN"))
    return tuple(headers)


def origin_pattern(spec: str) -> str:
    """
    The C{host:port} pattern (as C{/info} reports them) an origin setting
    stands for: such a pattern as it is (C{*:*}, C{example.com:8080}), a
    bare host for any port (C{example.com} gives C{example.com:*}), or an
    origin URL with the port its scheme implies (C{https://example.com}
    gives C{example.com:443}).

    @raise ValueError: nothing given, or a URL with no host; the message
        says which.
    """
    spec = spec.strip()
    if not spec:
        raise ValueError("expected an origin URL or a host:port pattern")
    if "://" in spec:
        parts = urlsplit(spec)
        host = parts.hostname or ""
        if not host:
            raise ValueError("no host in this URL")
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        return f"{host}:{port if port is not None else '*'}"
    if spec == "null" or ":" in spec:
        return spec
    return f"{spec}:*"
