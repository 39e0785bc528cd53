#!/usr/bin/env python3
"""Crash campaign (scripts/crash-campaign): synxd is killed with SIGKILL at chosen and random moments, again and
again, and restarted on the same store each time; after every kill the store must be intact and hold every
row that was committed, and after all of them no aggregate may be stored twice or hold more constituents than
its interval can (docs/reliability.md, "Crash campaign").

Time runs faster: synxd and synx-sim run under libfaketime (Debian faketime) with their wall and monotonic
clocks `--speed` times as fast as the real ones, on one fake clock shared by every process of the campaign
(fake = R0 + speed x (real - R0), R0 the campaign's start; each restarted synxd gets the offset that puts it
on that line). At the default 10x a 10-min interval passes in a minute, the first prune of each start (60 s
after it) comes 6 s in, and 3-s, 10-min and 2-h meter-derived and Class A aggregates are closed many times in
a run of a few minutes. Times below are on the fake clock unless they say "real".

Kill moments, in turn:
  random   uniformly between --min-run and --max-run real seconds after synxd answered
  early    0.2..0.3 real s after synxd was started (opening the store, starting its threads)
  tick     0..2 s after a UTC 10-min boundary, when both 10-min tiers (and 3-s, and every 12th the 2-h) close
  prune    during retention pruning: before the start, stale rows (older than the retention, of series of
           their own and of a meter named `stale-fill`) are put in as synxd stores them: samples and 3-s
           aggregates as a head batch (sample_head, Tests/peers/synx_store.py; synxd compacts them into blocks
           at its first round), Class A 150/180-cycle aggregates into pq_aggregates; the kill comes when a
           random share (10..90 %) of them is gone

Checks after each kill: `sqlite3 DB 'PRAGMA integrity_check'` says ok; every row a reader saw committed just
before the kill is still there; synxd's own count of committed rows (status, just before the kill) is no more
than the rows stored since the previous kill; and the last stored poll of each polled meter is at most
commit interval (1 s) + poll interval (1 s) + 1 s of scheduling slack before the kill. After all kills: every
gap in a polled meter's stored rows longer than 1.5 poll intervals spans a kill and begins at most that bound
before it; no meter-derived aggregate is off its UTC grid or counts more values than polls fit in its interval;
no Class A aggregate overlaps another of its meter and tier (but for the label of a block tagged from a 10-min
tick) or counts more constituents than its interval holds; nothing was kept aside as a repeated aggregate
(clock_overlap); a last start prunes every stale row left by a killed prune.

The samples and the 3-s tier are read through Tests/peers/synx_store.py (schema 8: blocks plus the head's points
after each series' last_t), as synxd's StoreReader reads them.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synx_store  # noqa: E402
from campaign import Campaign, CampaignError, control, log, wait_until  # noqa: E402

POLL_MS = 1000
COMMIT_MS = 1000
SLACK_MS = 1000
LOSS_BOUND_MS = COMMIT_MS + POLL_MS + SLACK_MS
POLLED = ["m1", "m2", "m3"]
STALE = "stale-fill"
DERIVED_TIERS = {"3s": 3000, "10min": 600_000, "2h": 7_200_000}


def libfaketime() -> str:
    found = glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
    if not found:
        raise CampaignError("libfaketime is not installed (Debian package libfaketime; scripts/install-deps)")
    return found[0]


class Clock:
    """The campaign's fake clock: fake = r0 + speed x (real - r0), in seconds."""

    def __init__(self, speed: float):
        self.speed = speed
        self.r0 = time.time()

    def now(self) -> float:
        return self.fake(time.time())

    def fake(self, real: float) -> float:
        return self.r0 + self.speed * (real - self.r0)

    def env(self) -> dict[str, str]:
        """The environment that puts a process started now on the fake clock."""
        if self.speed == 1:
            return {}
        offset = (self.speed - 1) * (time.time() - self.r0)
        return {"LD_PRELOAD": libfaketime(), "FAKETIME": f"+{offset:.3f} x{self.speed:g}",
                # libfaketime's constructor would otherwise setenv() and move `environ` before the Swift runtime
                # found argv next to it (Tests/EndToEndTests/ClockStepEndToEndTests.swift): no shared state.
                "FAKETIME_SHARED": "/synx-none-sem /synx-none-shm"}

    def real_seconds_until(self, fake_t: float) -> float:
        return max(0.0, (fake_t - self.now()) / self.speed)


def integrity(db: str) -> str:
    r = subprocess.run(["sqlite3", db, "PRAGMA integrity_check"], capture_output=True, text=True, timeout=300)
    return (r.stdout + r.stderr).strip()


def reader(db: str) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)


def polled_series(db: str) -> dict[str, int]:
    """Series id of each polled meter's voltage.l1n (its samples: tier '', not its 3-s aggregates)."""
    with reader(db) as c:
        rows = c.execute("SELECT meter, id FROM series WHERE measurement = 'voltage.l1n' AND tier = '' AND meter IN (%s)"
                         % ",".join("?" * len(POLLED)), POLLED).fetchall()
    return dict(rows)


def stale_counts(db: str) -> tuple[int, int, int]:
    """Stale rows left: (samples, meter-derived aggregates, Class A aggregates), in one snapshot. The 3-s
    aggregates are points of the meter's '3s' series, plus any rows in derived_aggregates (not yet converted)."""
    with reader(db) as c:
        c.execute("BEGIN")
        samples = synx_store.point_count(c, "SELECT id FROM series WHERE meter = ? AND tier = ''", (STALE,))
        derived = (synx_store.point_count(c, "SELECT id FROM series WHERE meter = ? AND tier = '3s'", (STALE,))
                   + c.execute("SELECT count(*) FROM derived_aggregates WHERE meter = ?", (STALE,)).fetchone()[0])
        classa = c.execute("SELECT count(*) FROM pq_aggregates WHERE meter = ?", (STALE,)).fetchone()[0]
        c.execute("COMMIT")
    return samples, derived, classa


def campaign_rows(db: str) -> int:
    """Rows synxd stored: samples (but the stale ones) and rows kept aside as repeats."""
    with reader(db) as c:
        c.execute("BEGIN")
        n = (synx_store.point_count(c, "SELECT id FROM series WHERE tier = '' AND meter <> ?", (STALE,))
             + c.execute("SELECT count(*) FROM clock_overlap WHERE kind = 'sample'").fetchone()[0])
        c.execute("COMMIT")
    return n


def put_stale_rows(db: str, now_ms: int, series: int, per_series: int) -> int:
    """Rows two days old (retention: one day), for the next start's prune to delete; how many.

    Samples and 3-s aggregates go in as one head batch (sample_head), the way synxd commits them. Each call
    uses series of its own: a series never takes a point at or before its latest (`last_t` stays when retention
    deletes the blocks), so a second fill of the same series would be dropped at synxd's replay."""
    old = now_ms - 2 * 86_400_000
    fill = f"f{now_ms}"
    head: list[tuple] = []
    with sqlite3.connect(db, timeout=30) as c:
        for i in range(series):
            c.execute("INSERT OR IGNORE INTO series (meter, measurement, unit, tier) VALUES (?, ?, 'V', '')",
                      (STALE, f"{fill}.x{i}"))
            sid = c.execute("SELECT id FROM series WHERE meter = ? AND measurement = ? AND tier = ''",
                            (STALE, f"{fill}.x{i}")).fetchone()[0]
            head += [(sid, old - k * 1000, 230.0, 0) for k in range(per_series - 1, -1, -1)]
        c.execute("INSERT OR IGNORE INTO series (meter, measurement, unit, tier) VALUES (?, ?, 'V', '3s')",
                  (STALE, f"{fill}.voltage.l1n"))
        sid = c.execute("SELECT id FROM series WHERE meter = ? AND measurement = ? AND tier = '3s'",
                        (STALE, f"{fill}.voltage.l1n")).fetchone()[0]
        # method rms (flags 0), count 3 of 3 expected, no notes
        head += [(sid, old - old % 3000 - k * 3000, 230.0, 0, 3, 3) for k in range(per_series - 1, -1, -1)]
        synx_store.append_head(c, head)
        c.execute("WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < ?) "
                  "INSERT OR IGNORE INTO pq_aggregates (meter, tier, end_ms, start_ms, count, invalid_count, quality, \"values\") "
                  "SELECT ?, '150/180-cycle', ? - i * 3000, ? - i * 3000 - 3000, 15, 0, '', NULL FROM k",
                  (per_series - 1, STALE, old, old))
    return sum(stale_counts(db))


def snapshot(db: str, ids: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Per polled meter: (rows, latest t) a reader sees committed now."""
    with reader(db) as c:
        stats = synx_store.series_stats(c, ids.values())
    return {m: (stats[sid][0], stats[sid][1] or 0) for m, sid in ids.items()}


LIBFAKETIME_FAILURE = "libfaketime: In ft_shm_init(), sem_open failed"
faketime_retries = 0


def start_synxd(c: Campaign, clock: Clock):
    """Starts synxd on the fake clock. Now and then (about one start in twenty here) libfaketime 0.9.10 exits
    the process at once in ft_shm_init() with the FAKETIME_SHARED names that keep it from calling setenv();
    such a start is retried, and counted."""
    global faketime_retries
    for _ in range(5):
        before = len(c.output("synxd.err"))
        p = c.start("synxd", [os.path.join(c.bin, "synxd"), "--config", c.path("synxd.toml")], env=clock.env())
        try:
            p.wait(0.2)
        except subprocess.TimeoutExpired:
            return p
        if LIBFAKETIME_FAILURE not in c.output("synxd.err")[before:]:
            raise CampaignError(f"synxd exited at start with {p.returncode}: {c.output('synxd.err')[before:][-2000:]}")
        faketime_retries += 1
    raise CampaignError("libfaketime failed five starts in a row")


def main() -> int:
    ap = argparse.ArgumentParser(description="kill -9 synxd again and again; check the store after each kill "
                                             "(docs/reliability.md, \"Crash campaign\")")
    ap.add_argument("--kills", type=int, default=50, help="how many times synxd is killed (default 50)")
    ap.add_argument("--speed", type=float, default=10, help="how many times faster the clocks run (libfaketime; 1: real time)")
    ap.add_argument("--min-run", type=float, default=1.0, help="shortest random run, real seconds (default 1)")
    ap.add_argument("--max-run", type=float, default=12.0, help="longest random run, real seconds (default 12)")
    ap.add_argument("--stale-series", type=int, default=20, help="stale series put in before a prune kill (default 20)")
    ap.add_argument("--stale-rows", type=int, default=20000, help="stale rows per series and table (default 20000)")
    ap.add_argument("--seed", type=int, default=int(time.time()), help="random seed (printed)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    if a.kills < 1 or a.speed < 1 or not 0 < a.min_run <= a.max_run:
        ap.error("--kills >= 1, --speed >= 1 and 0 < --min-run <= --max-run")
    rng = random.Random(a.seed)
    c = Campaign("crash-campaign", keep=a.keep)
    log(f"crash campaign: {a.kills} kills, clocks x{a.speed:g}, seed {a.seed}, binaries {c.bin}, directory {c.dir}")
    clock = Clock(a.speed)

    # The meters: three polled synx-sim units on one Modbus/TCP connection and a waveform unit on its own.
    scenario = ("[simulation]\nseed = 3\n" + "".join(f"[[unit]]\nid = {i}\n" for i in (1, 2, 3))
                + "[[waveform]]\nid = 5\nsample_rate = 4000\ncurrent = 0\n")
    port = c.start_sim("sim", scenario, env=clock.env())[0]
    config = c.daemon_section() + (
        '\n[retention]\nsamples_days = 1\nderived_3s_days = 1\nclass_a_150_180_days = 1\n'
        f'\n[[bus]]\nname = "lan"\ntype = "tcp"\nhost = "127.0.0.1"\nport = {port}\ntimeout_ms = 500\n'
        f'\n[[bus]]\nname = "wf"\ntype = "tcp"\nhost = "127.0.0.1"\nport = {port}\n'
        + "".join(f'\n[[meter]]\nname = "{m}"\nbus = "lan"\nunit = {i + 1}\nprofile = "synx-sim"\npoll_interval_ms = {POLL_MS}\n'
                  for i, m in enumerate(POLLED))
        + '\n[[meter]]\nname = "pq"\nbus = "wf"\nunit = 5\nprofile = "waveform"\n')
    os.makedirs(c.path("profiles"), exist_ok=True)
    c.write("synxd.toml", config)
    db = c.database

    kinds = ["random", "random", "tick", "random", "prune", "random", "early", "random", "tick", "prune"]
    kills: list[float] = []                     # fake ms of each kill, on the clock of the synxd killed
    skews: list[float] = []                     # how far each synxd's clock was from the campaign's (ms)
    losses: list[float] = []                    # fake ms from the last stored poll to the kill
    tally: dict[str, int] = {}
    mid_prune = 0
    prune_kills = 0
    failures: list[str] = []
    rows_before = 0
    campaign_start_ms = int(clock.now() * 1000)
    for k in range(a.kills):
        kind = kinds[k % len(kinds)] if k else "random"      # the first start creates the store
        stale_before = 0
        if kind == "prune":
            stale_before = put_stale_rows(db, int(clock.now() * 1000), a.stale_series, a.stale_rows)
        started = time.monotonic()
        p = start_synxd(c, clock)
        committed = None
        skew = 0.0
        snap: dict[str, tuple[int, int]] = {}
        if kind == "early":
            # The moment itself is the experiment, not a wait (start_synxd already let 0.2 s pass).
            time.sleep(rng.uniform(0, 0.1))
        else:
            def answering():
                if p.poll() is not None:
                    raise CampaignError(f"synxd exited with {p.returncode}: {c.output('synxd.err')[-3000:]}")
                try:
                    return control(c.socket, {"version": 1, "command": "status"}, timeout=2).get("status") == "ok"
                except (OSError, ValueError):
                    return False
            deadline = time.monotonic() + 30
            while not answering():
                if time.monotonic() > deadline:
                    raise CampaignError(f"synxd not answering 30 s after start {k + 1}")
                time.sleep(0.02)
            if kind == "random":
                time.sleep(max(0.0, started + rng.uniform(a.min_run, a.max_run) - time.monotonic()))
            elif kind == "tick":
                now = clock.now()
                tick = (now // 600 + 1) * 600
                time.sleep(clock.real_seconds_until(tick + rng.uniform(0, 2)))
            elif kind == "prune":
                # The first prune comes 60 s (fake) after the writer started; kill when a random share of the
                # stale rows (10..90 %) is gone, or at once if it ends first.
                share = rng.uniform(0.1, 0.9)
                wait_until("the prune to begin", 120 / a.speed + 30, lambda: sum(stale_counts(db)) < stale_before, interval=0.01)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    left = sum(stale_counts(db))
                    if left == 0 or stale_before - left >= share * stale_before:
                        break
                    time.sleep(0.005)
            ids = polled_series(db)
            snap = snapshot(db, ids)
            try:
                before = time.time()
                d = control(c.socket, {"version": 1, "command": "status"}, timeout=2)["daemon"]
                line_ms = clock.fake((before + time.time()) / 2) * 1000
                committed = d["store"]["committedRows"]
                # synxd's own clock: its start on the wall clock plus its uptime on the monotonic one.
                skew = d["startedAt"] + d["uptimeSeconds"] * 1000 - line_ms
                skews.append(skew)
            except (OSError, ValueError, KeyError):
                committed = None
        if p.poll() is not None:
            raise CampaignError(f"synxd died by itself before kill {k + 1} (exit {p.returncode}): {c.output('synxd.err')[-3000:]}")
        p.send_signal(signal.SIGKILL)
        kill_ms = clock.now() * 1000 + (skew if snap else 0)      # on synxd's clock
        p.wait()
        kills.append(kill_ms)
        tally[kind] = tally.get(kind, 0) + 1

        problems = []
        verdict = integrity(db)
        if verdict != "ok":
            problems.append(f"integrity_check: {verdict[:300]}")
        rows_now = campaign_rows(db)
        if committed is not None and committed > rows_now - rows_before:
            problems.append(f"synxd reported {committed} rows committed, {rows_now - rows_before} stored since the last kill")
        if snap:
            after = snapshot(db, polled_series(db))
            with reader(db) as conn:
                stored = synx_store.points_of_series(conn, polled_series(db).values())
                for m, (n, t) in snap.items():
                    sid = polled_series(db)[m]
                    kept = sum(1 for p in stored[sid] if p[0] <= t)
                    if kept < n:
                        problems.append(f"{m}: {n - kept} of {n} rows seen committed before the kill are gone")
                    loss = kill_ms - after[m][1]
                    losses.append(loss)
                    if loss > LOSS_BOUND_MS:
                        problems.append(f"{m}: last stored poll {loss / 1000:.2f} s before the kill (bound {LOSS_BOUND_MS / 1000:g} s)"
                                        + (" — the writer commits nothing while it prunes" if kind == "prune" else ""))
        note = ""
        if kind == "prune":
            prune_kills += 1
            left = sum(stale_counts(db))
            if 0 < left < stale_before:
                mid_prune += 1
                note = f", mid-prune ({stale_before - left} of {stale_before} stale rows deleted)"
            else:
                note = f", prune {'done' if left == 0 else 'not begun'} at the kill ({left} of {stale_before} left)"
        rows_before = rows_now
        log(f"kill {k + 1}/{a.kills} ({kind}) after {time.monotonic() - started:.2f} s real{note}: "
            + ("; ".join(problems) if problems else "store ok"))
        failures += [f"kill {k + 1} ({kind}): {x}" for x in problems]

    # A last start: a prune that was killed half-way is finished by the next one; then stop cleanly.
    log("last start: the stale rows left by killed prunes must go")
    start_synxd(c, clock)
    wait_until("synxd answering", 30, lambda: control(c.socket, {"version": 1, "command": "status"}, timeout=2)["status"] == "ok")
    stale_left = sum(stale_counts(db))
    try:
        wait_until("every stale row pruned", 120 / a.speed + 60, lambda: sum(stale_counts(db)) == 0, interval=0.1)
        pruned_after = True
    except CampaignError:
        pruned_after = False
    # The custody chain over 10-min aggregates, events and configurations holds after every kill (the rows put
    # in outside synxd to be pruned are gone by now; until then verify rightly names them).
    verify_code, verify_out, verify_err = c.synxctl(["verify", "--json"], timeout=120)
    c.stop("synxd", signal.SIGTERM, timeout=30)
    end_ms = kills[-1]

    # Gaps in the polled meters' rows: each must span a kill and begin within the loss bound before it.
    gap_problems = []
    longest_gap = 0.0
    with reader(db) as conn:
        conn.execute("BEGIN")                   # one snapshot for every read below
        polled = synx_store.points_of_series(conn, polled_series(db).values())
        for m, sid in polled_series(db).items():
            times = [p[0] for p in polled[sid] if campaign_start_ms <= p[0] <= end_ms]
            for t0, t1 in zip(times, times[1:]):
                if t1 - t0 <= 1.5 * POLL_MS:
                    continue
                spanned = [kt for kt in kills if t0 < kt < t1]
                if not spanned:
                    gap_problems.append(f"{m}: {(t1 - t0) / 1000:.1f} s gap at {t0} with no kill in it")
                elif spanned[0] - t0 > LOSS_BOUND_MS:
                    gap_problems.append(f"{m}: gap begins {(spanned[0] - t0) / 1000:.2f} s before the kill at {spanned[0]:.0f}")
                else:
                    longest_gap = max(longest_gap, spanned[0] - t0)
        # Aggregates.
        # The 3-s tier is in series of its own (tier '3s'); derived_aggregates holds 10-min and 2-h (and 3-s rows of
        # a version-7 store not yet converted).
        derived = conn.execute("SELECT meter, measurement, tier, end_ms, count, expected FROM derived_aggregates WHERE meter <> ?",
                               (STALE,)).fetchall()
        three_s = dict(((sid, (meter, measurement)) for sid, meter, measurement in conn.execute(
            "SELECT id, meter, measurement FROM series WHERE tier = '3s' AND meter <> ?", (STALE,))))
        for sid, points in synx_store.points_of_series(conn, three_s).items():
            derived += [(three_s[sid][0], three_s[sid][1], "3s", p[0], *(p[3:5] or (0, 0))) for p in points]
        off_grid = [r for r in derived if r[3] % DERIVED_TIERS.get(r[2], 1)]
        # An interval holds at most one poll per poll interval (slow registers too: the first poll after a start
        # reads them off their grid, so a 3-s interval may hold 2 with 1 expected; counted apart).
        overfull = [r for r in derived if r[4] > max(r[5], DERIVED_TIERS.get(r[2], 0) // POLL_MS)]
        above_expected = [r for r in derived if r[4] > r[5] and r not in overfull]
        early = sum(1 for points in polled.values() for p in points
                    if p[0] % POLL_MS >= POLL_MS - 10 and p[0] >= campaign_start_ms)
        derived_by_tier = {t: sum(1 for r in derived if r[2] == t) for t in DERIVED_TIERS}
        classa = conn.execute("SELECT meter, tier, end_ms, start_ms, count, invalid_count FROM pq_aggregates WHERE meter <> ? "
                              "ORDER BY meter, tier, end_ms", (STALE,)).fetchall()
        classa_by_tier: dict[str, int] = {}
        overlaps, classa_overfull = [], []
        tick_labels = 0
        previous: dict[tuple[str, str], int] = {}
        for meter, tier, end, start, count, invalid in classa:
            classa_by_tier[tier] = classa_by_tier.get(tier, 0) + 1
            key = (meter, tier)
            if key in previous and start < previous[key]:
                if start % 600_000 == 0 and previous[key] - start <= 200:
                    # The block ending at a 10-min tick ends with the window that reaches it (up to one 10-cycle
                    # window past the tick), and the next block is tagged from the tick: labels, not data, overlap.
                    tick_labels += 1
                else:
                    overlaps.append(f"{meter} {tier} [{start}, {end}) overlaps the interval ending {previous[key]}")
            previous[key] = end
            # What an interval can hold at 50 Hz (1 % frequency margin): 10-cycle windows, 150-cycle blocks of 15
            # of them, 10-min values in 2 h, cycles in 10 s.
            capacity = {"150/180-cycle": 15, "10-min": int((end - start) / 200 * 1.01) + 1, "2-h": 12,
                        "10-s": int((end - start) / 20 * 1.01) + 1}.get(tier)
            if capacity is not None and count + invalid > capacity:
                classa_overfull.append(f"{meter} {tier} ending {end}: {count}+{invalid} constituents, at most {capacity}")
            if tier == "10-min" and end % 600_000 or tier == "2-h" and end % 7_200_000:
                overlaps.append(f"{meter} {tier} ending {end}: off the UTC grid")
        kept_aside = dict(conn.execute("SELECT kind, count(*) FROM clock_overlap GROUP BY kind").fetchall())
        total_samples = synx_store.point_count(conn, "SELECT id FROM series WHERE tier = ''")
        conn.execute("COMMIT")
    final_integrity = integrity(db)

    fake_minutes = (end_ms - campaign_start_ms) / 60000
    c.figure("kills", f"{len(kills)} ({', '.join(f'{v} {k}' for k, v in sorted(tally.items()))}), seed {a.seed}")
    c.figure("fake time covered", f"{fake_minutes:.1f} min at x{a.speed:g} ({fake_minutes / a.speed:.1f} min real)")
    c.figure("kills during pruning", f"{mid_prune} of {prune_kills} prune kills landed mid-prune")
    if losses:
        c.figure("last stored poll before a kill", f"max {max(losses) / 1000:.2f} s, mean {sum(losses) / len(losses) / 1000:.2f} s "
                                                   f"(bound {LOSS_BOUND_MS / 1000:g} s)")
    c.figure("longest gap at a kill (before it)", f"{longest_gap / 1000:.2f} s")
    c.figure("rows stored", f"{total_samples} samples; derived {derived_by_tier}; Class A {classa_by_tier}")
    c.figure("kept aside (clock_overlap)", json.dumps(kept_aside))
    if skews:
        c.figure("synxd clocks against the campaign's", f"{min(skews):+.0f}..{max(skews):+.0f} ms (libfaketime anchors "
                                                         "each process at its own start; kill times use synxd's)")
    c.figure("starts retried (libfaketime exited in ft_shm_init)", str(faketime_retries))
    c.figure("polled rows stamped up to 10 ms before their slot", str(early))
    c.figure("150/180-cycle blocks tagged from a 10-min tick that the previous block ran past", str(tick_labels))
    c.figure("derived rows above their expected count (slow registers after a start)", str(len(above_expected)))
    c.check("every kill: integrity ok, committed rows kept, loss within the last batch", not failures,
            "; ".join(failures[:10]) + (f" … and {len(failures) - 10} more" if len(failures) > 10 else ""))
    c.check("final PRAGMA integrity_check", final_integrity == "ok", final_integrity[:300])
    c.check("gaps in polled rows only at kills, within commit + poll interval + 1 s", not gap_problems, "; ".join(gap_problems[:10]))
    c.check("meter-derived aggregates: on the UTC grid, no more values than polls fit in the interval",
            not off_grid and not overfull, f"{len(off_grid)} off the grid, {len(overfull)} overfull: {(off_grid + overfull)[:4]}")
    c.check("Class A aggregates: no interval twice, none over its capacity", not overlaps and not classa_overfull,
            "; ".join((overlaps + classa_overfull)[:10]))
    c.check("no aggregate kept aside as a repeat", not any(k != "sample" for k in kept_aside), json.dumps(kept_aside))
    c.check("10-min aggregates of both kinds were written", derived_by_tier.get("10min", 0) > 0 and classa_by_tier.get("10-min", 0) > 0,
            f"derived {derived_by_tier.get('10min', 0)}, Class A {classa_by_tier.get('10-min', 0)}")
    if prune_kills:
        c.check("a restart finishes a killed prune", pruned_after, f"{stale_left} stale rows at the last start")
    verified = json.loads(verify_out) if verify_code in (0, 65) and verify_out.strip() else {}
    c.figure("custody chain after the kills", f"{verified.get('checked', '?')} links checked, head {verified.get('headSeq', '?')}")
    c.check("the custody chain holds after every kill (synxctl verify)", verify_code == 0 and verified.get("broken") is None,
            f"exit {verify_code}: {verify_out.strip()[:300]} {verify_err.strip()[:300]}")
    return c.summary()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CampaignError as e:
        print(f"crash-campaign: {e}", file=sys.stderr)
        sys.exit(2)
