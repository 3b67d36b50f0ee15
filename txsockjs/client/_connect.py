"""
Opening a client session as sockjs-client does: C{/info} first, then each
allowed transport in order until one opens.
"""

from __future__ import annotations

import secrets
import string
from typing import Any, Callable, Generator, List, Optional, Sequence, Tuple, TypeVar

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from ._errors import SockJSClose, SockJSConnectError, is_clean_code
from ._interfaces import IClientTransport
from ._session import ClientSession, ServerInfo

__all__ = ["TRANSPORTS", "open_session", "new_session_path", "check_transports"]

_log = Logger()

#: The client transports, in the order they are tried.
TRANSPORTS: Tuple[str, ...] = ("websocket", "xhr-streaming", "xhr-polling")

_ID_CHARS = string.ascii_lowercase + string.digits + "_"


def check_transports(names: Optional[Sequence[str]]) -> Tuple[str, ...]:
    """
    The transports to try, in order.

    @raise ValueError: an unknown name, or none at all.
    """
    if names is None:
        return TRANSPORTS
    if isinstance(names, str):
        names = [names]
    chosen = tuple(n.strip().replace("_", "-") for n in names if n.strip())
    unknown = [n for n in chosen if n not in TRANSPORTS]
    if unknown or not chosen:
        raise ValueError(
            f"unknown transport {', '.join(unknown) or '(none given)'}; choose from {', '.join(TRANSPORTS)}"
        )
    return chosen


def new_session_path() -> Tuple[str, str]:
    """
    A random server id (three digits) and session id (eight characters), as
    sockjs-client makes them.
    """
    server = "%03d" % secrets.randbelow(1000)
    session = "".join(secrets.choice(_ID_CHARS) for _ in range(8))
    return server, session


_T = TypeVar("_T")


def _timed(d: Deferred[_T], timeout: float, clock: IReactorTime) -> Deferred[_T]:
    return d.addTimeout(timeout, clock)


# (what a Deferred yielded to inlineCallbacks fires with has no one type)
@defer.inlineCallbacks
def open_session(
    url: str,
    names: Sequence[str],
    fetch_info: Callable[[], Deferred[ServerInfo]],
    make_transport: Callable[[str, str], IClientTransport],
    clock: IReactorTime,
    timeout: float = 10.0,
    cleanup: Optional[Callable[[], object]] = None,
    heartbeat_timeout: Optional[float] = None,
    close_timeout: float = 10.0,
    encoding: str = "utf-8",
) -> Generator[Deferred[Any], Any, ClientSession]:
    """
    Fires with an open L{ClientSession}, or fails with L{SockJSConnectError}
    (or with the L{SockJSClose} of a server that closed the session before
    opening it with an application code).

    @param fetch_info: GETs C{/info}.
    @param make_transport: C{(name, session_url)} -> a transport.
    @param timeout: seconds for C{/info} and for each transport to open.
    @param cleanup: called when a session ends or none could open (closes
        the HTTP pool).
    @param heartbeat_timeout: see L{ClientSession}.
    @param close_timeout: see L{ClientSession}.
    @param encoding: see L{ClientSession}.
    """
    attempts: List[Tuple[str, BaseException]] = []
    try:
        try:
            info: ServerInfo = yield _timed(fetch_info(), timeout, clock)
        except defer.CancelledError:
            raise
        except Exception as e:
            attempts.append(("info", e))
            raise SockJSConnectError(url, attempts) from None
        candidates = [n for n in names if n != "websocket" or info.websocket]
        if not candidates:
            attempts.append(("info", ValueError("the server does not serve websockets")))
        for name in candidates:
            server_id, session_id = new_session_path()
            transport = make_transport(name, f"{url}/{server_id}/{session_id}")
            session = ClientSession(
                url,
                session_id,
                transport,
                clock,
                info,
                heartbeat_timeout=heartbeat_timeout,
                close_timeout=close_timeout,
                encoding=encoding,
                cleanup=cleanup,
            )
            opened = _timed(session.opened, timeout, clock)
            session.start()
            try:
                result: ClientSession = yield opened
            except defer.CancelledError:
                raise
            except SockJSClose as e:
                if is_clean_code(e.code):
                    # the application refused us: another transport would not help
                    raise
                attempts.append((name, e))
            except Exception as e:
                attempts.append((name, e))
            else:
                return result
            _log.debug("SockJS transport {name} failed: {error}", name=name, error=attempts[-1][1])
        raise SockJSConnectError(url, attempts)
    except BaseException:
        if cleanup is not None:
            yield defer.maybeDeferred(cleanup).addErrback(lambda f: None)
        raise



