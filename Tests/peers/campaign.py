"""What the reliability campaigns share (scripts/soak, scripts/crash-campaign, scripts/control-campaign; Python
3.11 standard library only): a temporary directory, the processes started in it (every one killed on exit,
whatever ends the campaign), waits for conditions with deadlines, the control socket, /proc figures of synxd,
least-squares slopes and the closing summary.

The binaries come from $SYNX_BIN_DIR (default .build/release under the repository). Nothing here sleeps to
synchronise: `wait_until` polls a condition until a deadline and fails the campaign when it passes.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS = os.path.join(REPOSITORY, "Tests", "peers")
# The system interpreter: it is the one an unprivileged user (setpriv) can run, and the peers need only the
# standard library.
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


class CampaignError(Exception):
    """The campaign cannot go on (a process did not start, a wait ran out)."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def binaries() -> str:
    """$SYNX_BIN_DIR, or the release build; every binary the campaigns run must be there."""
    path = os.environ.get("SYNX_BIN_DIR") or os.path.join(REPOSITORY, ".build", "release")
    path = os.path.abspath(path)
    for tool in ("synxd", "synxctl", "synx-sim"):
        if not os.access(os.path.join(path, tool), os.X_OK):
            raise CampaignError(f"{tool} is not built in {path} (set SYNX_BIN_DIR, or `swift build -c release`)")
    return path


def wait_until(what: str, timeout: float, condition: Callable[[], object], interval: float = 0.05) -> object:
    """Polls `condition` until it returns something true, and returns that; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:                                   # not there yet (a file, a socket)
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise CampaignError(f"timed out after {timeout:g} s waiting for: {what}")
        time.sleep(interval)


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


class Campaign:
    """A temporary directory and every process started in it; `close()` (also at exit and on SIGTERM/SIGINT)
    kills them all with SIGKILL and removes the directory unless the campaign failed or --keep was given."""

    def __init__(self, name: str, keep: bool = False):
        self.name = name
        self.bin = binaries()
        self.dir = tempfile.mkdtemp(prefix=f"synx-{name}-")
        self.keep = keep
        self.processes: dict[str, subprocess.Popen] = {}
        self.checks: list[Check] = []
        self.figures: list[tuple[str, str]] = []
        self._closed = False
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        raise SystemExit(128 + signum)

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def write(self, name: str, text: str) -> str:
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(text)
        return self.path(name)

    def output(self, name: str) -> str:
        try:
            with open(self.path(name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        """Starts `argv` with stdout and stderr in NAME.out / NAME.err (appended: a restarted process keeps its
        earlier output) and keeps it for `close()`."""
        environment = dict(os.environ, **(env or {}))
        out = open(self.path(f"{name}.out"), "ab")
        err = open(self.path(f"{name}.err"), "ab")
        p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=environment)
        out.close()
        err.close()
        old = self.processes.get(name)
        if old is not None and old.poll() is None:
            raise CampaignError(f"{name} is already running")
        self.processes[name] = p
        return p

    def stop(self, name: str, sig: int = signal.SIGKILL, timeout: float = 10) -> int | None:
        """Sends `sig` to the process NAME and waits for it to end; its exit status."""
        p = self.processes.get(name)
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for p in reversed(list(self.processes.values())):
            if p.poll() is None:
                p.kill()
        for p in self.processes.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        failed = any(not c.passed for c in self.checks)
        if self.keep or failed or sys.exc_info()[0] is not None:
            print(f"(kept {self.dir})", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---------------------------------------------------------------------------------------------------
    # Simulators, ptys, synxd

    def socat_pair(self, name: str) -> tuple[str, str]:
        """A socat pty pair; the two links."""
        a, b = self.path(f"{name}a"), self.path(f"{name}b")
        self.start(f"socat-{name}", ["/usr/bin/socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"])
        wait_until(f"pty pair {name}", 10, lambda: os.path.exists(a) and os.path.exists(b))
        return a, b

    def wait_ready(self, name: str, timeout: float = 20) -> str:
        """Waits for `ready` on NAME's stdout; returns the output."""
        p = self.processes[name]

        def ready():
            if p.poll() is not None:
                raise CampaignError(f"{name} exited with {p.returncode}: {self.output(f'{name}.err')[-2000:]}")
            return "ready\n" in self.output(f"{name}.out")
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise CampaignError(f"{name} not ready within {timeout:g} s: {self.output(f'{name}.err')[-2000:]}")
            time.sleep(0.05)
        return self.output(f"{name}.out")

    @staticmethod
    def tcp_ports(out: str) -> list[int]:
        return [int(line.rsplit(":", 1)[1]) for line in out.splitlines() if line.startswith("tcp ")]

    def start_sim(self, name: str, scenario: str, tcp: int = 1, rtu: list[str] = (), env: dict | None = None) -> list[int]:
        """synx-sim with `tcp` listeners on free ports and the given serial devices; its TCP ports."""
        file = self.write(f"{name}.toml", scenario)
        argv = [os.path.join(self.bin, "synx-sim"), "--scenario", file]
        argv += [a for _ in range(tcp) for a in ("--tcp", "127.0.0.1:0")]
        argv += [a for d in rtu for a in ("--rtu", d)]
        self.start(name, argv, env)
        return self.tcp_ports(self.wait_ready(name))

    def start_hostile(self, name: str, args: list[str]) -> int | None:
        """Tests/peers/hostile_modbus.py; its TCP port (None on a serial line)."""
        self.start(name, [PYTHON, os.path.join(PEERS, "hostile_modbus.py")] + args)
        ports = self.tcp_ports(self.wait_ready(name))
        return ports[0] if ports else None

    def daemon_section(self, extra: str = "") -> str:
        return (f'[daemon]\nstate_directory = "{self.path("state")}"\nsocket = "{self.socket}"\n'
                f'profile_directories = ["{self.path("profiles")}"]\n{extra}')

    @property
    def socket(self) -> str:
        return self.path("synxd.sock")

    @property
    def database(self) -> str:
        return self.path("state/synx.sqlite")

    def start_daemon(self, config: str, env: dict | None = None, timeout: float = 30) -> subprocess.Popen:
        """synxd with `config` (written to synxd.toml); waits until `status` answers on its socket."""
        file = self.write("synxd.toml", config)
        p = self.start("synxd", [os.path.join(self.bin, "synxd"), "--config", file], env)

        def answering():
            if p.poll() is not None:
                raise CampaignError(f"synxd exited with {p.returncode}: {self.output('synxd.err')[-3000:]}")
            return control(self.socket, {"version": 1, "command": "status"}, timeout=2).get("status") == "ok"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if answering():
                    return p
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise CampaignError(f"synxd not answering within {timeout:g} s: {self.output('synxd.err')[-3000:]}")
            time.sleep(0.05)

    def synxctl(self, args: list[str], timeout: float = 30) -> tuple[int, str, str]:
        r = subprocess.run([os.path.join(self.bin, "synxctl")] + args + ["--socket", self.socket],
                           capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def status(self) -> dict:
        """`synxctl status --json`, decoded, with every meter (`synxctl meters --json`) in "meters" (status
        itself lists only the meters that are not online)."""
        code, out, err = self.synxctl(["status", "--json"])
        if code != 0:
            raise CampaignError(f"synxctl status: exit {code}: {err.strip()}")
        st = json.loads(out)
        code, out, err = self.synxctl(["meters", "--json"])
        if code != 0:
            raise CampaignError(f"synxctl meters: exit {code}: {err.strip()}")
        st["meters"] = json.loads(out)
        return st

    # ---------------------------------------------------------------------------------------------------
    # Results

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(passed), detail))
        log(f"{'ok  ' if passed else 'FAIL'} {name}{': ' + detail if detail else ''}")
        return passed

    def figure(self, name: str, value: str) -> None:
        self.figures.append((name, value))

    def summary(self) -> int:
        """Prints the figures and checks; the exit status (1 if a check failed)."""
        print(f"\n== {self.name}: summary", flush=True)
        width = max([len(n) for n, _ in self.figures] + [10])
        for n, v in self.figures:
            print(f"  {n:<{width}}  {v}")
        print()
        for c in self.checks:
            print(f"  {'ok  ' if c.passed else 'FAIL'} {c.name}{': ' + c.detail if c.detail else ''}")
        failed = sum(not c.passed for c in self.checks)
        print(f"{self.name}: {len(self.checks) - failed} passed, {failed} failed", flush=True)
        return 1 if failed else 0


def control(path: str, request: dict | bytes, timeout: float = 5) -> dict:
    """One request on the control socket (a fresh connection); the decoded response line."""
    line = request if isinstance(request, bytes) else (json.dumps(request) + "\n").encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(line)
        data = b""
        while b"\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data.split(b"\n", 1)[0])


# -------------------------------------------------------------------------------------------------------
# /proc figures of a process

def proc_figures(pid: int) -> dict[str, float]:
    """Open descriptors (and how many are sockets), threads, resident memory (KiB) and bytes written to
    storage, from /proc."""
    names = os.listdir(f"/proc/{pid}/fd")
    fds = len(names)
    sockets = 0
    for n in names:
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{n}").startswith("socket:")
        except OSError:
            pass
    threads = len(os.listdir(f"/proc/{pid}/task"))
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    write_bytes = 0
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    write_bytes = int(line.split()[1])
    except OSError:
        pass
    return {"fds": fds, "sockets": sockets, "threads": threads, "rss_kib": rss, "write_bytes": write_bytes}


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute (0 with fewer than two points)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    if sxx == 0:
        return 0.0
    return 60 * sum((t - mx) * (v - my) for t, v in points) / sxx


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def raise_descriptor_limit(wanted: int) -> int:
    """Raises this process's soft RLIMIT_NOFILE towards `wanted` (at most the hard limit); the new soft limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft
