"""
The Redis message bus, for sessions of many processes
(C{pip install txsockjs[redis]}: txredisapi).
"""

from ._redisbus import RedisBus

__all__ = ["RedisBus"]
