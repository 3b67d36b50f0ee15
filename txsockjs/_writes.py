# -*- test-case-name: tests.test_writes -*-
"""
Try-write-first for the connections a L{txsockjs.SockJSSite} serves.

Twisted's TCP transport never writes at once: C{write} buffers the bytes
and registers the socket for writability (an C{epoll_ctl}); the next
reactor turn sends them and unregisters (a second C{epoll_ctl}). For a
small HTTP response or websocket frame the kernel almost always takes
everything at once, so those two system calls and the extra turn are pure
cost. Here writes made while the site handles what a connection received
(a request, websocket frames; and whatever that causes on other
connections: a poll answered by an C{xhr_send}, a broadcast) are gathered
per connection and sent with one C{send} each once the reactor has
handled every connection that was ready in this turn (one C{callLater(0)}
per turn, which runs before the reactor polls again); writes made at any
other time (timers, a bus) are tried at once. Only what the kernel did
not take goes to Twisted's own buffer, which then drains it as usual
(writability, producers, C{loseConnection} after the last byte).

Why the end of the turn rather than the end of each read: answering at
once lets each client's next request arrive in a turn of its own, so the
reactor turns over for fewer requests at a time; measured on C{GET /info}
with 50 keep-alive clients, sending at the end of each read cost 4 % more
server CPU per request than Twisted's own path, sending at the end of the
turn 17 % less (C{bench/RESULTS.md}). A connection whose Twisted buffer holds anything, or that is
closing, or that is not a plain TCP connection (TLS, a test transport)
keeps Twisted's path untouched.

The Twisted internals this relies on (C{tcp.Connection}'s write state and
its C{writeSomeData}) are listed, with why, in L{txsockjs._internals}.

The guard of each connection (C{_guard.Guard.makeConnection} and its
websocket take-over) installs the writer and wraps C{dataReceived} in
L{gathering}.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, List, Optional, Tuple

from twisted.internet.tcp import Connection
from twisted.logger import Logger

from ._internals import can_send_now, send_some

__all__ = ["writers_for", "gathering"]

#: gathered bytes past which a connection's writes leave at once, so that a
#: handler writing a lot sees Twisted's buffer fill and its producer paused
#: (the backpressure the websocket and streaming transports rely on)
GATHER_LIMIT = 65536

#: gathered bytes up to which a connection's later writes are joined to the
#: first at once (cheap copies) rather than kept in a list
JOIN_LIMIT = 2048

_log = Logger()


class _Gathering:
    """
    Whether writes are being gathered now, and the writers holding some.
    """

    active = False
    #: a flush of the gathered writes is due at the end of this turn
    scheduled = False

    def __init__(self) -> None:
        self.writers: List["_TryWriteFirst"] = []


_gathering = _Gathering()


def gathering(receive: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """
    Wrap a protocol's C{dataReceived} so that the writes it causes, on any
    connection with a try-write-first writer, are gathered and leave at the
    end of this reactor turn: one C{send} per connection.
    """

    def dataReceived(data: bytes) -> None:
        state = _gathering
        if state.active:
            receive(data)
            return
        state.active = True
        try:
            receive(data)
        finally:
            state.active = False
            if state.writers and not state.scheduled:
                state.scheduled = True
                state.writers[0].reactor().callLater(0, _flush_all, state)

    return dataReceived


def _flush_all(state: _Gathering) -> None:
    state.scheduled = False
    writers = state.writers
    while writers:
        state.writers = []
        for writer in writers:
            try:
                writer.flush()
            except Exception:
                # one connection's failure must not strand the others' bytes
                _log.failure("Sending gathered writes failed")
        writers = state.writers


class _TryWriteFirst:
    """
    The C{write} and C{writeSequence} of one TCP connection: gathered while
    a L{gathering} handler runs, sent at once otherwise, handed to the
    transport's own C{write} for whatever the kernel did not take.
    """

    __slots__ = ("_transport", "_first", "_more", "_pending_size")

    def __init__(self, transport: Connection) -> None:
        self._transport: Any = transport
        # What was gathered in this turn: bytes, joined as they come while
        # small, then a list for the rest. Not a list from the start: a
        # broadcast gathers a chunk or two on each of thousands of
        # connections, and as many lists alive until the end of the turn
        # would each count towards the garbage collector's next pass (bytes
        # do not): nearly one pass per broadcast to 1000 sessions, and about
        # once in 100 broadcasts a full collection of the heap, tens of
        # milliseconds with every delivery waiting (bench/RESULTS.md, "the
        # broadcast p99 regression").
        self._first: Optional[bytes] = None
        self._more: Optional[List[bytes]] = None
        self._pending_size = 0

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError(f"Data must be bytes, not {type(data).__name__}")
        if not data:
            return
        first = self._first
        if first is not None:
            more = self._more
            self._pending_size += len(data)
            if more is not None:
                more.append(data)
            elif self._pending_size <= JOIN_LIMIT:
                self._first = first + data
            else:
                self._more = [data]
            if self._pending_size > GATHER_LIMIT:
                self.flush()
        elif _gathering.active and len(data) <= GATHER_LIMIT:
            self._first = data
            self._pending_size = len(data)
            _gathering.writers.append(self)
        else:
            self._send(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        chunks = list(iovec)
        for chunk in chunks:
            if not isinstance(chunk, bytes):
                raise TypeError(f"Data must be bytes, not {type(chunk).__name__}")
        self.write(b"".join(chunks))

    def reactor(self) -> Any:
        """
        The reactor of the connection (the one whose turn ends the gathering).
        """
        return self._transport.reactor

    def flush(self) -> None:
        first, more = self._first, self._more
        self._first = self._more = None
        if first is not None:
            if more is not None:
                more.insert(0, first)
                first = b"".join(more)
            self._send(first)

    def _send(self, data: bytes) -> None:
        transport = self._transport
        if can_send_now(transport):
            sent = send_some(transport, data)
            if isinstance(sent, int):
                if sent >= len(data):
                    return
                data = data[sent:]
            # A lost connection: Twisted's own write path meets the same
            # error on its next send and closes the connection as usual.
        transport.write(data)


def writers_for(
    transport: Any,
) -> Tuple[Callable[[bytes], None], Callable[[Iterable[bytes]], None]]:
    """
    The C{write} and C{writeSequence} to use for C{transport}: try-write-first
    for a plain TCP connection, the transport's own otherwise.
    """
    # (TLS over a TCP connection is either a wrapping protocol, not a
    # Connection, or a Connection with C{TLS} set, which each send checks)
    if isinstance(transport, Connection):
        writer = _TryWriteFirst(transport)
        return writer.write, writer.writeSequence
    return transport.write, transport.writeSequence
