#!/usr/bin/env python3
"""Control campaign (scripts/control-campaign): synxd's control socket under abuse, all at once, while root asks
for `status` every ~100 ms (docs/reliability.md, "Control campaign").

As an unprivileged user (uid 65534, gid 0: the socket is mode 0660, owner and group root here, as the
end-to-end tests run it), Tests/peers/control_abuser.py runs for --seconds:
  --clients N      clients that connect at once and again (most are refused `busy`: 32 slots for everyone)
  --slow N         slow-loris clients, a byte every --slow-period s (dropped 5 s after their first byte)
  --nonreaders N   clients that ask for 20 000 samples and never read (dropped after 10 s)
  --malformed K    workers sending each of the 33 malformed request kinds of control_abuser.MALFORMED in turn
  --churn R        connects closed at once, R a second
Root's requests use the 4 slots reserved for root and synxd's user.

Checks: synxd alive at every sample and at the end, and it stops on SIGTERM; every root `status` answered
`ok`, p99 latency <= --max-p99-ms; synxd's resident memory grows by no more than the bound of docs/PROTOCOL.md
("Limits": 36 connections x (64 KiB + 2 MB)) and its descriptors stay within 36 connections of where they
started; every malformed kind was answered at least once (not only refused busy), and only with the outcomes
the protocol documents for it; slow-loris and non-reading clients were dropped within their deadlines
(5 s + one byte period, 10 s + 2 s).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synx_store  # noqa: E402
from campaign import (PEERS, PYTHON, Campaign, CampaignError, log, percentile, proc_figures,  # noqa: E402
                      raise_descriptor_limit, wait_until)
from control_abuser import MALFORMED  # noqa: E402

CONNECTIONS = 32 + 4
RSS_BOUND_KIB = CONNECTIONS * (64 + 2048)          # docs/PROTOCOL.md, "Limits"


def root_status(path: str, timeout: float = 5) -> tuple[float, str]:
    """One `status` over a fresh connection, as root, the way synxctl asks (a blocking socket whose send and
    receive time out: connect waits for room in a full listen backlog): (milliseconds, status or what went
    wrong)."""
    t0 = time.monotonic()
    tv = struct.pack("ll", int(timeout), int(timeout % 1 * 1e6))
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
            s.connect(path)
            s.sendall(b'{"version":1,"command":"status"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        status = json.loads(data)["status"] if data.endswith(b"\n") else "closed"
    except (OSError, ValueError, KeyError) as e:
        status = f"{type(e).__name__}: {e}"
    return (time.monotonic() - t0) * 1000, status


def main() -> int:
    ap = argparse.ArgumentParser(description="abuse synxd's control socket; root's status must stay fast "
                                             "(docs/reliability.md, \"Control campaign\")")
    ap.add_argument("--clients", type=int, default=1000, help="concurrent connecting clients (default 1000)")
    ap.add_argument("--seconds", type=float, default=60, help="how long the abuse lasts (default 60)")
    ap.add_argument("--slow", type=int, default=12, help="slow-loris clients (default 12)")
    ap.add_argument("--slow-period", type=float, default=2, help="seconds between their bytes (default 2)")
    ap.add_argument("--nonreaders", type=int, default=8, help="clients that never read (default 8)")
    ap.add_argument("--malformed", type=int, default=8, help="workers sending malformed requests (default 8)")
    ap.add_argument("--churn", type=float, default=50, help="connect-and-close per second (default 50)")
    ap.add_argument("--interval-ms", type=float, default=100, help="root's status period (default 100)")
    ap.add_argument("--max-p99-ms", type=float, default=50, help="root status p99 bound (default 50)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    if a.clients < 0 or a.seconds <= 0:
        ap.error("--clients >= 0 and --seconds > 0")
    limit = raise_descriptor_limit(a.clients + 4096)
    c = Campaign("control-campaign", keep=a.keep)
    os.chmod(c.dir, 0o755)                       # the unprivileged abuser must reach the socket inside it
    log(f"control campaign: {a.clients} clients, {a.slow} slow, {a.nonreaders} non-readers, {a.malformed} malformed "
        f"workers, {a.churn:g} churn/s, {a.seconds:g} s; descriptor limit {limit}; binaries {c.bin}; directory {c.dir}")

    # synxd with three polled meters; 30 000 samples of m1 in the store so a large query has something to send.
    port = c.start_sim("sim", "".join(f"[[unit]]\nid = {i}\n" for i in (1, 2, 3)))[0]
    config = c.daemon_section() + f'\n[[bus]]\nname = "lan"\ntype = "tcp"\nhost = "127.0.0.1"\nport = {port}\n' + "".join(
        f'\n[[meter]]\nname = "m{i}"\nbus = "lan"\nunit = {i}\nprofile = "synx-sim"\n' for i in (1, 2, 3))
    os.makedirs(c.path("profiles"), exist_ok=True)
    # The samples put in below must come before m1's blocks (see there): this first run stays inside one UTC 10-min
    # window, so synxd does not compact it.
    wait_until("at least 60 s before the next UTC 10-min boundary", 120, lambda: 600 - time.time() % 600 >= 60)
    c.start_daemon(config)
    wait_until("m1's voltage stored", 30, lambda: c.status()["store"]["committedRows"] > 0 and sqlite3.connect(
        f"file:{c.database}?mode=ro", uri=True).execute(
        "SELECT id FROM series WHERE meter = 'm1' AND measurement = 'voltage.l1n' AND tier = ''").fetchone())
    c.stop("synxd", signal.SIGTERM)
    start = int(time.time() * 1000) - 3 * 3_600_000
    with sqlite3.connect(c.database) as db:
        sid, last_t = db.execute("SELECT id, last_t FROM series WHERE meter = 'm1' AND measurement = 'voltage.l1n' "
                                 "AND tier = ''").fetchone()
        # The samples go in as one head batch (Tests/peers/synx_store.py), placed before the batches synxd wrote: they
        # are older than m1's samples there, and synxd's replay keeps a series' points only in time order. Points at
        # or before the series' blocks (a compaction, if the run above crossed a 10-min boundary) would be dropped.
        if last_t is not None and last_t >= start:
            raise CampaignError(f"m1's voltage has blocks up to {last_t}: the samples put in from {start} would not be read")
        synx_store.append_head(db, [(sid, start + i * 300, 230 + i % 7, 0) for i in range(30000)], before=True)
    daemon = c.start_daemon(config)
    pid = daemon.pid
    # Settle, then the baseline.
    for _ in range(10):
        root_status(c.socket)
    base = proc_figures(pid)
    log(f"synxd {pid}: baseline {base['rss_kib'] / 1024:.1f} MB RSS, {base['fds']} fds, {base['threads']} threads")

    big = json.dumps({"version": 1, "command": "query", "meter": "m1", "measurement": "voltage.l1n", "from": start,
                      "limit": 20000})
    report = c.write("abuser.json", "")
    os.chmod(report, 0o666)                      # written by the unprivileged abuser
    c.start("abuser", ["/usr/bin/setpriv", "--reuid=65534", "--regid=0", "--clear-groups", PYTHON,
                       os.path.join(PEERS, "control_abuser.py"), c.socket, "--flood", str(a.clients),
                       "--slow", str(a.slow), "--slow-period", str(a.slow_period), "--nonreaders", str(a.nonreaders),
                       "--request", big, "--malformed", str(a.malformed), "--churn", str(a.churn), "--reconnect",
                       "--seconds", str(a.seconds), "--report", report])
    wait_until("the abusers connected", 60, lambda: "ready" in c.output("abuser.out")
               or c.processes["abuser"].poll() is not None)
    if c.processes["abuser"].poll() is not None:
        raise CampaignError(f"the abuser exited with {c.processes['abuser'].returncode}: {c.output('abuser.err')[-2000:]}")
    log("abuse under way")

    latencies: list[float] = []
    failures: list[str] = []
    peaks = dict(base)
    alive = True
    t_end = time.monotonic() + a.seconds
    next_sample = 0.0
    while time.monotonic() < t_end and c.processes["abuser"].poll() is None:
        t0 = time.monotonic()
        if daemon.poll() is not None:
            alive = False
            break
        ms, status = root_status(c.socket)
        latencies.append(ms)
        if status != "ok":
            failures.append(f"{status} after {ms:.0f} ms")
        if t0 >= next_sample:
            f = proc_figures(pid)
            for k in ("rss_kib", "fds", "sockets", "threads"):
                peaks[k] = max(peaks[k], f[k])
            next_sample = t0 + 0.5
        time.sleep(max(0.0, t0 + a.interval_ms / 1000 - time.monotonic()))   # the request period
    wait_until("the abuser finished", 60, lambda: c.processes["abuser"].poll() is not None)
    alive = alive and daemon.poll() is None
    after = proc_figures(pid) if alive else {}
    tally = json.loads(c.output("abuser.json") or "{}")
    counts, holds = tally.get("counts", {}), tally.get("holds", {})
    # Once the abusers are gone, an unprivileged client gets in again.
    code = None
    if alive:
        code = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=0", "--clear-groups",
                               os.path.join(c.bin, "synxctl"), "status", "--socket", c.socket],
                              capture_output=True, timeout=30).returncode
    stop_code = c.stop("synxd", signal.SIGTERM, timeout=15) if alive else None

    log_text = c.output("synxd.err")
    refused_lines = log_text.count("control client refused")
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    worst = max(latencies, default=float("nan"))
    flood = counts.get("flood", {})
    c.figure("root status", f"{len(latencies)} requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms, "
                            f"{len(failures)} not ok")
    c.figure("flood clients", ", ".join(f"{k} {v}" for k, v in sorted(flood.items())))
    for who in ("slow", "nonreader", "churn"):
        held = holds.get(who, [])
        c.figure(f"{who} clients", ", ".join(f"{k} {v}" for k, v in sorted(counts.get(who, {}).items()))
                 + (f"; held {min(held):.1f}..{max(held):.1f} s before synxd dropped them" if held else ""))
    c.figure("synxd RSS", f"{base['rss_kib'] / 1024:.1f} MB before, peak {peaks['rss_kib'] / 1024:.1f} MB "
                          f"(+{(peaks['rss_kib'] - base['rss_kib']) / 1024:.1f} MB; documented bound +{RSS_BOUND_KIB / 1024:.0f} MB)"
                          + (f", {after['rss_kib'] / 1024:.1f} MB after" if after else ""))
    c.figure("synxd descriptors (sockets) / threads", f"{base['fds']} ({base['sockets']}) / {base['threads']} before, "
                                                        f"peak {peaks['fds']} ({peaks['sockets']}) / {peaks['threads']}")
    c.figure("synxd log", f"{log_text.count(chr(10))} lines, {refused_lines} of them `control client refused` "
                          f"({refused_lines / a.seconds:.0f}/s)")

    c.check("synxd alive throughout and after", alive, "" if alive else f"exit {daemon.returncode}: {log_text[-2000:]}")
    c.check("every root status answered ok", not failures, "; ".join(failures[:5]))
    odd = {k: v for k, v in flood.items() if k not in ("ok", "busy", "listen backlog full (EAGAIN)")}
    c.check("connecting clients are served or refused with `busy`, nothing else", flood.get("busy", 0) > 0 and not odd,
            f"{odd}" if odd else f"{flood.get('busy', 0)} busy of {sum(flood.values())} attempts")
    c.check(f"root status p99 <= {a.max_p99_ms:g} ms", latencies and p99 <= a.max_p99_ms, f"p99 {p99:.1f} ms, max {worst:.1f} ms")
    c.check("RSS growth within the documented bound", peaks["rss_kib"] - base["rss_kib"] <= RSS_BOUND_KIB,
            f"+{(peaks['rss_kib'] - base['rss_kib']) / 1024:.1f} MB")
    c.check(f"sockets: at most {CONNECTIONS} connections + 1 being refused more than at the start",
            peaks["sockets"] - base["sockets"] <= CONNECTIONS + 1, f"{base['sockets']} -> peak {peaks['sockets']}")
    wrong, untested = [], []
    rows = []
    for kind, (_, allowed) in MALFORMED.items():
        outcomes = counts.get(f"malformed {kind}", {})
        answered = {k: v for k, v in outcomes.items() if k != "busy" and not k.startswith("connect failed")}
        bad = {k: v for k, v in answered.items() if k not in allowed}
        rows.append(f"{kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
        if not answered:
            untested.append(kind)
        if bad:
            wrong.append(f"{kind} got {bad} (documented: {sorted(allowed)})")
    c.figure("malformed kinds", f"{len(MALFORMED)}; outcomes per kind:\n    " + "\n    ".join(rows))
    c.check(f"each of the {len(MALFORMED)} malformed kinds answered at least once (not only `busy`)", not untested,
            ", ".join(untested))
    c.check("each malformed kind got only its documented outcome", not wrong, "; ".join(wrong))
    slow_held, nr_held = holds.get("slow", []), holds.get("nonreader", [])
    # A drop needs 5 s (slow-loris) or 10 s (non-readers) of the run; shorter runs cannot show it.
    if a.seconds >= 5 + 2 * a.slow_period + 1 and a.slow:
        c.check("slow-loris clients dropped within 5 s of their first byte (+ one period)",
                slow_held and max(slow_held) <= 5 + a.slow_period + 1, f"longest {max(slow_held, default=0):.1f} s")
    if a.seconds >= 14 and a.nonreaders:
        c.check("non-reading clients dropped within 10 s (+ 2 s)", nr_held and max(nr_held) <= 12,
                f"longest {max(nr_held, default=0):.1f} s")
    c.check("an unprivileged client gets status after the abuse", code == 0, f"synxctl exit {code}")
    c.check("synxd stops on SIGTERM with status 0", stop_code == 0, f"exit {stop_code}")
    return c.summary()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CampaignError as e:
        print(f"control-campaign: {e}", file=sys.stderr)
        sys.exit(2)
