#!/usr/bin/env python3
"""Soak campaign (scripts/soak): synxd polls many simulated meters over Modbus/TCP and RTU for minutes while a
tenth of them misbehave, in turn and in different ways, each for a phase of about a minute; it must stay up,
not grow, keep the healthy meters' polls, and report every fault with its reason while it lasts and clear it
after (docs/reliability.md, "Soak campaign").

The meters (for --meters 100; the parts scale with N):
  synx-sim gateways   N - 20 meters, 10 units behind each Modbus/TCP listener of one synx-sim (one bus each)
  synx-sim RTU lines  12 meters, 4 units on each of 3 socat pty pairs
  hostile gateway     4 meters behind one hostile_modbus.py Modbus/TCP peer (profile of its register image)
  SunSpec gateway     2 SunSpec meters behind another, whose scale factors change with every read
  links that drop     2 meters, each on a hostile peer of its own that can close its connection
All are polled every second. Faults come from synx-sim's timed [[fault]] tables and hostile_modbus.py's
--schedule: from --lead-s on, phase after phase (--phase-s), a share (--faulty) of the meters is faulty, a
different set each phase, each with the next fault of the kinds its simulator can do (FAULTS below); the
last phase ends --recovery-s before the end, so every fault is seen to clear.

Checks: synxd alive at the end and stops on SIGTERM; least-squares slopes of its descriptors, threads and
resident memory over the samples after the warm-up (--warmup-s) within the tolerances (--max-fd-slope,
--max-thread-slope, --max-rss-slope); each meter's rows in the store cover >= --min-coverage of its slots
while it is healthy (not faulty, nor within --recovery-s after a fault); every slot of every meter has a row;
each fault is seen in `synxctl status --json` with the state and reason its kind must give, and the meter is
online again within --recovery-s after it ends; nothing wrong is stored as good for the SunSpec meters.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synx_store  # noqa: E402
from campaign import (Campaign, CampaignError, log, percentile, proc_figures, slope_per_minute,  # noqa: E402
                      wait_until)

POLL_MS = 1000

# Per simulator kind: the faults it can do, with what `status` must show while each is active: the meter's
# states and a pattern its lastError must match (None: any). A fault with states {"online"} is a slow reply
# within the timeout: nothing to report, the meter must keep its polls.
FAULTS: dict[str, list[tuple[str, dict, set, str | None]]] = {
    "sim-tcp": [
        ("silent", {"kind": "silent"}, {"offline"}, r"timeout"),
        ("exception 4", {"kind": "exception", "code": 4}, {"offline", "degraded"}, r"exception 4"),
        ("garbage", {"kind": "garbage"}, {"offline"}, r"garbage|MBAP|timeout"),
        ("slow 200 ms", {"kind": "delay", "delay_ms": 200}, {"online"}, None),
        ("bad MBAP protocol id", {"kind": "crc"}, {"offline"}, r"MBAP"),
    ],
    "sim-rtu": [
        ("CRC errors", {"kind": "crc"}, {"offline"}, r"CRC"),
        ("silent", {"kind": "silent"}, {"offline"}, r"timeout"),
        ("exception 2", {"kind": "exception", "code": 2}, {"offline", "degraded"}, r"exception 2"),
        ("garbage", {"kind": "garbage"}, {"offline"}, None),
    ],
    "hostile": [
        ("wrong unit id", "wrong-unit", {"offline"}, r"reply from unit"),
        ("exception code 0", "exception:0", {"offline"}, r"invalid exception reply \(code 0\)"),
        ("reply 1.5 s late", "late:1500", {"offline"}, r"timeout"),
        ("garbage", "garbage", {"offline"}, None),
    ],
    "sunspec": [
        ("scale factor 10", "sunspec-sf:10", {"degraded"}, r"implausible"),
    ],
    "drop": [
        ("connection closed on request", "close", {"offline"}, r"connection"),
    ],
}


@dataclass
class Meter:
    name: str
    kind: str                 # a key of FAULTS
    bus: str
    unit: int
    profile: str
    faults: list[tuple[float, float, str, set, str | None]] = field(default_factory=list)  # from, until (s since T0)


def main() -> int:
    ap = argparse.ArgumentParser(description="soak synxd with many meters, a share of them faulty in rotation "
                                             "(docs/reliability.md, \"Soak campaign\")")
    ap.add_argument("--meters", type=int, default=100, help="meters (default 100, at least 30)")
    ap.add_argument("--minutes", type=float, default=10, help="length of the run (default 10)")
    ap.add_argument("--faulty", type=float, default=0.10, help="share of the meters faulty at a time (default 0.10)")
    ap.add_argument("--phase-s", type=float, default=60, help="how long a fault lasts (default 60)")
    ap.add_argument("--lead-s", type=float, default=30, help="faults begin this long after the start (default 30)")
    ap.add_argument("--recovery-s", type=float, default=25,
                    help="a meter must be online again this long after its fault ended (default 25)")
    ap.add_argument("--warmup-s", type=float, default=None, help="warm-up before the resource samples count "
                                                                   "(default: 90 s, or a third of a shorter run)")
    ap.add_argument("--sample-s", type=float, default=10, help="resource sampling period (default 10)")
    ap.add_argument("--max-fd-slope", type=float, default=1.0, help="descriptors per minute (default 1)")
    ap.add_argument("--max-thread-slope", type=float, default=0.2, help="threads per minute (default 0.2)")
    ap.add_argument("--max-rss-slope", type=float, default=1024, help="KiB per minute (default 1024)")
    ap.add_argument("--min-coverage", type=float, default=0.999, help="healthy slots with a good row (default 0.999)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    if a.meters < 30 or a.minutes <= 0 or not 0 < a.faulty < 0.5:
        ap.error("--meters >= 30, --minutes > 0, 0 < --faulty < 0.5")
    total_s = a.minutes * 60
    warmup_s = a.warmup_s if a.warmup_s is not None else min(90.0, total_s / 3)
    rng = random.Random(a.seed)
    c = Campaign("soak", keep=a.keep)
    log(f"soak: {a.meters} meters, {a.minutes:g} min, {a.faulty:.0%} faulty in phases of {a.phase_s:g} s, "
        f"warm-up {warmup_s:g} s, binaries {c.bin}, directory {c.dir}")

    # ---- The meters.
    n_rtu_lines, per_line = 3, 4
    n_hostile, n_sunspec, n_drop = 4, 2, 2
    n_sim = a.meters - n_rtu_lines * per_line - n_hostile - n_sunspec - n_drop
    meters: list[Meter] = []
    gateways = (n_sim + 9) // 10
    for i in range(n_sim):
        meters.append(Meter(f"tcp{i + 1:03d}", "sim-tcp", f"gw{i // 10 + 1}", i + 1, "synx-sim"))
    for line in range(n_rtu_lines):
        for u in range(per_line):
            unit = 201 + line * per_line + u
            meters.append(Meter(f"rtu{line + 1}-{u + 1}", "sim-rtu", f"line{line + 1}", unit, "synx-sim"))
    meters += [Meter(f"hostile{u}", "hostile", "hostile-gw", u, "hostile") for u in range(1, n_hostile + 1)]
    meters += [Meter(f"sunspec{u}", "sunspec", "sunspec-gw", u, "sunspec") for u in range(1, n_sunspec + 1)]
    meters += [Meter(f"drop{u}", "drop", f"drop{u}", 1, "hostile") for u in range(1, n_drop + 1)]

    # ---- The fault schedule: phase after phase, a different set of meters, each with its kind's next fault.
    per_phase = max(1, round(a.faulty * len(meters)))
    order = meters[:]
    rng.shuffle(order)
    next_fault = {k: 0 for k in FAULTS}
    phases = []
    t = a.lead_s
    while t + a.phase_s <= total_s - a.recovery_s - 5:
        p = len(phases)
        chosen = [order[(p * per_phase + i) % len(order)] for i in range(per_phase)]
        for m in chosen:
            name, spec, states, reason = FAULTS[m.kind][next_fault[m.kind] % len(FAULTS[m.kind])]
            next_fault[m.kind] += 1
            m.faults.append((t, t + a.phase_s, name, states, reason))
        phases.append((t, t + a.phase_s, [m.name for m in chosen]))
        t += a.phase_s
    if not phases:
        raise CampaignError(f"no fault phase fits: --minutes {a.minutes:g} is too short for --lead-s {a.lead_s:g}, "
                            f"--phase-s {a.phase_s:g} and --recovery-s {a.recovery_s:g}")
    log(f"{len(phases)} fault phases of {per_phase} meters")

    def spec_of(m: Meter, fault_name: str):
        return next(s for n, s, _, _ in FAULTS[m.kind] if n == fault_name)

    # ---- Simulators, started at T0 (their schedules are relative to their own start, a few ms later).
    os.makedirs(c.path("profiles"), exist_ok=True)
    registers = [("voltage.l1n", 0), ("frequency", 2), ("current.l1", 4), ("power_factor.total", 6), ("power.active.total", 8)]
    c.write("profiles/hostile.toml", '[profile]\nname = "hostile"\ndocument = "Tests/peers/hostile_modbus.py"\n' + "".join(
        f'[[register]]\nmeasurement = "{n}"\nfunction = 4\naddress = {r}\ntype = "float32"\n' for n, r in registers))
    t0 = time.monotonic()
    wall0 = time.time()
    lines = [c.socat_pair(f"tty{i + 1}") for i in range(n_rtu_lines)]
    scenario = "[simulation]\nupdate_interval_ms = 1000\nseed = 7\n"
    for m in meters:
        if m.kind.startswith("sim"):
            scenario += f"[[unit]]\nid = {m.unit}\n"
    shift = time.monotonic() - t0
    for m in meters:
        if m.kind.startswith("sim"):
            for start, end, name, _, _ in m.faults:
                spec = spec_of(m, name)
                scenario += (f"[[fault]]\nunit = {m.unit}\n" + "".join(
                    f'{k} = {json.dumps(v)}\n' for k, v in spec.items())
                    + f"probability = 1.0\nfrom_s = {start - shift:.3f}\nuntil_s = {end - shift:.3f}\n")
    ports = c.start_sim("sim", scenario, tcp=gateways, rtu=[b for _, b in lines])

    def hostile(name: str, units: list[Meter], healthy: str) -> int:
        shift = time.monotonic() - t0
        schedule = [{"unit": m.unit, "mode": spec_of(m, fname), "from_s": max(0.0, s - shift), "until_s": e - shift}
                    for m in units for s, e, fname, _, _ in m.faults]
        file = c.write(f"{name}-schedule.json", json.dumps(schedule))
        return c.start_hostile(name, ["--tcp", "127.0.0.1:0", "--seed", "1", "--schedule", file]
                               + [x for m in units for x in ("--unit", f"{m.unit}={healthy}")])
    bus_ports = {f"gw{g + 1}": ports[g] for g in range(gateways)}
    bus_ports["hostile-gw"] = hostile("hostile-gw", [m for m in meters if m.kind == "hostile"], "healthy")
    bus_ports["sunspec-gw"] = hostile("sunspec-gw", [m for m in meters if m.kind == "sunspec"], "sunspec-vary")
    for m in meters:
        if m.kind == "drop":
            bus_ports[m.bus] = hostile(m.bus, [m], "healthy")

    config = c.daemon_section()
    for bus, port in bus_ports.items():
        config += f'\n[[bus]]\nname = "{bus}"\ntype = "tcp"\nhost = "127.0.0.1"\nport = {port}\ntimeout_ms = 500\nretries = 1\n'
    for i, (a_dev, _) in enumerate(lines):
        config += (f'\n[[bus]]\nname = "line{i + 1}"\ntype = "rtu"\ndevice = "{a_dev}"\nbaud = 19200\n'
                   f'timeout_ms = 300\nretries = 1\nframe_gap_ms = 10\n')
    for m in meters:
        config += (f'\n[[meter]]\nname = "{m.name}"\nbus = "{m.bus}"\nunit = {m.unit}\nprofile = "{m.profile}"\n'
                   f'poll_interval_ms = {POLL_MS}\n')
    daemon = c.start_daemon(config)
    pid = daemon.pid
    log(f"synxd {pid} polling {len(meters)} meters on {len(bus_ports) + len(lines)} buses")

    # ---- The run: status every ~3 s, /proc every --sample-s, until the end.
    observations: dict[str, list[tuple[float, str, str]]] = {m.name: [] for m in meters}
    samples: list[tuple[float, dict]] = []
    committed: list[tuple[float, int]] = []
    alive = True
    next_sample = 0.0
    end = t0 + total_s
    while time.monotonic() < end:
        now = time.monotonic()
        if daemon.poll() is not None:
            alive = False
            break
        if now >= next_sample:
            samples.append((now - t0, proc_figures(pid)))
            next_sample = now + a.sample_s
            f = samples[-1][1]
            faulty = [p[2] for p in phases if p[0] <= now - t0 < p[1]]
            log(f"t={now - t0:.0f} s: {f['fds']} fds, {f['threads']} threads, {f['rss_kib'] / 1024:.1f} MB RSS; "
                f"faulty: {', '.join(faulty[0]) if faulty else '-'}")
        try:
            st = c.status()
            at = time.monotonic() - t0
            committed.append((at, st["store"]["committedRows"]))
            for ms in st["meters"]:
                observations[ms["name"]].append((at, ms["state"], ms.get("lastError") or ""))
        except (CampaignError, ValueError, OSError) as e:
            log(f"status failed: {e}")
        time.sleep(max(0.0, min(3.0, end - time.monotonic())))   # the sampling period, not a synchronisation
    alive = alive and daemon.poll() is None
    final = c.status() if alive else {"meters": []}
    wall_end = time.time()
    c.check("synxd alive at the end", alive, "" if alive else f"exit {daemon.returncode}: {c.output('synxd.err')[-2000:]}")

    # ---- Resources after the warm-up.
    measured = [(t, f) for t, f in samples if t >= warmup_s]
    slopes = {k: slope_per_minute([(t, f[k]) for t, f in measured]) for k in ("fds", "threads", "rss_kib")}
    if len(measured) >= 2:
        minutes = (measured[-1][0] - measured[0][0]) / 60
        written = (measured[-1][1]["write_bytes"] - measured[0][1]["write_bytes"]) / max(minutes, 1e-9)
    else:
        minutes, written = 0, 0
    first, last = (measured[0][1], measured[-1][1]) if measured else ({}, {})
    c.figure("resource samples after warm-up", f"{len(measured)} over {minutes:.1f} min (every {a.sample_s:g} s)")
    for k, unit, tol in (("fds", "descriptors", a.max_fd_slope), ("threads", "threads", a.max_thread_slope),
                         ("rss_kib", "KiB", a.max_rss_slope)):
        values = [f[k] for _, f in measured]
        c.figure(f"{unit}", f"{first.get(k)} -> {last.get(k)} (min {min(values, default=0)}, max {max(values, default=0)}), "
                            f"slope {slopes[k]:+.2f}/min (tolerance {tol:g})")
        c.check(f"{unit} do not grow (slope <= {tol:g}/min)", len(measured) >= 3 and slopes[k] <= tol,
                f"{slopes[k]:+.2f}/min over {len(measured)} samples")
    rows_after = [(t, n) for t, n in committed if t >= warmup_s]
    rows_per_min = (rows_after[-1][1] - rows_after[0][1]) / max((rows_after[-1][0] - rows_after[0][0]) / 60, 1e-9) if len(rows_after) > 1 else 0
    c.figure("bytes written by synxd", f"{written / 1e6:.1f} MB/min ({written / max(len(meters), 1) / 1e3:.0f} kB/min per meter); "
             f"{rows_per_min:.0f} rows/min committed: {written / max(rows_per_min, 1):.0f} bytes per row")

    # ---- Coverage from the store: rows per slot; good rows per healthy slot.
    if alive:
        code = c.stop("synxd", signal.SIGTERM, timeout=15)
        c.check("synxd stops on SIGTERM with status 0", code == 0, f"exit {code}")
    w0 = wall0 + warmup_s
    w1 = wall_end - 3
    healthy_good = healthy_slots = slots_total = rows_total = two_rows = lost_at_onset = lost_other = 0
    no_row_examples: list[str] = []
    worst: list[tuple[float, str, int, int]] = []
    early = 0
    wrong_sunspec = []
    db = sqlite3.connect(f"file:{c.database}?mode=ro", uri=True)
    lo, hi = int(w0 * 1000) - POLL_MS, int(w1 * 1000) + POLL_MS
    for m in meters:
        rows = [(t, q, v) for t, v, q, *_ in synx_store.series_points(db, m.name, "voltage.l1n") if lo <= t < hi]
        by_slot: dict[int, int] = {}
        doubled: dict[int, int] = {}
        for t, q, v in rows:
            slot = t // POLL_MS  # the slot it started in: synxd stamps a poll at or after its slot, within its interval
            by_slot[slot] = min(by_slot.get(slot, 1), 0 if q == 0 else 1)     # 0: a good row in the slot
            early += (t % POLL_MS) >= POLL_MS - 10                           # up to 10 ms before a slot
            doubled[slot] = doubled.get(slot, 0) + 1
            if m.kind == "sunspec" and q == 0 and abs(v - 230.0) > 0.05:
                wrong_sunspec.append((m.name, t, v))
        good = slots = 0
        for s in range(int(w0 * 1000) // POLL_MS + 1, int(w1 * 1000) // POLL_MS):
            rel = s * POLL_MS / 1000 - wall0
            slots_total += 1
            rows_total += s in by_slot
            two_rows += doubled.get(s, 0) > 1
            if s not in by_slot and len(no_row_examples) < 5:
                no_row_examples.append(f"{m.name} at {s * POLL_MS} (rows {sorted(t - s * POLL_MS for t, _, _ in rows if abs(t - s * POLL_MS) < 3000)} ms from it)")
            if any(f0 <= rel < f1 + a.recovery_s for f0, f1, *_ in m.faults):
                continue
            slots += 1
            good += by_slot.get(s) == 0
            if by_slot.get(s) != 0:
                # The documented cost of a neighbour's first failing poll ((1 + retries) x timeout on its bus)?
                onset = any(f0 - 1 <= rel <= f0 + 3 for o in meters if o.bus == m.bus and o is not m for f0, *_ in o.faults)
                lost_at_onset += onset
                lost_other += not onset
        healthy_good += good
        healthy_slots += slots
        if slots:
            worst.append((good / slots, m.name, good, slots))
    freq_wrong = []
    for m in meters:
        if m.kind == "sunspec":
            freq_wrong += [(m.name, t, v) for t, v, q, *_ in synx_store.series_points(db, m.name, "frequency")
                           if q == 0 and abs(v - 50.0) > 0.01]
    db.close()
    worst.sort()
    coverage = healthy_good / healthy_slots if healthy_slots else 0
    c.figure("healthy slots with a good row", f"{healthy_good} of {healthy_slots} = {coverage:.4%}; worst: "
             + ", ".join(f"{n} {g}/{s}" for _, n, g, s in worst[:5]))
    c.figure("healthy slots lost", f"{lost_at_onset} within 3 s of a fault beginning on another meter of the same bus "
                                   f"(the documented cost of its first failing poll), {lost_other} otherwise")
    c.figure("slots with a row (any quality)", f"{rows_total} of {slots_total} = {rows_total / max(slots_total, 1):.4%}; "
             f"{two_rows} slots with two rows")
    c.figure("rows stamped up to 10 ms before their slot", str(early))
    c.check(f"healthy meters keep >= {a.min_coverage:.1%} of their slots", coverage >= a.min_coverage, f"{coverage:.4%}")
    c.check("every slot of every meter has a row (good, invalid or missing)", rows_total == slots_total,
            f"{slots_total - rows_total} slots without a row, e.g. {'; '.join(no_row_examples)}")
    c.check("SunSpec meters whose scale factors change every read: nothing wrong stored as good",
            not wrong_sunspec and not freq_wrong, f"{(wrong_sunspec + freq_wrong)[:5]}")

    # ---- Faults reported while active, cleared after.
    reported = cleared = faults = 0
    problems = []
    kinds_seen: dict[str, list[int]] = {}
    for m in meters:
        obs = observations[m.name]
        for f0, f1, name, states, reason in m.faults:
            faults += 1
            during = [o for o in obs if f0 + 12 <= o[0] < f1]
            if states == {"online"}:
                ok = bool(during) and sum(o[1] == "online" for o in during) >= 0.9 * len(during)
                seen = f"online in {sum(o[1] == 'online' for o in during)} of {len(during)} looks"
            else:
                match = [o for o in during if o[1] in states and (reason is None or re.search(reason, o[2]))]
                ok = bool(match)
                seen = (f"{len(match)} of {len(during)} looks matched" + (
                    "" if ok else f"; seen {sorted({(o[1], o[2][:90]) for o in during})[:3]}"))
            k = kinds_seen.setdefault(f"{m.kind}: {name}", [0, 0])
            k[0] += 1
            k[1] += ok
            reported += ok
            if not ok:
                problems.append(f"{m.name} {name} [{f0:.0f}, {f1:.0f}) s: {seen}")
            after = [o for o in obs if f1 <= o[0] < f1 + a.recovery_s]
            back = any(o[1] == "online" for o in after)
            cleared += back
            if not back:
                problems.append(f"{m.name} {name}: not online within {a.recovery_s:g} s of its end; seen "
                                f"{sorted({(o[1], o[2][:90]) for o in after})[:3]}")
    not_online = [f"{ms['name']} {ms['state']} {ms.get('lastError', '')[:80]}" for ms in final["meters"] if ms["state"] != "online"]
    c.figure("faults", f"{faults} in {len(phases)} phases; reported with their reason {reported}, cleared {cleared}")
    c.figure("fault kinds (reported/injected)", "; ".join(f"{k} {v[1]}/{v[0]}" for k, v in sorted(kinds_seen.items())))
    c.check("every fault reported with its reason while active", reported == faults,
            "; ".join(p for p in problems if "not online" not in p)[:1500])
    c.check(f"every fault cleared (online again within {a.recovery_s:g} s)", cleared == faults,
            "; ".join(p for p in problems if "not online" in p)[:1500])
    c.check("every meter online at the end", alive and not not_online, "; ".join(not_online[:10]))
    errors = c.output("synxd.err")
    levels: dict[str, int] = {}
    for line in errors.splitlines():
        parts = line.split(" ", 2)
        if len(parts) > 1:
            levels[parts[1]] = levels.get(parts[1], 0) + 1
    c.figure("synxd log lines", f"{errors.count(chr(10))} ({', '.join(f'{v} {k}' for k, v in sorted(levels.items()))})")
    return c.summary()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CampaignError as e:
        print(f"soak: {e}", file=sys.stderr)
        sys.exit(2)
