#!/usr/bin/env python3
"""What counting for the metrics costs per message, in process, bounded.

    python bench/metrics_cost.py                         # this tree, counting as shipped
    python bench/metrics_cost.py --compare /tmp/base     # and a tree without counters, interleaved

One message goes the whole server-side way a websocket echo takes, minus the socket: the SockJS
websocket protocol's onMessage (JSON parse), the session's deliver, an echo protocol's send, the
once-per-turn flush (frame encoding) and a receiver that drops the frame. The figure is CPU time
(time.process_time) per message, the median of interleaved rounds, each in a fresh subprocess pinned
to one CPU when taskset exists. With --scrape-sessions N it also times one Prometheus scrape of an
endpoint holding N open sessions (what having metrics on adds, once per scrape interval).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

CHILD = r"""
import sys, time, json
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from txsockjs import Options, SockJSResource
from txsockjs.session import RequestInfo
from txsockjs._transports.websocket import SockJSWebSocketProtocol

class Echo(Protocol):
    def messageReceived(self, message):
        self.transport.send(message)

class Drop:
    def send_frame(self, frame): pass
    def heartbeat(self): pass
    def close(self): pass

messages, batch = int(sys.argv[1]), 100
clock = Clock()
resource = SockJSResource(Factory.forProtocol(Echo), Options(), clock)
info = RequestInfo(b"GET", b"/", b"/", None, None, None, {}, False)
if hasattr(resource, "_websocket"):  # the protocol gets a WebSocketSeam
    from txsockjs.session import Session
    session = resource.websocket_sessions.open("s", info, "websocket", Session)
    ws = SockJSWebSocketProtocol(resource._websocket, "s", info)
else:  # an older tree: the protocol reads the resource
    session = resource.new_session("s", info, "websocket", register=False)
    ws = SockJSWebSocketProtocol()
    ws.sockjs_resource = resource
session.attach(Drop())
ws.session = session
payload = b'["hello, a small 32-byte message"]'
on_message = ws.onMessage
advance = clock.advance
for _ in range(2000):  # warm up
    on_message(payload, False)
advance(0)
start = time.process_time()
for _ in range(messages // batch):
    for _ in range(batch):
        on_message(payload, False)
    advance(0)
cpu = time.process_time() - start
print(json.dumps({"us_per_message": cpu / messages * 1e6}))
"""

SCRAPE = r"""
import sys, time, json
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from prometheus_client.exposition import generate_latest
from txsockjs import Options, SockJSResource
from txsockjs.metrics import MetricsResource
from txsockjs.session import RequestInfo

class Drop:
    def send_frame(self, frame): pass
    def heartbeat(self): pass
    def close(self): pass

clock = Clock()
resource = SockJSResource(Factory.forProtocol(Protocol), Options(max_sessions=None), clock)
info = RequestInfo(b"GET", b"/", b"/", None, None, None, {}, False)
from txsockjs.session import Session
for i in range(int(sys.argv[1])):
    if hasattr(resource, "_websocket"):
        session = resource.websocket_sessions.open(str(i), info, "websocket", Session)
    else:
        session = resource.new_session(str(i), info, "websocket", register=False)
    session.attach(Drop())
registry = MetricsResource(endpoints={"/echo": resource}).registry
generate_latest(registry)
start = time.process_time()
for _ in range(20):
    generate_latest(registry)
print(json.dumps({"ms_per_scrape": (time.process_time() - start) / 20 * 1e3}))
"""


def run(tree, code, arg):
    env = dict(os.environ, PYTHONPATH=tree, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-c", code, str(arg)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0"] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=True)
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--compare", metavar="TREE", help="a txsockjs tree without counters")
    parser.add_argument("--scrape-sessions", type=int, default=10_000)
    args = parser.parse_args()
    args.messages = max(1000, min(args.messages, 2_000_000))
    args.rounds = max(1, min(args.rounds, 31))
    trees = {"counting (this tree)": REPO}
    if args.compare:
        trees["no counters (--compare)"] = os.path.abspath(args.compare)
    figures = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            figures[name].append(run(tree, CHILD, args.messages)["us_per_message"])
    for name, values in figures.items():
        print(
            f"{name:26s} median {statistics.median(values):.3f} us/message "
            f"(min {min(values):.3f}, max {max(values):.3f}, {len(values)} rounds "
            f"of {args.messages} messages)"
        )
    if args.compare:
        a, b = (statistics.median(v) for v in figures.values())
        print(f"difference: {a - b:+.3f} us/message ({(a - b) / b * 100:+.1f} %)")
    if args.scrape_sessions:
        scrape = run(REPO, SCRAPE, args.scrape_sessions)["ms_per_scrape"]
        print(f"one scrape with {args.scrape_sessions} open sessions: {scrape:.2f} ms CPU")


if __name__ == "__main__":
    main()
