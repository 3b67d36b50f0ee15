"""
The answers that involve no session (L{txsockjs._pages}): what the
conformance tests in test_http_protocol.py do not pin down.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from typing import NoReturn

from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import SynchronousTestCase

from txsockjs.testing import SockJSTestServer


def _no_system_randomness(*args: object) -> NoReturn:
    raise AssertionError("a draw from the operating system while answering /info")


class InfoEntropyTests(SynchronousTestCase):
    def test_integer_that_varies_without_a_syscall(self) -> None:
        """
        The C{/info} entropy is a 32-bit integer, different in every answer,
        drawn from the endpoint's own generator (seeded once, when it was
        made): answering never asks the operating system for randomness
        (C{getrandom}, one syscall per request).
        """
        server = SockJSTestServer.serving(Factory.forProtocol(Protocol))
        self.patch(os, "urandom", _no_system_randomness)
        self.patch(secrets, "randbits", _no_system_randomness)
        self.patch(random.SystemRandom, "getrandbits", _no_system_randomness)
        seen = []
        for _ in range(20):
            answer = server.request("GET", "/info")
            self.assertEqual(answer.code, 200)
            entropy = json.loads(answer.raw_body)["entropy"]
            self.assertIsInstance(entropy, int)
            self.assertTrue(0 <= entropy < 2**32, entropy)
            seen.append(entropy)
        # 20 draws among 2**32 values: a repeat is a broken generator
        self.assertEqual(len(set(seen)), len(seen), seen)

    def test_endpoints_do_not_share_a_sequence(self) -> None:
        """
        Each endpoint seeds its generator apart: two endpoints made one
        after the other do not answer the same numbers.
        """
        answers = []
        for _ in range(2):
            server = SockJSTestServer.serving(Factory.forProtocol(Protocol))
            answers.append(
                [json.loads(server.request("GET", "/info").raw_body)["entropy"] for _ in range(3)]
            )
        self.assertNotEqual(answers[0], answers[1])
