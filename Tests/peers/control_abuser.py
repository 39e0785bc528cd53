#!/usr/bin/env python3
"""Abusive control-socket clients for the synx end-to-end tests and the control campaign (Python standard
library only).

Run as an unprivileged user (the tests use setpriv), so the clients compete for the slots every user may
take, not for those synxd reserves for root and its own user.

    control_abuser.py SOCKET [--slow N] [--nonreaders M --request LINE] [--flood N] [--malformed K]
                             [--churn R] [--slow-period S] [--reconnect] [--seconds S] [--report FILE]

--slow N          N connections that send one byte of a request every --slow-period seconds (default 1) and
                  never finish the line
--nonreaders M    M connections that send LINE (a whole request) and never read the response
--flood N         N clients that connect at once, each sending `status` and reading the answer (most get
                  `busy`), holding an admitted connection 0.2..0.5 s, and again after a pause of 0.2..1 s
--malformed K     K workers that send every kind of malformed request in MALFORMED, round and round, each on a
                  connection of its own, and record what came back (an answer's status, or `closed`)
--churn R         connect and close at once, about R times a second
--reconnect       reopen slow and non-reading connections that synxd dropped or refused (the campaign);
                  without it, connections the daemon closes are not reopened (the end-to-end test)
--seconds S       how long to keep at it; then every connection is closed and the script exits 0
--report FILE     at the end, write what happened as JSON: per malformed kind the outcomes, per client kind
                  the counts of answers, refusals and drops, and how long dropped connections were held

Prints "ready" once every first connection is open (or refused).
"""
from __future__ import annotations

import argparse
import asyncio
import errno
import json
import random
import resource
import socket
import sys
import time

STATUS = b'{"version":1,"command":"status"}\n'


def q(**fields) -> bytes:
    """A request line with `fields` (a query of m1's voltage unless they say otherwise)."""
    base = {"version": 1, "command": "query", "meter": "m1", "measurement": "voltage.l1n"}
    base.update(fields)
    return json.dumps(base).encode() + b"\n"


# The malformed request kinds: name -> (bytes to send, or an action; the outcomes that are right). An outcome is
# the `status` of the answer, or "closed" (the connection ended without one). docs/PROTOCOL.md: requests are
# checked size -> framing -> version -> command -> permission; a line over 64 KiB gets tooLarge and is closed.
MALFORMED: dict[str, tuple[object, set[str]]] = {
    "not-json":               (b"this is not json\n", {"invalidRequest"}),
    "truncated-json":         (b'{"version":1,"command":"sta\n', {"invalidRequest"}),
    "json-array":             (b'[{"version":1,"command":"status"}]\n', {"invalidRequest"}),
    "json-scalar":            (b"42\n", {"invalidRequest"}),
    "empty-line":             (b"\n", {"invalidRequest"}),
    "missing-version":        (b'{"command":"status"}\n', {"invalidRequest"}),
    "missing-command":        (b'{"version":1}\n', {"invalidRequest"}),
    "version-as-string":      (b'{"version":"1","command":"status"}\n', {"invalidRequest", "badVersion"}),
    "bad-version":            (b'{"version":2,"command":"status"}\n', {"badVersion"}),
    "version-huge":           (b'{"version":1e400,"command":"status"}\n', {"invalidRequest", "badVersion"}),
    "command-wrong-type":     (b'{"version":1,"command":["status"]}\n', {"invalidRequest"}),
    "unknown-command":        (b'{"version":1,"command":"reboot"}\n', {"unknownCommand"}),
    "meter-wrong-type":       (b'{"version":1,"command":"live","meter":42}\n', {"invalidRequest"}),
    "missing-meter":          (b'{"version":1,"command":"live"}\n', {"invalidRequest"}),
    "from-wrong-type":        (q(**{"from": "yesterday"}), {"invalidRequest"}),
    "from-int64-max":         (q(**{"from": 9223372036854775807}), {"invalidRequest"}),
    "number-beyond-int64":    (b'{"version":1,"command":"query","meter":"m1","measurement":"voltage.l1n",'
                               b'"from":123456789012345678901234567890}\n', {"invalidRequest"}),
    "from-after-to":          (q(**{"from": 2_000_000_000_000, "to": 1_000_000_000_000}), {"invalidRequest"}),
    "negative-limit":         (q(limit=-5), {"invalidRequest"}),
    "limit-huge":             (q(limit=10 ** 18, **{"from": 0}), {"ok", "invalidRequest"}),
    "kind-unknown":           (b'{"version":1,"command":"events","kind":"earthquake"}\n', {"invalidRequest"}),
    "tier-unknown":           (q(tier="1h"), {"invalidRequest"}),
    "mutating-unprivileged":  (b'{"version":1,"command":"reload"}\n', {"unauthorized"}),
    "line-over-limit":        (b"x" * 70_000, {"tooLarge", "closed"}),   # closed: the rest unread, a reset
    "json-over-limit":        (b'{"version":1,"command":"status","pad":"' + b"y" * 70_000 + b'"}\n', {"tooLarge", "closed"}),
    "nul-bytes":              (b'{"version":1,"command":"st\x00atus"}\x00\n', {"invalidRequest", "unknownCommand"}),
    "invalid-utf8":           (b'{"version":1,"command":"st\xff\xfeatus"}\n', {"invalidRequest", "unknownCommand"}),
    "deep-array":             (b"[" * 60_000 + b"\n", {"invalidRequest"}),
    "deep-object":            (b'{"a":' * 10_000 + b"1" + b"}" * 10_000 + b"\n", {"invalidRequest"}),
    "duplicate-keys":         (b'{"version":1,"command":"status","command":"reboot"}\n',
                               {"ok", "invalidRequest", "unknownCommand"}),
    "pipelined-burst":        ("burst", {"ok"}),            # 200 status lines in one write; 200 answers
    "half-close":             ("half-close", {"ok"}),       # a request, then shutdown(SHUT_WR): still answered
    "connect-close":          ("connect-close", {"closed"}),  # 20 connects closed at once, in parallel
}


class _Refused(Exception):
    """The connection was refused (`busy`) or reset before it was served."""


class Tally:
    def __init__(self):
        self.counts: dict[str, dict[str, int]] = {}
        self.holds: dict[str, list[float]] = {}

    def add(self, who: str, what: str, n: int = 1) -> None:
        d = self.counts.setdefault(who, {})
        d[what] = d.get(what, 0) + n

    def hold(self, who: str, seconds: float) -> None:
        self.holds.setdefault(who, []).append(round(seconds, 2))


class Conn:
    """A non-blocking Unix stream socket driven by the event loop's sock_* calls (not asyncio streams: a stream
    whose write fails drops what the peer had sent before closing, and a refusal is `busy`, then close)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.loop = asyncio.get_running_loop()

    async def send(self, data: bytes) -> None:
        """Sends `data`; a peer that already closed is not an error here: what it left is read next."""
        try:
            await self.loop.sock_sendall(self.sock, data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    async def read(self, n: int) -> bytes:
        """Up to n bytes (b"" at the end, or after a reset)."""
        if self.buffer:
            out, self.buffer = self.buffer[:n], self.buffer[n:]
            return out
        try:
            return await self.loop.sock_recv(self.sock, n)
        except ConnectionResetError:
            return b""

    async def readline(self) -> bytes:
        """One line with its newline, or what came before the end (no newline)."""
        while b"\n" not in self.buffer:
            try:
                chunk = await self.loop.sock_recv(self.sock, 1 << 20)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                out, self.buffer = self.buffer, b""
                return out
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()


async def connect(path: str, rcvbuf: int = 0) -> tuple[Conn, Conn]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setblocking(False)
    try:
        # A Unix socket connects at once or not at all: EAGAIN when synxd's listen backlog is full (the event
        # loop's sock_connect would take that for "in progress" and report success).
        s.connect(path)
    except BaseException:
        s.close()
        raise
    c = Conn(s)
    return c, c


async def send(w: Conn, data: bytes) -> None:
    await w.send(data)


async def admitted(r: Conn, w: Conn) -> str:
    """Asks for `status` first, so a refusal (`busy` at accept) is told apart from what a request gets."""
    await w.send(STATUS)
    return status_of(await asyncio.wait_for(r.readline(), 15))


def close(w: Conn | None) -> None:
    if w is not None:
        try:
            w.close()
        except Exception:
            pass


def status_of(line: bytes) -> str:
    if not line.endswith(b"\n"):
        return "closed"
    try:
        return str(json.loads(line)["status"])
    except (ValueError, KeyError, TypeError):
        return "unreadable answer"


class Abuser:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.tally = Tally()
        self.end = time.monotonic() + a.seconds
        self.rng = random.Random(4242)
        self.started = 0
        self.first_round: list[asyncio.Event] = []

    def running(self) -> bool:
        return time.monotonic() < self.end

    async def pause(self, lo: float, hi: float) -> None:
        await asyncio.sleep(min(self.rng.uniform(lo, hi), max(0.0, self.end - time.monotonic())))

    def first(self) -> asyncio.Event:
        e = asyncio.Event()
        self.first_round.append(e)
        return e

    async def flood(self) -> None:
        """Connect, ask for status, read the answer (mostly `busy`), hold an admitted connection a moment."""
        first = self.first()
        while self.running():
            w = None
            try:
                r, w = await connect(self.a.socket)
                first.set()
                what = await admitted(r, w)
                self.tally.add("flood", what)
                if what == "ok":
                    await self.pause(0.2, 0.5)                  # holds its slot a moment
                close(w)
                w = None
                await self.pause(0.2, 1)
            except (OSError, asyncio.TimeoutError) as e:
                code = errno.errorcode.get(getattr(e, "errno", None) or 0, type(e).__name__)
                self.tally.add("flood", "listen backlog full (EAGAIN)" if code in ("EAGAIN", "EWOULDBLOCK") else f"error {code}")
                first.set()
                close(w)
                await self.pause(0.2, 1)
            except Exception as e:                              # a bug of this script: counted, not hidden
                self.tally.add("flood", f"unexpected {e!r}")
                first.set()
                await self.pause(0.2, 1)
            finally:
                close(w)

    async def watch_close(self, r: Conn) -> str:
        """Reads until the peer closes; `busy` if that is what it said first."""
        data = b""
        while True:
            chunk = await r.read(65536)
            if not chunk:
                return "dropped"
            data += chunk

    async def slow(self) -> None:
        """A byte of a request every --slow-period seconds, never the end of the line."""
        first = self.first()
        while self.running():
            w = None
            try:
                r, w = await connect(self.a.socket)
                first.set()
                what = await admitted(r, w)
                if what != "ok":
                    self.tally.add("slow", what)
                    raise _Refused
                opened = time.monotonic()
                closed = asyncio.ensure_future(self.watch_close(r))
                text = b'{"version":1,"command":"status"'
                i = 0
                while self.running() and not closed.done():
                    try:
                        w.sock.send(text[i % len(text):i % len(text) + 1], socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        pass
                    except OSError:
                        break
                    i += 1
                    await asyncio.wait([closed], timeout=min(self.a.slow_period, max(0.0, self.end - time.monotonic())))
                if closed.done() and not closed.cancelled() and closed.exception() is None:
                    what = closed.result()
                    self.tally.add("slow", what)
                    if what == "dropped":
                        self.tally.hold("slow", time.monotonic() - opened)
                elif not closed.done() and self.running():
                    self.tally.add("slow", "dropped")
                    self.tally.hold("slow", time.monotonic() - opened)
                closed.cancel()
            except _Refused:
                pass
            except (OSError, asyncio.TimeoutError) as e:
                self.tally.add("slow", f"error {type(e).__name__}")
                first.set()
            except Exception as e:                              # a bug of this script: counted, not hidden
                self.tally.add("slow", f"unexpected {e!r}")
                first.set()
            finally:
                close(w)
            if not self.a.reconnect:
                break
            await self.pause(0.1, 0.5)

    async def nonreader(self) -> None:
        """A whole request whose answer is never read; an empty line now and then shows when synxd let go."""
        first = self.first()
        while self.running():
            w = None
            try:
                r, w = await connect(self.a.socket, rcvbuf=4096)
                first.set()
                what = await admitted(r, w)
                if what != "ok":
                    self.tally.add("nonreader", what)
                    raise _Refused
                opened = time.monotonic()
                await send(w, self.a.request.encode() + b"\n")
                dropped = False
                while self.running():
                    await self.pause(1, 1)
                    try:
                        w.sock.send(b"\n", socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        continue
                    except OSError:
                        dropped = True
                        break
                if dropped:
                    self.tally.add("nonreader", "dropped")
                    self.tally.hold("nonreader", time.monotonic() - opened)
            except _Refused:
                pass
            except (OSError, asyncio.TimeoutError) as e:
                self.tally.add("nonreader", f"error {type(e).__name__}")
                first.set()
            except Exception as e:                              # a bug of this script: counted, not hidden
                self.tally.add("nonreader", f"unexpected {e!r}")
                first.set()
            finally:
                close(w)
            if not self.a.reconnect:
                # The end-to-end test's non-readers stay connected, whatever synxd does, until the end.
                break
            await self.pause(0.1, 0.5)

    async def one_malformed(self, kind: str) -> str:
        payload, _ = MALFORMED[kind]
        if payload == "connect-close":
            async def once():
                try:
                    _, w = await connect(self.a.socket)
                    close(w)
                except OSError:
                    pass
            await asyncio.gather(*(once() for _ in range(20)))
            return "closed"
        r, w = await connect(self.a.socket)
        try:
            what = await admitted(r, w)
            if what != "ok":
                return "busy" if what in ("busy", "reset") else f"status first: {what}"
            if payload == "burst":
                await send(w, STATUS * 200)
                answers = []
                for _ in range(200):
                    line = await asyncio.wait_for(r.readline(), 12)
                    answers.append(status_of(line))
                    if answers[-1] != "ok":
                        break
                return answers[-1] if len(set(answers)) == 1 else ",".join(sorted(set(answers)))
            if payload == "half-close":
                await send(w, STATUS)
                w.shutdown_write()
                return status_of(await asyncio.wait_for(r.readline(), 12))
            await send(w, payload)
            line = await asyncio.wait_for(r.readline(), 12)
            return status_of(line)
        except asyncio.TimeoutError:
            return "no answer within 12 s"
        except (ConnectionResetError, BrokenPipeError):
            return "closed"
        except ValueError:                                  # a line longer than the reader's limit
            return "unreadable answer"
        finally:
            close(w)

    async def malformed(self, offset: int) -> None:
        kinds = list(MALFORMED)
        i = offset
        first = self.first()
        while self.running():
            kind = kinds[i % len(kinds)]
            try:
                outcome = await self.one_malformed(kind)
            except (OSError, asyncio.TimeoutError) as e:
                outcome = f"connect failed ({type(e).__name__})"
            except Exception as e:                              # a bug of this script: counted, not hidden
                outcome = f"unexpected {e!r}"
            first.set()
            self.tally.add(f"malformed {kind}", outcome)
            if outcome != "busy" and not outcome.startswith("connect failed"):
                i += 1
                await self.pause(0.02, 0.1)
            else:
                await self.pause(0.005, 0.02)                   # refused: try again soon

    async def churn(self) -> None:
        first = self.first()
        period = 1 / self.a.churn
        while self.running():
            try:
                _, w = await connect(self.a.socket)
                close(w)
                self.tally.add("churn", "connected and closed")
            except (OSError, asyncio.TimeoutError) as e:
                self.tally.add("churn", f"error {type(e).__name__}")
            first.set()
            await asyncio.sleep(period)

    async def run(self) -> None:
        tasks = []
        # The first connections in the order of the end-to-end test: non-readers first, so they get slots.
        for _ in range(self.a.nonreaders):
            tasks.append(asyncio.ensure_future(self.nonreader()))
            await asyncio.sleep(0)
        for _ in range(self.a.slow):
            tasks.append(asyncio.ensure_future(self.slow()))
        for i in range(self.a.malformed):
            tasks.append(asyncio.ensure_future(self.malformed(i * 5)))
        if self.a.churn:
            tasks.append(asyncio.ensure_future(self.churn()))
        for _ in range(self.a.flood):
            tasks.append(asyncio.ensure_future(self.flood()))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self.first_round)), max(1.0, self.a.seconds))
        print("ready", flush=True)
        await asyncio.sleep(max(0.0, self.end - time.monotonic()))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("socket")
    p.add_argument("--slow", type=int, default=0)
    p.add_argument("--slow-period", type=float, default=1.0)
    p.add_argument("--nonreaders", type=int, default=0)
    p.add_argument("--request", default="")
    p.add_argument("--flood", type=int, default=0)
    p.add_argument("--malformed", type=int, default=0)
    p.add_argument("--churn", type=float, default=0)
    p.add_argument("--reconnect", action="store_true")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--report")
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = a.flood + a.slow + a.nonreaders + 25 * a.malformed + 100
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    abuser = Abuser(a)
    asyncio.run(abuser.run())
    if a.report:
        with open(a.report, "w") as f:
            json.dump({"counts": abuser.tally.counts, "holds": abuser.tally.holds}, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
