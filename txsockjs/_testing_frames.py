"""
SockJS frames as a client reads them from each transport's responses (the
frame half of L{txsockjs.testing}).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

__all__ = ["Frame", "parse_frame", "frames_of", "RECEIVING"]

#: The transports a L{TestSession} can receive on.
RECEIVING = ("xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp", "websocket")
_XHR_PRELUDE = b"h" * 2048
_HTMLFILE_FRAME = re.compile(rb"<script>\np\((\".*?\")\);\n</script>\r\n")
_JSONP_FRAME = re.compile(rb"/\*\*/[a-zA-Z0-9_.-]+\((\".*?\")\);\r\n")


@dataclass(frozen=True)
class Frame:
    """
    One SockJS frame as the client understands it.

    @ivar kind: C{"o"} open, C{"h"} heartbeat, C{"a"} messages, C{"c"} close.
    @ivar messages: the messages of an C{a} frame.
    @ivar code: the code of a C{c} frame.
    @ivar reason: the reason of a C{c} frame.
    """

    kind: str
    messages: Tuple[str, ...] = ()
    code: Optional[int] = None
    reason: Optional[str] = None


def parse_frame(text: str) -> Frame:
    """
    The L{Frame} a SockJS frame's text stands for.

    @raise ValueError: the text is not a SockJS frame.
    """
    if text in ("o", "h"):
        return Frame(text)
    if text.startswith("a"):
        messages = json.loads(text[1:])
        if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
            raise ValueError(f"not a message frame: {text!r}")
        return Frame("a", tuple(messages))
    if text.startswith("c"):
        code, reason = json.loads(text[1:])
        return Frame("c", code=int(code), reason=str(reason))
    raise ValueError(f"not a SockJS frame: {text!r}")


def frames_of(transport: str, body: bytes) -> List[Frame]:
    """
    The frames in the body of a receiving response of C{transport}, as far
    as it arrived (an unfinished last frame is left out).
    """
    texts: List[str] = []
    if transport in ("xhr", "xhr_streaming"):
        lines = body.split(b"\n")[:-1]
        texts = [line.decode("utf-8") for line in lines if line != _XHR_PRELUDE]
    elif transport == "eventsource":
        for event in body.split(b"\r\n\r\n")[:-1]:
            event = event.lstrip(b"\r\n")
            if event.startswith(b"data: "):
                # the server escapes "%" for the client's decodeURI()
                texts.append(event[6:].replace(b"%25", b"%").decode("utf-8"))
    elif transport in ("htmlfile", "jsonp"):
        pattern = _HTMLFILE_FRAME if transport == "htmlfile" else _JSONP_FRAME
        texts = [json.loads(m) for m in pattern.findall(body)]
    else:
        raise ValueError(f"no HTTP framing for transport {transport!r}")
    return [parse_frame(text) for text in texts]
