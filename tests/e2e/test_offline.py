"""
The first ten minutes, offline: README.rst's first command in a fresh clone
and a fresh virtual environment serves the chat page, which connects in a
Chromium that reaches nothing beyond 127.0.0.1; without a local
sockjs-client the page says what is wrong.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest

from .support import REPO, Server

pytestmark = pytest.mark.e2e

#: the most the README's command may take to set up and serve (pip install
#: into the fresh venv and npm ci from the caches are most of it)
SETUP_TIMEOUT = 420


def readme_commands() -> list:
    """
    The set-up commands README.rst opens with (its first literal block).
    """
    with open(os.path.join(REPO, "README.rst"), encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"::\n\n((?:    \S.*\n)+)", text)
    assert block is not None, "README.rst has no literal block"
    return [line.strip() for line in block.group(1).splitlines()]


def test_readme_first_command_in_a_fresh_clone(offline_chromium: Any, tmp_path: Any) -> None:
    """
    git clone, README's first command (with --port 0 added so that it does
    not collide with anything), the page connects over websocket and an
    HTTP transport, and SIGTERM ends the server cleanly.

    The fresh venv is made before the command with --system-site-packages
    so that pip finds the dependencies already installed (the command reuses
    a venv it finds at .venv); txsockjs itself is installed from the clone.
    """
    command = readme_commands()[0]
    assert command == "bash scripts/demo.sh"
    clone = str(tmp_path / "clone")
    subprocess.run(["git", "clone", "--quiet", REPO, clone], check=True, timeout=120)
    assert not os.path.exists(os.path.join(clone, "tests", "e2e", "node_modules"))
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", os.path.join(clone, ".venv")],
        check=True,
        timeout=120,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "TXSOCKJS_VENV")}
    server = Server(
        ["bash", "-c", command + " --port 0"], "README's first command", cwd=clone, env=env,
        start_timeout=SETUP_TIMEOUT,
    )
    try:
        # the line after the URL: wait for it to be read
        assert "sockjs-client: the local npm copy" in server.wait_for("sockjs-client:")
        where = subprocess.run(
            [os.path.join(clone, ".venv", "bin", "python"), "-c", "import txsockjs; print(txsockjs.__file__)"],
            cwd=clone, env=env, capture_output=True, text=True, timeout=60, check=True,
        ).stdout.strip()
        assert where.startswith(clone), where

        context = offline_chromium.new_context()
        try:
            blocked = context.new_page()
            with pytest.raises(Exception):
                blocked.goto("https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js", timeout=10000)
            for transport in ("websocket", "xhr-streaming"):
                page = context.new_page()
                page.goto(f"{server.url}/?transport={transport}&name=offline")
                page.wait_for_selector('body[data-state="open"]', timeout=15000)
                assert page.inner_text("#transport") == transport
                page.fill("#text", f"offline over {transport}")
                page.press("#text", "Enter")
                page.locator("#log li.message", has_text=f"offline over {transport}").wait_for(timeout=10000)
        finally:
            context.close()
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log()
    assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def chat_without_sockjs_client() -> Any:
    server = Server(
        [sys.executable, os.path.join(REPO, "examples", "chat", "server.py"), "--port", "0",
         "--sockjs-js", "/nonexistent/sockjs.min.js"],
        "chat without a local sockjs-client",
    )
    yield server
    server.stop()


def test_page_says_when_sockjs_client_cannot_load(offline_chromium: Any, chat_without_sockjs_client: Any) -> None:
    """
    No local copy and no internet: the page sends the browser to the CDN,
    which fails; it says so on the page instead of "connecting..." forever.
    """
    # the second line of its output: wait for it to be read
    assert "no local copy" in chat_without_sockjs_client.wait_for("no local copy")
    context = offline_chromium.new_context()
    try:
        page = context.new_page()
        page.goto(chat_without_sockjs_client.url + "/")
        page.wait_for_selector('body[data-state="closed"]', timeout=15000)
        assert page.inner_text("#status") == "no sockjs-client"
        message = page.locator("#log li.error").inner_text()
        assert "sockjs-client did not load" in message
        assert "scripts/demo.sh" in message
    finally:
        context.close()
