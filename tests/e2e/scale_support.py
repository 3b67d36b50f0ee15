"""
Helpers of the multi-process tests and of bench/scale.py: the cluster that
examples/scale/up.sh starts (in a run folder of its own, stopped with down.sh,
every process by its PID), a redis-server of their own, and the long-lived
sockjs-client driver (scale_client.js).
"""

from __future__ import annotations

import json
import os
import sys
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCALE = os.path.join(REPO, "examples", "scale")
NODE_TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling", "eventsource"]
RAW_TRANSPORTS = ["htmlfile", "jsonp"]


def missing_tools() -> List[str]:
    tools = ["redis-server", "redis-cli", "haproxy", "nginx", "node", "curl"]
    gone = [t for t in tools if shutil.which(t) is None]
    if not os.path.exists(os.path.join(HERE, "node_modules", "sockjs-client", "package.json")):
        gone.append("tests/e2e/node_modules/sockjs-client")
    return gone


def harness_folder(path: str) -> str:
    """
    A folder with harness.html and the scripts it loads, for --static.
    """
    os.makedirs(path, exist_ok=True)
    for source in (
        os.path.join(HERE, "pages", "harness.html"),
        os.path.join(HERE, "harness.js"),
        os.path.join(HERE, "node_modules", "sockjs-client", "dist", "sockjs.min.js"),
        os.path.join(HERE, "node_modules", "websocket-multiplex", "multiplex_client.js"),
    ):
        if os.path.exists(source):
            shutil.copy(source, path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of ours is not alive
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


class Cluster:
    """
    redis-server, N backends and a balancer, started by examples/scale/up.sh
    with its run folder in C{run_dir}.
    """

    def __init__(self, run_dir: str, backends: int = 3, balancer: str = "haproxy",
                 drain_timeout: float = 2.0, heartbeat: float = 25.0,
                 static: Optional[str] = None) -> None:
        self.run_dir = run_dir
        self.port = free_port()
        self.env = dict(os.environ, PYTHON=sys.executable, SCALE_RUN=run_dir, DRAIN_TIMEOUT=str(drain_timeout),
                        HEARTBEAT=str(heartbeat))
        if static:
            # the harness page and the scripts it loads, beside the endpoints
            self.env.update(STATIC=static, SOCKJS_URL="/sockjs.min.js")
        started = subprocess.run(
            ["bash", os.path.join(SCALE, "up.sh"), balancer, str(self.port), str(backends)],
            env=self.env, capture_output=True, text=True, timeout=60,
        )
        if started.returncode != 0 or "ready" not in started.stdout:
            logs = self.logs()
            self.stop()
            raise RuntimeError(f"up.sh failed: {started.stdout}{started.stderr}\n{logs}")
        self.ports: Dict[str, int] = {}
        with open(os.path.join(run_dir, "ports")) as f:
            for line in f:
                name, port = line.split()
                self.ports[name] = int(port)
        with open(os.path.join(run_dir, "backends.pid")) as f:
            self.backend_pids = [int(p) for p in f.read().split()]
        with open(os.path.join(run_dir, "all.pid")) as f:
            self.all_pids = [int(p) for p in f.read().split()]
        self.redis_pid = self.all_pids[0]
        self.extra_pids: List[int] = []
        self.url = f"http://127.0.0.1:{self.port}"

    def backend_port(self, index: int) -> int:
        return self.ports[f"b{index + 1}"]

    def health(self, index: int) -> tuple:
        """
        (status, {transport: sessions}) of backend C{index}.
        """
        status, body = http_get(f"http://127.0.0.1:{self.backend_port(index)}/health")
        counts = {}
        for line in body.splitlines():
            parts = line.split()
            if parts[:1] == ["transport"]:
                counts[parts[1]] = int(parts[2])
        return status, counts

    def watch_health(self, index: int) -> "HealthWatch":
        """
        Poll backend C{index}'s health check from a thread of its own until
        C{stop()}: what it answered, when.
        """
        return HealthWatch(f"http://127.0.0.1:{self.backend_port(index)}/health")

    def log_tail(self, index: int, lines: int = 30) -> str:
        """
        The last C{lines} lines of backend C{index}'s log, but for the
        access lines.
        """
        path = os.path.join(self.run_dir, f"b{index + 1}.log")
        if not os.path.exists(path):
            return f"(no {path})"
        with open(path, errors="replace") as f:
            # (not the access lines: one per request, they hide the rest)
            kept = [line for line in f if '] "127.0.0.1" - - [' not in line]
        return "".join(kept[-lines:])

    def signal(self, index: int, sig: int) -> None:
        os.kill(self.backend_pids[index], sig)

    def wait_exit(self, pid: int, timeout: float) -> None:
        wait_until(lambda: not pid_alive(pid), timeout, f"PID {pid} to exit")

    def stop_redis(self) -> None:
        os.kill(self.redis_pid, signal.SIGTERM)
        self.wait_exit(self.redis_pid, 10)

    def start_redis(self) -> None:
        """
        A new redis-server on the same port (its PID is stopped by stop()).
        """
        port = self.ports["redis"]
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no",
             "--logfile", os.path.join(self.run_dir, "redis2.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.redis_pid = process.pid
        self.extra_pids.append(process.pid)
        self._redis_process = process
        wait_until(
            lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                   text=True).stdout.strip() == "PONG",
            10, "redis to answer",
        )

    def logs(self) -> str:
        out = []
        if os.path.isdir(self.run_dir):
            for name in sorted(os.listdir(self.run_dir)):
                if name.endswith(".log"):
                    with open(os.path.join(self.run_dir, name), errors="replace") as f:
                        out.append(f"== {name}\n" + "".join(f.readlines()[-15:]))
        return "\n".join(out)

    def stop(self) -> None:
        subprocess.run(["bash", os.path.join(SCALE, "down.sh")], env=self.env,
                       capture_output=True, timeout=60)
        for pid in getattr(self, "extra_pids", []):
            if pid_alive(pid):
                os.kill(pid, signal.SIGTERM)
        process = getattr(self, "_redis_process", None)
        if process is not None:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class HealthWatch:
    """
    A thread asking one health check every C{interval} seconds, each request
    with C{timeout}: the answers (status, or the error's name) with the time
    they were asked, from when the watch started. One slow answer does not
    hide the next ones from the test, and the whole timeline explains a
    failure.
    """

    def __init__(self, url: str, interval: float = 0.05, timeout: float = 1.0) -> None:
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.started = time.monotonic()
        self.answers: List[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            asked = time.monotonic() - self.started
            try:
                outcome: Any = http_get(self.url, self.timeout)[0]
            except Exception as e:
                reason = getattr(e, "reason", e)
                outcome = type(reason).__name__
            self.answers.append((asked, time.monotonic() - self.started, outcome))
            self._stop.wait(self.interval)

    def first(self, outcome: Any) -> Optional[float]:
        """
        When the first answer C{outcome} was asked for, if there was one.
        """
        for asked, _, got in list(self.answers):
            if got == outcome:
                return asked
        return None

    def outcomes(self) -> List[Any]:
        return [got for _, _, got in list(self.answers)]

    def timeline(self) -> str:
        """
        Runs of equal answers: "0.00-0.95 s: 200 (20), 1.00-1.10 s: 404 (3)".
        """
        runs: List[list] = []
        for asked, answered, got in list(self.answers):
            if runs and runs[-1][2] == got:
                runs[-1][1] = answered
                runs[-1][3] += 1
            else:
                runs.append([asked, answered, got, 1])
        return ", ".join(f"{a:.2f}-{b:.2f} s: {got} ({n})" for a, b, got, n in runs)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.timeout + 1)


class Driver:
    """
    scale_client.js: sockjs-client sessions driven by JSON lines.
    """

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", os.path.join(HERE, "scale_client.js")],
            cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1,
        )
        self.events: "queue.Queue[dict]" = queue.Queue()
        self.seen: List[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.events.put({"event": "junk", "line": line})

    def send(self, **cmd: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(cmd) + "\n")
        self.process.stdin.flush()

    def wait(self, predicate: Callable[[dict], bool], timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.seen:
                if predicate(event):
                    self.seen.remove(event)
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"driver: timed out; events so far {self.seen[-5:]}")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event.get("event") == "error":
                raise AssertionError(f"driver error: {event}")
            self.seen.append(event)

    def open_many(self, specs: List[dict], timeout: float = 30.0) -> Dict[str, str]:
        """
        Open every C{spec} (id, url, transport, reconnect); their transports
        once all are open.
        """
        for spec in specs:
            self.send(cmd="open", **spec)
        opened = {}
        for spec in specs:
            event = self.wait(
                lambda e, i=spec["id"]: e.get("id") == i and e["event"] in ("open", "failed"),
                timeout,
            )
            assert event["event"] == "open", event
            opened[spec["id"]] = event["transport"]
        return opened

    def dump(self) -> Dict[str, List[dict]]:
        self.send(cmd="dump")
        return self.wait(lambda e: e["event"] == "dump")["conns"]

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.send(cmd="quit")
                self.process.wait(5)
            except Exception:
                self.process.kill()
                self.process.wait()
