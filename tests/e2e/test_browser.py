"""
sockjs-client 1.6.1 in headless Chromium against examples/test_server.py (the
page on another origin) and the same endpoints served beside the page (same
origin), over every transport the client offers in Chromium.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest

from .support import BROWSER_TRANSPORTS, SAME_ORIGIN_ONLY, HarnessPage

pytestmark = pytest.mark.e2e

CASES = [
    pytest.param(origin, transport, id=f"{origin}-{transport}")
    for origin in ("same", "cross")
    for transport in BROWSER_TRANSPORTS
    if origin == "same" or transport not in SAME_ORIGIN_ONLY
]


class Pages:
    """
    Opens the harness page on demand, in a browser context of its own.
    """

    def __init__(self, browser: Any, servers: dict) -> None:
        self.browser = browser
        self.servers = servers
        self.opened: list = []

    def __getitem__(self, origin: str) -> HarnessPage:
        page = HarnessPage(self.browser, self.servers[origin])
        self.opened.append(page)
        return page


@pytest.fixture
def pages(chromium: Any, e2e_servers: dict) -> Iterator[Pages]:
    pages = Pages(chromium, e2e_servers)
    yield pages
    for page in pages.opened:
        page.close()


def explain(result: dict, page: HarnessPage) -> str:
    return f"{result}\nconsole: {page.console[-20:]}"


@pytest.mark.parametrize("origin, transport", CASES)
def test_echo(pages: Pages, origin: str, transport: str) -> None:
    """
    The transport asked for is the one used, and special strings, a 200 KB
    string and a burst of 1000 messages come back exact and in order, with no
    script injected into the page.
    """
    page = pages[origin]
    result = page.run("echo", "/echo", [transport])
    assert result.get("transport") == transport, explain(result, page)
    assert result["problems"] == [], explain(result, page)
    assert result["pwned"] is None, explain(result, page)
    assert result["close"] is None, explain(result, page)


@pytest.mark.parametrize("origin, transport", CASES)
def test_close(pages: Pages, origin: str, transport: str) -> None:
    """
    /close opens the session and closes it at once with 3000 "Go away!".
    """
    page = pages[origin]
    result = page.run("close", "/close", [transport])
    assert result["opened"], explain(result, page)
    assert result["transport"] == transport, explain(result, page)
    assert result["close"] is not None, explain(result, page)
    assert (result["close"]["code"], result["close"]["reason"]) == (3000, "Go away!"), explain(result, page)


@pytest.mark.parametrize("origin, transport", CASES)
def test_amplify(pages: Pages, origin: str, transport: str) -> None:
    """
    /amplify answers "N" with 2**N "x", up to 512 KiB per message.
    """
    page = pages[origin]
    result = page.run("amplify", "/amplify", [transport])
    assert result.get("transport") == transport, explain(result, page)
    assert result["lengths"] == result["expected"], explain(result, page)
    assert result["allX"], explain(result, page)


@pytest.mark.parametrize("origin, transport", CASES)
def test_cookie_needed(pages: Pages, origin: str, transport: str) -> None:
    """
    /cookie_needed_echo works on every transport, and the HTTP transports
    leave the JSESSIONID cookie a sticky load balancer would route on (the
    websocket handshake sets none, as with sockjs-node).
    """
    page = pages[origin]
    page.context.clear_cookies()
    result = page.run("simpleEcho", "/cookie_needed_echo", [transport])
    assert result.get("transport") == transport, explain(result, page)
    assert result["problems"] == [], explain(result, page)
    if transport != "websocket":
        names = {cookie["name"] for cookie in page.context.cookies()}
        assert "JSESSIONID" in names, explain(result, page)


@pytest.mark.parametrize("origin, transport", CASES)
def test_disabled_websocket(pages: Pages, origin: str, transport: str) -> None:
    """
    /disabled_websocket_echo: websocket alone fails the way sockjs-client
    reports it; every other transport echoes.
    """
    page = pages[origin]
    result = page.run("simpleEcho", "/disabled_websocket_echo", [transport])
    if transport == "websocket":
        assert not result["opened"], explain(result, page)
        assert result["close"]["code"] == 2000, explain(result, page)
    else:
        assert result.get("transport") == transport, explain(result, page)
        assert result["problems"] == [], explain(result, page)


@pytest.mark.parametrize("origin", ["same", "cross"])
def test_fallback_from_websocket(pages: Pages, origin: str) -> None:
    """
    With no transport list, the client picks websocket where it is on and
    falls back to the next streaming transport where it is off.
    """
    page = pages[origin]
    on = page.run("simpleEcho", "/echo")
    assert on.get("transport") == "websocket", explain(on, page)
    assert on["problems"] == [], explain(on, page)
    off = page.run("simpleEcho", "/disabled_websocket_echo")
    assert off.get("transport") == "xhr-streaming", explain(off, page)
    assert off["problems"] == [], explain(off, page)


@pytest.mark.parametrize("origin", ["same", "cross"])
def test_broadcast_across_transports(pages: Pages, origin: str) -> None:
    """
    /broadcast: every message from any session reaches every session,
    whatever transport each uses.
    """
    page = pages[origin]
    each = [["websocket"], ["xhr-streaming"], ["xhr-polling"], ["eventsource"], ["jsonp-polling"]]
    result = page.run("broadcast", "/broadcast", transportsEach=each)
    assert result["transports"] == [t[0] for t in each], result
    expected = sorted(f"from {k}" for k in range(len(each)))
    assert result["received"] == [expected] * len(each), explain(result, page)


@pytest.mark.parametrize("origin", ["same", "cross"])
def test_raw_websocket(pages: Pages, origin: str) -> None:
    """
    <endpoint>/websocket with the browser's own WebSocket: the special strings
    and a 200 KB one echo unframed; /close/websocket ends with 3000 "Go away!".
    """
    page = pages[origin]
    echo = page.run("rawWebsocket", "/echo", echo=True)
    assert echo["opened"], explain(echo, page)
    assert echo["problems"] == [], explain(echo, page)
    close = page.run("rawWebsocket", "/close", expectClose=True)
    assert close["close"] is not None, explain(close, page)
    assert (close["close"]["code"], close["close"]["reason"]) == (3000, "Go away!"), explain(close, page)


@pytest.mark.parametrize("transport", ["websocket", "xhr-streaming", "xhr-polling", "iframe-eventsource"])
def test_multiplex(pages: Pages, transport: str) -> None:
    """
    The websocket-multiplex client over one SockJS session: channels echo
    independently (commas and non-ASCII in payloads, a channel name that the
    client escapes), an unknown channel is closed, and closing one channel
    leaves the others and the session open.
    """
    page = pages["same"]  # /multiplex is mounted beside the page only
    result = page.run("multiplex", "/multiplex", [transport])
    assert result.get("transport") == transport, explain(result, page)
    assert result["echo"] == ["a,b,,c", "h\u00e9llo \U0001f600 \u2028"], explain(result, page)
    assert result["upper"] == ["SHOUT, LOUD", "STILL THERE"], explain(result, page)
    assert result["myChat"] == ["in my chat"], explain(result, page)
    assert result["nopeClosed"], explain(result, page)
    assert result["sessionOpen"], explain(result, page)
