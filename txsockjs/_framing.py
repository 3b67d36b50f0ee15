"""
SockJS frames: building what goes to the client and parsing what it sends.

Pure functions over bytes and text; no I/O, no reactor.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring
from typing import Iterable, List

__all__ = [
    "OPEN",
    "HEARTBEAT",
    "BrokenJSON",
    "PayloadExpected",
    "PayloadError",
    "close_frame",
    "message_frame",
    "json_string",
    "parse_messages",
    "parse_websocket_message",
]

OPEN = b"o"
HEARTBEAT = b"h"

# Characters sockjs-client and some proxies mangle when sent raw: the C0 and
# C1 controls, DEL, the soft hyphen, some Arabic/Syriac/Khmer formatting
# marks, zero-width and bidi controls, the line/paragraph separators, the
# invisible operators, the BOM, the specials block and every surrogate half.
_ESCAPABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0604\u070f\u17b4\u17b5"
    "\u200c-\u200f\u2028-\u202f\u2060-\u206f\ufeff\ufff0-\uffff"
    "\ud800-\udfff]"
)
# What cannot appear raw inside an HTML <script> or a JSONP response.
_SCRIPT_UNSAFE = re.compile("[<>&\u2028\u2029]")

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_dumps_ascii = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
_loads = json.loads


def _escape_char(match: "re.Match[str]") -> str:
    return "\\u%04x" % ord(match.group())


def _escape(text: str) -> str:
    if text.isascii() and "\x7f" not in text:
        return text
    return _ESCAPABLE.sub(_escape_char, text)


def message_frame(messages: Iterable[str]) -> bytes:
    """
    The C{a[...]} frame carrying C{messages}, with the characters clients
    cannot take escaped, as UTF-8.
    """
    return ("a[" + _escape(",".join(map(encode_basestring, messages))) + "]").encode("utf-8")


def close_frame(code: int, reason: str) -> bytes:
    """
    The C{c[code,"reason"]} frame.
    """
    return ("c" + _escape(_dumps([code, reason]))).encode("utf-8")


def json_string(frame: bytes) -> bytes:
    """
    A frame as a JSON string literal that is safe inside an HTML C{<script>}
    element and as a JSONP argument.
    """
    text = _dumps_ascii(frame.decode("utf-8", "surrogatepass"))
    return _SCRIPT_UNSAFE.sub(_escape_char, text).encode("ascii")


class PayloadError(ValueError):
    """
    What the client sent cannot be taken; C{str(error)} is the spec's answer.
    """


class PayloadExpected(PayloadError):
    def __init__(self) -> None:
        super().__init__("Payload expected.")


class BrokenJSON(PayloadError):
    def __init__(self) -> None:
        super().__init__("Broken JSON encoding.")


def _decode(payload: "bytes | str") -> object:
    try:
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8")
        return _loads(payload)
    except (ValueError, RecursionError):
        raise BrokenJSON() from None


def _strings(value: object) -> List[str]:
    if type(value) is not list:
        raise BrokenJSON()
    for message in value:
        if type(message) is not str:
            raise BrokenJSON()
    return value


def parse_messages(payload: "bytes | str") -> List[str]:
    """
    The messages in a send request's body: a JSON array of strings.

    @raise PayloadExpected: the body is empty.
    @raise BrokenJSON: the body is not a JSON array of strings.
    """
    if not payload:
        raise PayloadExpected()
    return _strings(_decode(payload))


def parse_websocket_message(payload: "bytes | str") -> List[str]:
    """
    The messages in one websocket message: a JSON array of strings or a bare
    JSON string; an empty payload carries none.

    @raise BrokenJSON: anything else.
    """
    if not payload:
        return []
    messages = _decode(payload)
    if type(messages) is str:
        return [messages]
    return _strings(messages)
