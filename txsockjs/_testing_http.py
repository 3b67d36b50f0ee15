"""
The client side of one in-memory HTTP connection: raw requests out, the
response parsed as far as it arrived (the HTTP half of L{txsockjs.testing}).
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Protocol as _Protocol, Sequence, Tuple, Union

from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

__all__ = ["Exchange", "HOST", "dechunk", "request_bytes", "Connector"]

#: The server's address as the in-memory clients name it (C{Host} header).
HOST = "127.0.0.1:8080"


class Connector(_Protocol):
    """
    What an L{Exchange} needs of the in-memory server: a way to connect a
    client protocol, and a way to let the server answer. (A seam, so that
    this module need not import the server, which imports it.)
    """

    def _connect(self, client: Protocol) -> None:
        """
        Connect C{client} to a new server connection.
        """
        ...

    def flush(self) -> None:
        """
        Move every byte both ways and run what is due now.
        """
        ...


def dechunk(raw: bytes) -> Tuple[bytes, bool, List[bytes]]:
    """
    Decode as much of a chunked body as arrived: the body so far, whether the
    last chunk came, and the chunks themselves.

    @raise AssertionError: a chunk is not followed by CRLF (bad framing).
    """
    chunks: List[bytes] = []
    pos = 0
    while True:
        end = raw.find(b"\r\n", pos)
        if end < 0:
            return b"".join(chunks), False, chunks
        size = int(raw[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(chunks), True, chunks
        start = end + 2
        if len(raw) < start + size + 2:
            return b"".join(chunks), False, chunks
        chunks.append(raw[start : start + size])
        if raw[start + size : start + size + 2] != b"\r\n":
            trailer = raw[start + size : start + size + 2]
            raise AssertionError(f"bad chunk trailer after {size} bytes: {trailer!r}")
        pos = start + size + 2


def request_bytes(
    method: str,
    path: str,
    headers: Optional[Mapping[str, Union[str, Sequence[str]]]],
    body: bytes,
    version: str = "HTTP/1.1",
    close: bool = True,
) -> bytes:
    """
    The bytes of one HTTP request as a client sends it: C{Host} unless
    given, C{Connection: close} with C{close}, C{Content-Length} for a body.
    """
    lines = [f"{method} {path} {version}"]
    names = {name.lower() for name in headers or {}}
    if "host" not in names:
        lines.append(f"Host: {HOST}")
    for name, value in (headers or {}).items():
        for item in [value] if isinstance(value, str) else value:
            lines.append(f"{name}: {item}")
    if close and "connection" not in names:
        lines.append("Connection: close")
    if (body or method in ("POST", "PUT")) and "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


class _Client(Protocol):
    """
    The client side of one in-memory connection: keeps every byte.
    """

    def __init__(self) -> None:
        self.data = b""
        self.closed = False
        self.reason: Optional[Failure] = None

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.closed = True
        self.reason = reason


class Exchange:
    """
    One client connection to the server and the first response on it, as the
    bytes arrived (it may still be arriving: see L{finished}).

    @ivar data: every byte the server sent on the connection.
    @ivar closed: whether the connection is closed.
    """

    def __init__(self, server: Connector, method: bytes = b"") -> None:
        self._server = server
        self._client = _Client()
        self._method = method
        self._server._connect(self._client)

    # -- the client's side

    def send(self, data: bytes) -> None:
        """
        Write raw bytes to the server (more requests on a kept-alive
        connection, garbage, ...), then let the server answer.
        """
        transport = self._client.transport
        assert transport is not None
        transport.write(data)
        self._server.flush()

    def abort(self) -> None:
        """
        Drop the connection, as a client that goes away does.
        """
        if not self._client.closed:
            self._client.transport.loseConnection()  # type: ignore[union-attr]
            self._server.flush()

    # -- what arrived

    @property
    def data(self) -> bytes:
        return self._client.data

    @property
    def closed(self) -> bool:
        return self._client.closed

    def _head(self) -> Tuple[bytes, bytes]:
        head, sep, rest = self._client.data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"no complete response head yet: {self._client.data[:300]!r}")
        return head, rest

    @property
    def started(self) -> bool:
        """
        Whether the status line and headers arrived.
        """
        return b"\r\n\r\n" in self._client.data

    @property
    def version(self) -> bytes:
        return self._head()[0].split(b" ", 1)[0]

    @property
    def code(self) -> int:
        return int(self._head()[0].split(b" ", 2)[1])

    @property
    def headers(self) -> Dict[str, List[str]]:
        """
        The response headers by lower-case name.
        """
        result: Dict[str, List[str]] = {}
        for line in self._head()[0].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            result.setdefault(name.strip().lower().decode("latin-1"), []).append(
                value.strip().decode("latin-1")
            )
        return result

    def header(self, name: str) -> Optional[str]:
        """
        A response header's values joined with C{", "}, or C{None}.
        """
        values = self.headers.get(name.lower())
        return None if not values else ", ".join(values)

    @property
    def chunked(self) -> bool:
        return "chunked" in (self.header("transfer-encoding") or "").lower()

    @property
    def raw_body(self) -> bytes:
        """
        The bytes after the head, chunk framing included.
        """
        return self._head()[1]

    @property
    def chunks(self) -> List[bytes]:
        """
        The body's chunks as they were sent (one element if not chunked).
        """
        if self.chunked:
            return dechunk(self.raw_body)[2]
        return [self.raw_body]

    @property
    def body(self) -> bytes:
        """
        The body so far, without chunk framing (and without anything a
        kept-alive connection carried after it).
        """
        if not self.started:
            return b""
        raw = self.raw_body
        if self.chunked:
            return dechunk(raw)[0]
        length = self.header("content-length")
        return raw if length is None else raw[: int(length)]

    @property
    def finished(self) -> bool:
        """
        Whether the response ended: last chunk, full content length, or the
        connection closed.
        """
        if not self.started:
            return self.closed
        code = self.code
        if self._method == b"HEAD" or code in (204, 304) or 100 <= code < 200:
            return True
        raw = self.raw_body
        if self.chunked:
            return dechunk(raw)[1] or self.closed
        length = self.header("content-length")
        if length is not None:
            return len(raw) >= int(length)
        return self.closed

    def __repr__(self) -> str:
        return f"<Exchange {self._client.data[:300]!r} closed={self.closed}>"
