#!/usr/bin/env python3
"""Benchmark txsockjs side by side with sockjs-node, sockjs-tornado, aiohttp-sockjs and plain Autobahn.

    python bench/run.py --short          # quick check, under two minutes
    python bench/run.py                  # full run: more rounds, bigger counts
    python bench/run.py --servers txsockjs,sockjs-node --scenarios ws_echo_100,broadcast --rounds 3
    python bench/run.py --python /usr/bin/python3.11        # the interpreter for the Python servers
    python bench/run.py --txsockjs-before ../wt-before       # an older tree as one more column, same run

The first run installs the peers under bench/.peers/ (npm sockjs@0.3.24 and ws, a venv with sockjs-tornado, a
venv with aiohttp-sockjs). Every server is started by this script on 127.0.0.1, pinned to CPU 0, once per
(round, scenario, server), and stopped by its PID; the Node load generator (bench/loadgen/client.js) is pinned
to CPU 1. Server CPU comes from /proc/PID/stat (utime + stime) and memory from /proc/PID/status (VmRSS), read
right before and right after each measured phase. Rounds are interleaved (every server runs every scenario in a
round, in a rotating order), and the table shows the median over rounds with the ratio to sockjs-node.

Results go to bench/results/ (raw JSON for every phase plus the printed table).
"""
import argparse
import json
import os
import queue
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
PEERS = os.path.join(BENCH, ".peers")
RESULTS = os.path.join(BENCH, "results")
NODE_DIR = os.path.join(PEERS, "node")
NODE_MODULES = os.path.join(NODE_DIR, "node_modules")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

# Pinned versions of the peers (each in its own environment).
NODE_PACKAGES = ["sockjs@0.3.24", "ws@8.23.0"]
VENVS = {
    "tornado": ["sockjs-tornado==1.0.7", "tornado==6.6.1"],
    "aiohttp": ["sockjs==0.13.0", "aiohttp==3.14.5"],
}

SERVER_CPU = "0"
CLIENT_CPU = "1"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Installing the peers
# ---------------------------------------------------------------------------------------------------------------
def _stamp_ok(path, spec):
    try:
        with open(path) as f:
            return f.read() == spec
    except OSError:
        return False


def install_peers(need_node_servers=True, venvs=VENVS):
    os.makedirs(PEERS, exist_ok=True)
    stamp = os.path.join(NODE_DIR, ".installed")
    spec = " ".join(NODE_PACKAGES)
    if not _stamp_ok(stamp, spec):
        if shutil.which("npm") is None or shutil.which("node") is None:
            raise SystemExit("node and npm are needed for the load generator and sockjs-node")
        log("installing", spec, "into", NODE_DIR)
        os.makedirs(NODE_DIR, exist_ok=True)
        with open(os.path.join(NODE_DIR, "package.json"), "w") as f:
            json.dump({"name": "txsockjs-bench-peers", "private": True}, f)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"] + NODE_PACKAGES,
                       cwd=NODE_DIR, check=True)
        with open(stamp, "w") as f:
            f.write(spec)
    for name, packages in venvs.items():
        venv = venv_dir(name)
        stamp = os.path.join(venv, ".installed")
        spec = " ".join(packages)
        if _stamp_ok(stamp, spec):
            continue
        log("creating venv", venv, "with", spec)
        subprocess.run([PYTHON, "-m", "venv", "--clear", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check"]
                       + packages, check=True)
        with open(stamp, "w") as f:
            f.write(spec)


# ---------------------------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------------------------
#: the interpreter that runs txsockjs and plain Autobahn (--python), and builds the peers' venvs
PYTHON = sys.executable
#: another txsockjs tree (--txsockjs-before), shown as its own column
BEFORE_TREE = None


def venv_dir(name):
    """The peer venv for the servers' interpreter (one per interpreter, so switching does not rebuild)."""
    if os.path.realpath(PYTHON) == os.path.realpath(sys.executable):
        return os.path.join(PEERS, "venv-" + name)
    import hashlib
    return os.path.join(PEERS, "venv-%s-%s" % (name, hashlib.sha1(os.path.realpath(PYTHON).encode()).hexdigest()[:8]))


def interpreter_info(python):
    """Version and build flags of an interpreter (PGO/LTO matter: the issue saw 1.5x between builds)."""
    code = ("import sys, sysconfig; a = sysconfig.get_config_var('CONFIG_ARGS') or ''; "
            "print(sys.version.split()[0], sys.executable, 'pgo' if '--enable-optimizations' in a else 'no-pgo', "
            "'lto' if '--with-lto' in a else 'no-lto')")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"version": out[0], "path": out[1], "pgo": out[2] == "pgo", "lto": out[3] == "lto"} if out else None


def tree_name(tree):
    sha = _git("rev-parse", "--short", "HEAD", repo=tree) or "unknown"
    return "txsockjs@" + sha


def server_specs():
    peers = os.path.join(BENCH, "peers")
    venv_py = lambda name: os.path.join(venv_dir(name), "bin", "python")  # noqa: E731
    extra = os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""
    specs = {
        "txsockjs": {
            "cmd": [PYTHON, os.path.join(REPO, "examples", "test_server.py")],
            "env": {"PYTHONPATH": REPO + extra}, "kind": "sockjs", "tree": REPO,
            "available": os.path.exists(os.path.join(REPO, "examples", "test_server.py")),
        },
    }
    if BEFORE_TREE is not None:
        specs[tree_name(BEFORE_TREE)] = {
            "cmd": [PYTHON, os.path.join(BEFORE_TREE, "examples", "test_server.py")],
            "env": {"PYTHONPATH": BEFORE_TREE + extra}, "kind": "sockjs", "tree": BEFORE_TREE,
            "available": os.path.exists(os.path.join(BEFORE_TREE, "examples", "test_server.py")),
        }
    specs.update({
        "sockjs-node": {
            "cmd": ["node", os.path.join(peers, "sockjs_node_server.js")],
            "env": {"NODE_PATH": NODE_MODULES}, "kind": "sockjs", "available": True,
        },
        "aiohttp-sockjs": {
            "cmd": [venv_py("aiohttp"), os.path.join(peers, "aiohttp_sockjs_server.py")],
            "env": {}, "kind": "sockjs", "available": True,
        },
        "sockjs-tornado": {
            "cmd": [venv_py("tornado"), os.path.join(peers, "sockjs_tornado_server.py")],
            "env": {}, "kind": "sockjs", "available": True,
        },
        "autobahn": {
            "cmd": [PYTHON, os.path.join(peers, "autobahn_echo_server.py")],
            "env": {}, "kind": "raw", "available": True,
        },
    })
    return specs


#: open files the children need (raised for the reconnect storm; root may raise the hard limit)
NOFILE_WANTED = 0


def nofile_for_children():
    """The open-file limit the children get: the hard limit, or NOFILE_WANTED if we may raise it that far."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if NOFILE_WANTED > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE_WANTED, NOFILE_WANTED))
        except (ValueError, OSError):
            return hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, NOFILE_WANTED))
        return NOFILE_WANTED
    return hard


def _raise_nofile():
    """In the child, before exec: open-file limit up to the hard limit (raised first when we may)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if NOFILE_WANTED > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE_WANTED, NOFILE_WANTED))
            return
        except (ValueError, OSError):
            pass
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_busy_seconds(cpu):
    """Busy time of one CPU (everything but idle and iowait) from /proc/stat, in seconds."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu%s " % cpu):
                v = [int(x) for x in line.split()[1:]]
                return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK
    return 0.0


def pin(cpu):
    return ["taskset", "-c", cpu] if PINNING else []


def free_port(start):
    """The first port from start on that nobody listens on (so we never measure someone else's server)."""
    for port in range(start, start + 200):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            sock.close()
    raise RuntimeError("no free port from %d" % start)


class Server:
    def __init__(self, name, spec, port, logdir, extra_args=()):
        port = free_port(port)
        self.name, self.spec, self.port = name, spec, port
        env = dict(os.environ)
        env.update(spec["env"])
        self.logpath = os.path.join(logdir, "server-%s.log" % name)
        self.logfile = open(self.logpath, "ab")
        # taskset execs the server, so the PID we get is the server's own.
        self.proc = subprocess.Popen(pin(SERVER_CPU) + spec["cmd"] + ["--port", str(port)] + list(extra_args), env=env,
                                     stdout=self.logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     preexec_fn=_raise_nofile, cwd=REPO)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start (code %s), see %s" % (name, self.proc.returncode,
                                                                            self.logpath))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("%s did not listen on %d within 20 s" % (name, port))
                time.sleep(0.05)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime (fields 14 and 15)

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.logfile.close()


# ---------------------------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------------------------
# params for the load generator: (short, full)
SCENARIOS = {
    "ws_echo_1": dict(
        title="websocket echo, 1 session", client="ws_echo", sockjs_only=False,
        short=dict(sessions=1, inflight=1, warmup=500, count=4000, seconds=2),
        full=dict(sessions=1, inflight=1, warmup=2000, count=20000, seconds=4)),
    "ws_echo_100": dict(
        title="websocket echo, 100 sessions x 10 in flight", client="ws_echo", sockjs_only=False,
        short=dict(sessions=100, inflight=10, warmup=5000, count=60000, seconds=2),
        full=dict(sessions=100, inflight=10, warmup=20000, count=300000, seconds=5)),
    "xhr_streaming": dict(
        title="xhr_streaming receive, 10 streams on /broadcast", client="xhr_streaming", sockjs_only=True,
        short=dict(streams=10, batch=10, inflight=4, warmupPosts=100, posts=2000, seconds=2),
        full=dict(streams=10, batch=10, inflight=4, warmupPosts=300, posts=5000, seconds=5)),
    "xhr_polling": dict(
        title="xhr send+poll round trips, 50 sessions", client="xhr_polling", sockjs_only=True,
        short=dict(sessions=50, warmup=1500, count=4000, seconds=2),
        full=dict(sessions=50, warmup=1000, count=15000, seconds=5)),
    "broadcast": dict(
        title="broadcast to 1000 websocket sessions", client="broadcast", sockjs_only=False,
        short=dict(sessions=1000, warmup=5, latencyCount=20, window=4, count=60, seconds=2),
        full=dict(sessions=1000, warmup=10, latencyCount=100, window=4, count=400, seconds=6)),
    "idle": dict(
        title="10,000 idle websocket sessions", client="idle", sockjs_only=False,
        short=dict(sessions=5000, warmup=100, concurrency=200),
        full=dict(sessions=10000, warmup=200, concurrency=200)),
    "storm": dict(
        title="reconnect storm: N websocket sessions opened all at once", client="storm", sockjs_only=False,
        short=dict(sessions=10000, warmup=200, retries=3, retryDelayMs=200, extra_args=["--max-sessions", "0"]),
        full=dict(sessions=10000, warmup=200, retries=3, retryDelayMs=200, extra_args=["--max-sessions", "0"])),
    "info": dict(
        title="GET /info, 50 keep-alive clients", client="info", sockjs_only=False,
        short=dict(concurrency=50, warmup=3000, count=10000, seconds=2),
        full=dict(concurrency=50, warmup=2000, count=50000, seconds=5)),
}


class ClientError(Exception):
    pass


class Client:
    """The Node load generator, driven phase by phase over stdio."""

    def __init__(self, cfg, logdir):
        self.stderr = open(os.path.join(logdir, "client.log"), "ab")
        self.proc = subprocess.Popen(pin(CLIENT_CPU) + ["node", os.path.join(BENCH, "loadgen", "client.js"),
                                                        json.dumps(cfg)],
                                     env=dict(os.environ, NODE_PATH=NODE_MODULES), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, preexec_fn=_raise_nofile,
                                     text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_event(self, timeout):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise ClientError("load generator silent for %d s" % timeout)
        if line is None:
            raise ClientError("load generator exited (code %s)" % self.proc.wait())
        event = json.loads(line)
        if event.get("event") == "error":
            raise ClientError(event.get("error"))
        return event

    def send(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def watch_first_phase(server, spec, scenario, params, logdir, attach, detach):
    """Run the scenario's load against a started server, calling attach() just before its first measured phase
    and detach() as soon as that phase is over (or on failure); later phases run unwatched. Stops the server.
    Returns the first phase's result, with the server CPU seconds it took as "server_cpu_s"."""
    client = None
    first = None
    attached = False
    try:
        client = Client({"port": server.port, "kind": spec["kind"], "orchestrated": True,
                         "scenario": SCENARIOS[scenario]["client"], "params": params, "hardTimeout": 240}, logdir)
        while True:
            ev = client.next_event(120)
            if ev["event"] == "end":
                break
            if first is None:
                attach()
                attached = True
            cpu0 = server.cpu_seconds()
            client.send("go")
            res = client.next_event(200)
            if res["event"] != "result":
                raise ClientError("expected a result, got %r" % (res,))
            res["server_cpu_s"] = server.cpu_seconds() - cpu0
            if first is None:
                first = res
                attached = False
                detach()
        client.send("exit")
    finally:
        if attached:
            detach()
        if client is not None:
            client.close()
        server.stop()
    if first is None:
        raise ClientError("the scenario measured no phase")
    return first


def run_one(server_name, spec, scenario, mode, port, logdir):
    """Start the server, run one scenario against it, stop it. Returns {phase: measurements}."""
    sc = SCENARIOS[scenario]
    params = dict(sc[mode])
    extra_args = params.pop("extra_args", [])
    if not spec.get("tree"):  # these are examples/test_server.py's options (no session cap in the storm)
        extra_args = []
    if scenario == "storm" and STORM_SESSIONS:
        params["sessions"] = STORM_SESSIONS
    server = Server(server_name, spec, port, logdir, extra_args)
    client = None
    phases = {}
    try:
        client = Client({"port": server.port, "kind": spec["kind"], "orchestrated": True, "scenario": sc["client"], "params": params,
                         "hardTimeout": 180}, logdir)
        while True:
            ev = client.next_event(120)
            if ev["event"] == "end":
                break
            assert ev["event"] == "ready", ev
            busy0 = cpu_busy_seconds(SERVER_CPU) if PINNING else 0.0
            cpu0, rss0, t0 = server.cpu_seconds(), server.rss_kib(), time.monotonic()
            client.send("go")
            res = client.next_event(150)
            assert res["event"] == "result", res
            wall = time.monotonic() - t0
            cpu1 = server.cpu_seconds()
            res["server_cpu_s"] = cpu1 - cpu0
            res["server_cpu_share"] = (cpu1 - cpu0) / wall
            if PINNING:  # whatever else ran on the server's CPU meanwhile (other processes, interrupts)
                res["other_load_on_server_cpu"] = max(0.0, (cpu_busy_seconds(SERVER_CPU) - busy0
                                                             - (cpu1 - cpu0)) / wall)
            if scenario == "idle":
                time.sleep(1.0)  # let the last opens settle before reading memory
                res["rss_before_kib"], res["rss_after_kib"] = rss0, server.rss_kib()
                res["server_cpu_s"] = server.cpu_seconds() - cpu0
                res["rss_kib_per_session"] = (res["rss_after_kib"] - rss0) / res["messages"]
            if res.get("messages"):
                res["server_cpu_us_per_msg"] = res["server_cpu_s"] * 1e6 / res["messages"]
            phases[res["phase"]] = res
        client.send("exit")
        if not server.alive():
            raise RuntimeError("%s died during %s" % (server_name, scenario))
    finally:
        if client is not None:
            client.close()
        server.stop()
    return phases


# ---------------------------------------------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------------------------------------------
# (row label, scenario, phase, key, format, lower is better)
METRICS = [
    ("ws echo C=1: msgs/s", "ws_echo_1", "echo", "rate", "%.0f", False),
    ("ws echo C=1: p50 ms", "ws_echo_1", "echo", "p50_ms", "%.3f", True),
    ("ws echo C=1: p99 ms", "ws_echo_1", "echo", "p99_ms", "%.3f", True),
    ("ws echo C=1: server CPU us/msg", "ws_echo_1", "echo", "server_cpu_us_per_msg", "%.1f", True),
    ("ws echo C=100: msgs/s", "ws_echo_100", "echo", "rate", "%.0f", False),
    ("ws echo C=100: p50 ms", "ws_echo_100", "echo", "p50_ms", "%.2f", True),
    ("ws echo C=100: p99 ms", "ws_echo_100", "echo", "p99_ms", "%.2f", True),
    ("ws echo C=100: server CPU us/msg", "ws_echo_100", "echo", "server_cpu_us_per_msg", "%.1f", True),
    ("xhr_streaming: msgs/s received", "xhr_streaming", "stream", "rate", "%.0f", False),
    ("xhr_streaming: server CPU us/msg", "xhr_streaming", "stream", "server_cpu_us_per_msg", "%.1f", True),
    ("xhr poll C=50: round trips/s", "xhr_polling", "poll", "rate", "%.0f", False),
    ("xhr poll C=50: p50 ms", "xhr_polling", "poll", "p50_ms", "%.2f", True),
    ("xhr poll C=50: p99 ms", "xhr_polling", "poll", "p99_ms", "%.2f", True),
    ("xhr poll C=50: server CPU us/round trip", "xhr_polling", "poll", "server_cpu_us_per_msg", "%.0f", True),
    ("broadcast 1000: all received p50 ms", "broadcast", "fanout", "p50_ms", "%.1f", True),
    ("broadcast 1000: all received p99 ms", "broadcast", "fanout", "p99_ms", "%.1f", True),
    ("broadcast 1000: broadcasts/s", "broadcast", "sustained", "rate", "%.1f", False),
    ("broadcast 1000: server CPU us/delivery", "broadcast", "sustained", "server_cpu_us_per_msg", "%.1f", True),
    ("idle sessions: server RSS KiB/session", "idle", "open", "rss_kib_per_session", "%.1f", True),
    ("idle sessions: opens/s", "idle", "open", "rate", "%.0f", False),
    ("reconnect storm: s until all open", "storm", "storm", "seconds", "%.2f", True),
    ("reconnect storm: p99 ms to open", "storm", "storm", "p99_ms", "%.0f", True),
    ("reconnect storm: server CPU us/open", "storm", "storm", "server_cpu_us_per_msg", "%.0f", True),
    ("GET /info: requests/s", "info", "info", "rate", "%.0f", False),
    ("GET /info: server CPU us/request", "info", "info", "server_cpu_us_per_msg", "%.1f", True),
]


def build_table(runs, servers, scenarios):
    """runs: list of {server, scenario, round, phases}. Returns (rows, text)."""
    values = {}
    client_busy = {}
    other_load = {}
    for r in runs:
        for ph, res in (r.get("phases") or {}).items():
            for label, sc, phase, key, fmt, lower in METRICS:
                if sc == r["scenario"] and phase == ph and res.get(key) is not None:
                    values.setdefault((label, r["server"]), []).append(res[key])
                    client_busy.setdefault((label, r["server"]), []).append(res.get("client_cpu", 0))
                    other_load.setdefault((label, r["server"]), []).append(res.get("other_load_on_server_cpu", 0))
    header = ["scenario / metric"] + servers
    rows = []
    for label, sc, phase, key, fmt, lower in METRICS:
        if sc not in scenarios:
            continue
        base = values.get((label, "sockjs-node"))
        base_med = statistics.median(base) if base else None
        row = [label]
        for s in servers:
            v = values.get((label, s))
            if not v:
                row.append("-")
                continue
            med = statistics.median(v)
            cell = fmt % med
            if statistics.median(client_busy[(label, s)]) > 0.9:
                cell += "*"
            if statistics.median(other_load[(label, s)]) > 0.25:
                cell += "!"
            if base_med and s != "sockjs-node":
                cell += " (x%.2f)" % (med / base_med)
            row.append(cell)
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r))
             for r in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return rows, "\n".join(lines)


def build_limits(runs, servers, scenarios):
    """What bounded each phase: the server's share of its CPU and the load generator's share of its own."""
    shares = {}
    for r in runs:
        for ph, res in (r.get("phases") or {}).items():
            shares.setdefault((r["scenario"], ph, r["server"]), []).append(
                (res.get("server_cpu_share", 0), res.get("client_cpu", 0), res.get("other_load_on_server_cpu", 0)))
    keys = []
    for sc in scenarios:
        for (s2, ph, _srv) in shares:
            if s2 == sc and (sc, ph) not in keys:
                keys.append((sc, ph))
    header = ["phase"] + servers
    rows = []
    for sc, ph in keys:
        row = ["%s/%s" % (sc, ph)]
        for s in servers:
            v = shares.get((sc, ph, s))
            if not v:
                row.append("-")
            else:
                row.append("%3.0f%% / %3.0f%% / %3.0f%%" % (100 * statistics.median(x[0] for x in v),
                                                          100 * statistics.median(x[1] for x in v),
                                                          100 * statistics.median(x[2] for x in v)))
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                               for i, c in enumerate(r)) for r in [header] + rows)


def build_markdown(rows, servers):
    out = ["| scenario / metric | " + " | ".join(servers) + " |",
           "|---|" + "---:|" * len(servers)]
    for row in rows:
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(out)


def find_anomalies(runs):
    out = []
    for r in runs:
        for ph, res in (r.get("phases") or {}).items():
            bad = {k: res[k] for k in ("lost", "wrong", "incomplete", "failures") if res.get(k)}
            if res.get("expected") is not None and res["messages"] != res["expected"]:
                bad["delivered"] = "%s of %s" % (res["messages"], res["expected"])
            if bad:
                out.append("%s %s/%s round %d: %s" % (r["server"], r["scenario"], ph, r["round"], bad))
    return out


# ---------------------------------------------------------------------------------------------------------------
def main():
    global PINNING
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help="quick check (one round, small counts)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default: 1 short, 5 full)")
    ap.add_argument("--servers", help="comma-separated subset of: " + ", ".join(server_specs()))
    ap.add_argument("--scenarios", help="comma-separated subset of: " + ", ".join(SCENARIOS))
    ap.add_argument("--port", type=int, default=18200, help="first port; each server gets its own")
    ap.add_argument("--no-pin", action="store_true", help="do not pin server and load generator to CPUs")
    ap.add_argument("--skip-install", action="store_true")
    ap.add_argument("--python", help="interpreter for the Python servers (txsockjs, plain Autobahn) and the peers' "
                    "venvs (default: the one running this script)")
    ap.add_argument("--txsockjs-before", metavar="PATH", help="another txsockjs tree (e.g. a git worktree of an "
                    "older commit): one more column, txsockjs@<sha>, in the same interleaved run")
    ap.add_argument("--storm-sessions", type=int, default=10000, help="sessions of the reconnect storm (default "
                    "10,000; lowered to what the open-file limit allows)")
    args = ap.parse_args()
    global PYTHON, BEFORE_TREE, NOFILE_WANTED, STORM_SESSIONS
    if args.python:
        PYTHON = shutil.which(args.python) or args.python
    if args.txsockjs_before:
        BEFORE_TREE = os.path.abspath(args.txsockjs_before)
        if not os.path.exists(os.path.join(BEFORE_TREE, "examples", "test_server.py")):
            raise SystemExit("--txsockjs-before: no examples/test_server.py in %s" % BEFORE_TREE)
    python_info = interpreter_info(PYTHON)
    if python_info is None:
        raise SystemExit("cannot run %s" % PYTHON)
    NOFILE_WANTED = args.storm_sessions + 1024
    nofile = nofile_for_children()
    STORM_SESSIONS = min(args.storm_sessions, nofile - 1024)
    if STORM_SESSIONS < args.storm_sessions:
        log("open-file limit %d: the reconnect storm opens %d sessions, not %d" % (nofile, STORM_SESSIONS,
                                                                                 args.storm_sessions))

    mode = "short" if args.short else "full"
    rounds = args.rounds or (1 if args.short else 5)
    PINNING = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    specs = server_specs()
    servers = args.servers.split(",") if args.servers else list(specs)
    for s in servers:
        if s not in specs:
            raise SystemExit("unknown server %r" % s)
    if "txsockjs" in servers and not specs["txsockjs"]["available"]:
        log("examples/test_server.py not found: txsockjs skipped")
        servers.remove("txsockjs")
    if BEFORE_TREE is not None:
        before = tree_name(BEFORE_TREE)
        if before not in servers:
            servers.insert(servers.index("txsockjs") + 1 if "txsockjs" in servers else 0, before)
    scenarios = args.scenarios.split(",") if args.scenarios else list(SCENARIOS)
    for s in scenarios:
        if s not in SCENARIOS:
            raise SystemExit("unknown scenario %r" % s)

    if not args.skip_install:
        install_peers()

    stamp = time.strftime("%Y%m%d-%H%M%S")
    logdir = os.path.join(RESULTS, stamp)
    os.makedirs(logdir, exist_ok=True)
    log("mode %s, %d round(s), servers %s; pinning %s; open-file limit for children %d"
        % (mode, rounds, ",".join(servers), "server CPU %s, load CPU %s" % (SERVER_CPU, CLIENT_CPU)
           if PINNING else "off", nofile))
    log("Python servers run on %s (Python %s, %s, %s)" % (python_info["path"], python_info["version"],
                                                            "PGO" if python_info["pgo"] else "no PGO",
                                                            "LTO" if python_info["lto"] else "no LTO"))
    ports = {s: args.port + 10 * i for i, s in enumerate(specs)}
    load1 = float(open("/proc/loadavg").read().split()[0])
    if load1 > 1.5:
        log("warning: load average %.1f before the run: other work on this machine will slow the rates; the CPU "
            "per message figures suffer less" % load1)
    runs = []
    started = time.monotonic()
    commit_at_start = _git("rev-parse", "--short", "HEAD")
    for rnd in range(rounds):
        for sc in scenarios:
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]  # rotate the order each round
            for s in order:
                if SCENARIOS[sc]["sockjs_only"] and specs[s]["kind"] != "sockjs":
                    continue
                t0 = time.monotonic()
                entry = {"server": s, "scenario": sc, "round": rnd, "mode": mode}
                try:
                    entry["phases"] = run_one(s, specs[s], sc, mode, ports[s] + rnd % 10, logdir)
                except (ClientError, RuntimeError, AssertionError, OSError) as e:
                    entry["error"] = str(e)
                    log("  %s / %s round %d FAILED: %s" % (s, sc, rnd, e))
                runs.append(entry)
                brief = ", ".join("%s: %s" % (ph, _brief(res)) for ph, res in (entry.get("phases") or {}).items())
                log("  round %d %-13s %-15s %5.1fs  %s" % (rnd, sc, s, time.monotonic() - t0, brief))
    elapsed = time.monotonic() - started
    rows, text = build_table(runs, servers, scenarios)
    limits_text = build_limits(runs, servers, scenarios)
    md = build_markdown(rows, servers)
    meta = {"mode": mode, "rounds": rounds, "servers": servers, "scenarios": scenarios, "pinning": PINNING,
            "elapsed_s": elapsed, "nofile_limit": nofile, "storm_sessions": STORM_SESSIONS,
            "before_tree": BEFORE_TREE, "before_commit": _git("rev-parse", "HEAD", repo=BEFORE_TREE)
            if BEFORE_TREE else None, "server_python": python_info, "params": {sc: SCENARIOS[sc][mode] for sc in scenarios},
            "commit": _git("rev-parse", "--short", "HEAD"), "commit_at_start": commit_at_start, "txsockjs_dirty": bool(_git("status", "--porcelain",
                                                                                     "txsockjs", "examples")),
            "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
            "python": sys.version.split()[0], "node": subprocess.run(["node", "--version"], capture_output=True,
                                                                    text=True).stdout.strip()}
    with open(os.path.join(logdir, "results.json"), "w") as f:
        json.dump({"meta": meta, "runs": runs, "table": rows, "anomalies": find_anomalies(runs)}, f, indent=1)
    with open(os.path.join(logdir, "table.txt"), "w") as f:
        f.write(text + "\n\nserver CPU / load generator CPU / other load on the server's CPU\n" + limits_text
                + "\n")
    with open(os.path.join(logdir, "table.md"), "w") as f:
        f.write(md + "\n")
    for name in ("latest.json", "latest.txt"):
        src = os.path.join(logdir, "results.json" if name.endswith("json") else "table.txt")
        shutil.copyfile(src, os.path.join(RESULTS, name))
    print()
    print("median of %d round(s), %s mode, %.0f s, commit %s%s; (xN) = ratio to sockjs-node; * = load generator "
          "above 90%% of its CPU; ! = other processes took over 25%% of the server's CPU"
          % (rounds, mode, elapsed, meta["commit"],
                                    " (txsockjs modified)" if meta["txsockjs_dirty"] else ""))
    print("Python servers: %s, Python %s (%s, %s); Node %s; reconnect storm: %d sessions, open-file limit %d"
          % (python_info["path"], python_info["version"], "PGO" if python_info["pgo"] else "no PGO",
             "LTO" if python_info["lto"] else "no LTO", meta["node"], STORM_SESSIONS, nofile))
    if BEFORE_TREE is not None:
        before = tree_name(BEFORE_TREE)
        ratios = build_ratios(runs, "txsockjs", before, scenarios)
        if ratios:
            print("\ntxsockjs (this tree) / %s, median of the per-round ratios (below 1: this tree is lower):"
                  % before)
            print(ratios)
    if commit_at_start != meta["commit"]:
        print("note: the repository moved from %s to %s during the run; txsockjs was started from the working "
              "tree each time, so rounds may have run different code" % (commit_at_start, meta["commit"]))
    print(text)
    print("\nraw results: %s" % os.path.relpath(logdir, REPO))
    anomalies = find_anomalies(runs)
    if anomalies:
        print("\nanomalies (messages lost, wrong or late):")
        for a in anomalies:
            print("  " + a)
    print("\nduring each measured phase (median): server's CPU share / load generator's CPU share / other "
          "processes' share of the server's CPU")
    print(limits_text)
    failed = [r for r in runs if "error" in r]
    if failed:
        print("%d run(s) failed: %s" % (len(failed), "; ".join("%s/%s: %s" % (r["server"], r["scenario"],
                                                                             r["error"]) for r in failed)))
    return 0


def build_ratios(runs, after, before, scenarios):
    """after/before for every row, round by round (same round = same machine conditions), then the median."""
    by = {}
    for r in runs:
        for ph, res in (r.get("phases") or {}).items():
            for label, sc, phase, key, fmt, lower in METRICS:
                if sc == r["scenario"] and phase == ph and res.get(key) is not None:
                    by[(label, r["server"], r["round"])] = res[key]
    lines = []
    for label, sc, phase, key, fmt, lower in METRICS:
        if sc not in scenarios:
            continue
        per_round = [by[(label, after, rnd)] / by[(label, before, rnd)] for (l2, s2, rnd) in list(by)
                     if l2 == label and s2 == after and (label, before, rnd) in by and by[(label, before, rnd)]]
        if per_round:
            lines.append("  %-42s x%.2f  (rounds: %s)" % (label, statistics.median(per_round),
                                                          " ".join("%.2f" % x for x in per_round)))
    return "\n".join(lines)


def _git(*args, repo=None):
    try:
        return subprocess.run(["git", "-C", repo or REPO] + list(args), capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _brief(res):
    out = []
    for key, fmt in (("rate", "%.0f/s"), ("rss_kib_per_session", "%.1fKiB/session"), ("p99_ms", "p99 %.1fms"), ("server_cpu_us_per_msg", "%.1fus/msg"),
                     ("client_cpu", "load %.0f%%"), ("attempts_failed", "%d failed attempts"),
                     ("seconds", "%.2fs")):
        if res.get(key) is not None:
            out.append(fmt % (res[key] * (100 if key == "client_cpu" else 1)))
    return " ".join(out)


PINNING = True
STORM_SESSIONS = 10000

if __name__ == "__main__":
    sys.exit(main())
