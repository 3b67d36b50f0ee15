#!/usr/bin/env python3
"""Where a Python server's CPU goes during one benchmark phase: py-spy samples, summed by function.

    python bench/profile.py --scenario idle                 # websocket session opens on txsockjs
    python bench/profile.py --scenario xhr_polling --top 40
    python bench/profile.py --scenario info --server txsockjs@<sha> --txsockjs-before ../wt-before

The server is started as bench/run.py starts it (pinned, 127.0.0.1), the load generator runs the scenario's
full-mode phase (bounded in count and time), and `py-spy record` samples the server at 500 Hz during the measured
phase only. Printed: the share of samples in which each function is on the stack (inclusive) and at its top
(self). Raw collapsed stacks go to bench/results/profile-<time>/. Needs py-spy in the servers' interpreter's
environment (`pip install py-spy`).
"""
import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def summarise(path, top):
    inclusive, own = collections.Counter(), collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = [fr.split(" (")[0] + " (" + os.path.basename(fr.split(" (")[1].split(":")[0]) + ")"
                      if " (" in fr else fr for fr in stack.split(";")]
            for fr in set(frames):
                inclusive[fr] += n
            own[frames[-1]] += n
    lines = ["%d samples" % total, "", "inclusive (on the stack):"]
    lines += ["  %5.1f %%  %s" % (100.0 * n / total, fr) for fr, n in inclusive.most_common(top)]
    lines += ["", "self (top of the stack):"]
    lines += ["  %5.1f %%  %s" % (100.0 * n / total, fr) for fr, n in own.most_common(top)]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="idle", choices=sorted(run.SCENARIOS))
    ap.add_argument("--server", default="txsockjs")
    ap.add_argument("--txsockjs-before", metavar="PATH")
    ap.add_argument("--python")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--port", type=int, default=18700)
    args = ap.parse_args()
    if args.python:
        run.PYTHON = shutil.which(args.python) or args.python
    if args.txsockjs_before:
        run.BEFORE_TREE = os.path.abspath(args.txsockjs_before)
    pyspy = os.path.join(os.path.dirname(run.PYTHON), "py-spy")
    if not os.path.exists(pyspy):
        pyspy = shutil.which("py-spy")
    if pyspy is None:
        raise SystemExit("py-spy is needed: pip install py-spy")
    spec = run.server_specs()[args.server]
    sc = run.SCENARIOS[args.scenario]
    params = dict(sc["full"])
    extra = params.pop("extra_args", []) if spec.get("tree") else []
    params.pop("extra_args", None)
    logdir = os.path.join(run.RESULTS, "profile-" + time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(logdir, exist_ok=True)
    out = os.path.join(logdir, "%s-%s.collapsed" % (args.server, args.scenario))
    server = run.Server(args.server, spec, args.port, logdir, extra)
    spy = None

    def attach():
        nonlocal spy
        spy = subprocess.Popen([pyspy, "record", "-r", "500", "-f", "raw", "-o", out, "-p", str(server.pid),
                                "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)

    def detach():
        if spy is not None and spy.poll() is None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)

    res = run.watch_first_phase(server, spec, args.scenario, params, logdir, attach, detach)
    print("%s %s/%s: %s in %.2f s, server CPU %.2f s (%.1f us each)" % (
        args.server, args.scenario, res["phase"], res.get("messages"), res.get("seconds", 0), res["server_cpu_s"],
        res["server_cpu_s"] * 1e6 / max(1, res.get("messages") or 1)))
    print(summarise(out, args.top))
    print("\nraw: %s" % os.path.relpath(out, run.REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
