# -*- test-case-name: tests.test_tap -*-
"""
Origins as people write them and as the endpoint compares them: the port a
scheme implies, and the C{host:port} pattern an origin setting stands for.
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import urlsplit

__all__ = ["DEFAULT_PORTS", "origin_pattern"]

#: The port an origin (or URL) of each scheme has when it names none.
DEFAULT_PORTS: Mapping[str, int] = {"http": 80, "https": 443, "ws": 80, "wss": 443}


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
