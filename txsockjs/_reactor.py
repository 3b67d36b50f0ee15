"""
The global reactor, for everything that takes a reactor or a clock and
falls back on it: imported when such an object is built without one, never
when txsockjs is imported (so that importing txsockjs installs no reactor).
"""

from __future__ import annotations

from typing import Any

__all__ = ["default_reactor"]


def default_reactor() -> Any:
    """
    C{twisted.internet.reactor}, installing the default reactor if none is
    installed yet.

    @return: the global reactor, typed C{Any}: it provides many interfaces
        (C{IReactorTime}, C{IReactorTCP}, ...) and no one type names them
        all; each caller keeps it as the interface it needs.
    """
    from twisted.internet import reactor

    return reactor
