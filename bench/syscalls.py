#!/usr/bin/env python3
"""System calls per request: `strace -c -f -p PID` on a server under a bounded load.

    python bench/syscalls.py                                   # txsockjs and sockjs-node, /info and xhr polling
    python bench/syscalls.py --txsockjs-before ../wt-before    # and an older tree, as txsockjs@<sha>
    python bench/syscalls.py --servers txsockjs --scenarios info --count 3000

Each server is started as bench/run.py starts it (pinned to CPU 0, on 127.0.0.1), warmed up by the load
generator, then strace attaches to every thread of it for the measured phase only (a fixed number of requests:
GET /info on 50 keep-alive connections; xhr polling round trips, a poll and an xhr_send each, on 50 sessions;
broadcasts, one at a time, from one websocket session to 1000), and detaches when the phase is over. The table
gives calls per request for each system call (a polling round trip is two requests; for broadcast, per delivery
to one session). strace slows the server down a lot: read the counts, not the rates. Needs strace
(`apt-get install -y strace`).
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: servers, load generator, peers)

#: requests per unit of each scenario's count (broadcast: the unit is one delivery to one session)
REQUESTS_PER = {"info": 1, "xhr_polling": 2, "broadcast": 1}

_LINE = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$")


def parse_summary(text):
    """{syscall: calls} from the table `strace -c` writes."""
    calls = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m and m.group(3) != "total":
            calls[m.group(3)] = int(m.group(1))
    return calls


def measure(name, spec, scenario, count, port, logdir):
    params = {
        "info": dict(concurrency=50, warmup=2000, count=count, seconds=60),
        "xhr_polling": dict(sessions=50, warmup=1000, count=count, seconds=60),
        # strace on the "fanout" phase: one broadcast at a time to 1000 sessions, count // 100 of them
        "broadcast": dict(sessions=1000, warmup=10, latencyCount=max(1, count // 100), window=4, count=10,
                          seconds=60),
    }[scenario]
    server = run.Server(name, spec, port, logdir)
    out = os.path.join(logdir, "strace-%s-%s.txt" % (name, scenario))
    strace = None

    def attach():
        nonlocal strace
        strace = subprocess.Popen(["strace", "-c", "-f", "-p", str(server.pid), "-o", out],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # strace says "Process N attached" (once per thread) on stderr when it is in place
        deadline = time.monotonic() + 10
        line = strace.stderr.readline()
        while "attached" not in line and time.monotonic() < deadline and strace.poll() is None:
            line = strace.stderr.readline()
        time.sleep(0.2)

    def detach():
        # later phases (broadcast's "sustained") run without strace
        if strace is not None and strace.poll() is None:
            strace.send_signal(signal.SIGINT)
            strace.wait(20)

    res = run.watch_first_phase(server, spec, scenario, params, logdir, attach, detach)
    with open(out) as f:
        calls = parse_summary(f.read())
    requests = res["messages"] * REQUESTS_PER[scenario]
    return {"requests": requests, "calls": calls, "failures": res.get("failures", 0)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="txsockjs,sockjs-node")
    ap.add_argument("--scenarios", default="info,xhr_polling,broadcast")
    ap.add_argument("--count", type=int, default=5000, help="requests (/info) or round trips (polling) measured")
    ap.add_argument("--txsockjs-before", metavar="PATH")
    ap.add_argument("--python")
    ap.add_argument("--port", type=int, default=18600)
    ap.add_argument("--skip-install", action="store_true")
    args = ap.parse_args()
    if shutil.which("strace") is None:
        raise SystemExit("strace is needed: apt-get install -y strace")
    if args.python:
        run.PYTHON = shutil.which(args.python) or args.python
    servers = args.servers.split(",")
    if args.txsockjs_before:
        run.BEFORE_TREE = os.path.abspath(args.txsockjs_before)
        servers.insert(1, run.tree_name(run.BEFORE_TREE))
    specs = run.server_specs()
    if not args.skip_install:
        run.install_peers(venvs={})
    logdir = os.path.join(run.RESULTS, "syscalls-" + time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(logdir, exist_ok=True)
    results = {}
    for scenario in args.scenarios.split(","):
        for i, name in enumerate(servers):
            results[(name, scenario)] = r = measure(name, specs[name], scenario, args.count, args.port + 10 * i,
                                                    logdir)
            run.log("%s %s: %d requests, %d calls" % (name, scenario, r["requests"], sum(r["calls"].values())))
    info = run.interpreter_info(run.PYTHON)
    print("system calls per request (strace -c -f, measured phase only); Python servers on %s %s"
          % (info["path"], info["version"]))
    for scenario in args.scenarios.split(","):
        names = sorted({c for name in servers for c in results[(name, scenario)]["calls"]},
                       key=lambda c: -max(results[(n, scenario)]["calls"].get(c, 0)
                                          / max(1, results[(n, scenario)]["requests"]) for n in servers))
        print("\n%s (%s)" % (scenario, ", ".join("%s: %d requests" % (n, results[(n, scenario)]["requests"])
                                                  for n in servers)))
        header = ["syscall"] + servers
        rows = []
        for c in names:
            per = [results[(n, scenario)]["calls"].get(c, 0) / max(1, results[(n, scenario)]["requests"])
                   for n in servers]
            if max(per) >= 0.005:
                rows.append([c] + ["%.2f" % x for x in per])
        rows.append(["total"] + ["%.2f" % (sum(results[(n, scenario)]["calls"].values())
                                           / max(1, results[(n, scenario)]["requests"])) for n in servers])
        widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
        for r in [header] + rows:
            print("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
    print("\nraw strace output: %s" % os.path.relpath(logdir, run.REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
