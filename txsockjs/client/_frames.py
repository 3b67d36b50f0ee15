"""
SockJS frames as a client reads and writes them. Pure functions, no I/O.
"""

from __future__ import annotations

import json
from typing import Iterable, List, Literal, Optional, Tuple, Union

__all__ = ["FrameError", "parse_frame", "encode_messages", "Frame"]

#: C{("o", None)}, C{("h", None)}, C{("a", [messages])}, C{("c", (code, reason))}
Frame = Union[
    Tuple[Literal["o", "h"], None],
    Tuple[Literal["a"], List[str]],
    Tuple[Literal["c"], Tuple[int, str]],
]

# ensure_ascii: every non-ASCII character, lone surrogates included, goes as a
# \uXXXX escape, which every server decodes and no proxy mangles.
_dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


class FrameError(ValueError):
    """
    The server sent something that is not a SockJS frame.
    """


def encode_messages(messages: Iterable[str]) -> bytes:
    """
    The body of an C{xhr_send} request or one websocket message: a JSON
    array of strings.
    """
    return _dumps(list(messages)).encode("ascii")


def _json(payload: str) -> object:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        raise FrameError(f"broken JSON in frame {payload[:60]!r}") from None


def parse_frame(frame: str) -> Optional[Frame]:
    """
    One frame, without its line end. C{None} for an empty line.

    @raise FrameError: an unknown frame type or broken JSON.
    """
    if not frame:
        return None
    kind = frame[0]
    if kind == "h":
        # the xhr_streaming prelude is a line of 2048 "h": a heartbeat too
        return ("h", None)
    if kind == "o":
        return ("o", None)
    if kind == "a":
        messages = _json(frame[1:])
        if type(messages) is not list or any(type(m) is not str for m in messages):
            raise FrameError("an 'a' frame must carry a JSON array of strings")
        return ("a", messages)
    if kind == "m":
        message = _json(frame[1:])
        if type(message) is not str:
            raise FrameError("an 'm' frame must carry a JSON string")
        return ("a", [message])
    if kind == "c":
        value = _json(frame[1:])
        if (
            type(value) is not list
            or len(value) != 2
            or type(value[0]) is not int
            or type(value[1]) is not str
        ):
            raise FrameError("a 'c' frame must carry [code, reason]")
        return ("c", (value[0], value[1]))
    raise FrameError(f"unknown frame {frame[:60]!r}")
