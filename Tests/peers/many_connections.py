#!/usr/bin/env python3
"""Many Modbus/TCP clients on one server at once, e.g. synx-sim serving 10 000 meters a connection each
(Python 3, standard library only).

Opens N connections to HOST:PORT (one after the other), then, for each of R rounds, sends one Read Input
Registers request (function 4, unit UNIT, address 0, count 2, a random transaction id) on every connection at
once and waits for every reply. A reply counts as ok if it is exactly one well-formed MBAP frame: the request's
transaction id, protocol id 0, length 7, the unit, function 4, byte count 4. Latency is from a request's send
to its whole reply read by this client (one thread sending all N requests of a round, then reading).

Prints one summary line: connections, replies ok, and the p50, p99 and maximal latency; and up to 10 failures on
stderr. Exits 1 on any failure (a connection refused or closed, a malformed or missing reply, extra bytes).
Raises its own soft limit on open descriptors to fit N connections.

    many_connections.py --port PORT [--host 127.0.0.1] [--connections 10000] [--rounds 3] [--unit 1]
                        [--timeout 30]
"""
import argparse
import random
import resource
import selectors
import socket
import struct
import sys
import time

READ_INPUT_REGISTERS = 4
COUNT = 2
REPLY_LENGTH = 7 + 2 + 2 * COUNT  # MBAP header, function, byte count, registers


def raise_descriptor_limit(needed):
    """Raises the soft limit on open descriptors to the hard one; fails if even that cannot fit `needed`."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        sys.exit(f"many_connections: {needed} descriptors needed, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect_all(host, port, n, timeout):
    """N connections, non-blocking once open."""
    sockets = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        sockets.append(s)
    return sockets


def check_reply(frame, transaction, unit):
    """None if `frame` is the reply expected, else what is wrong with it."""
    tid, protocol, length, reply_unit, function, byte_count = struct.unpack(">HHHBBB", frame[:9])
    if function == READ_INPUT_REGISTERS | 0x80:
        return f"exception {frame[8]}"
    if (tid, protocol, length, reply_unit, function, byte_count) != (transaction, 0, REPLY_LENGTH - 6, unit,
                                                                      READ_INPUT_REGISTERS, 2 * COUNT):
        return f"malformed reply {frame.hex()}"
    return None


def run_round(selector, sockets, unit, timeout, failures):
    """Sends a request on every connection, reads every reply; returns the latencies of the good ones (s)."""
    transactions = [random.getrandbits(16) for _ in sockets]
    sent = [0.0] * len(sockets)
    buffers = [b""] * len(sockets)
    pending = set(range(len(sockets)))
    for i, s in enumerate(sockets):
        sent[i] = time.perf_counter()
        try:
            s.send(struct.pack(">HHHBBHH", transactions[i], 0, 6, unit, READ_INPUT_REGISTERS, 0, COUNT))
        except OSError as e:
            failures.append(f"connection {i}: send: {e}")
            pending.discard(i)
    latencies = []
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            i = key.data
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            except OSError as e:
                data, reason = b"", f"recv: {e}"
            else:
                reason = "closed by the server"
            now = time.perf_counter()
            if not data:
                failures.append(f"connection {i}: {reason}")
                selector.unregister(key.fileobj)
                pending.discard(i)
                continue
            if i not in pending:
                failures.append(f"connection {i}: bytes nobody asked for: {data.hex()}")
                continue
            buffers[i] += data
            if len(buffers[i]) < 6 or len(buffers[i]) < 6 + int.from_bytes(buffers[i][4:6], "big"):
                continue
            pending.discard(i)
            frame_length = 6 + int.from_bytes(buffers[i][4:6], "big")
            problem = check_reply(buffers[i], transactions[i], unit) if frame_length >= 9 else "short frame"
            if problem is None and len(buffers[i]) != REPLY_LENGTH:
                problem = f"{len(buffers[i])} bytes where one {REPLY_LENGTH}-byte reply was due"
            if problem:
                failures.append(f"connection {i}: {problem}")
            else:
                latencies.append(now - sent[i])
    failures.extend(f"connection {i}: no reply within {timeout} s" for i in sorted(pending))
    return latencies


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--unit", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30, help="seconds for a connect, and for a round")
    args = parser.parse_args()
    raise_descriptor_limit(args.connections + 64)

    started = time.monotonic()
    try:
        sockets = connect_all(args.host, args.port, args.connections, args.timeout)
    except OSError as e:
        print(f"many_connections: connect: {e}", file=sys.stderr)
        return 1
    connect_seconds = time.monotonic() - started
    selector = selectors.DefaultSelector()
    for i, s in enumerate(sockets):
        selector.register(s, selectors.EVENT_READ, i)

    failures = []
    latencies = []
    round_seconds = []
    for _ in range(args.rounds):
        started = time.monotonic()
        latencies += run_round(selector, sockets, args.unit, args.timeout, failures)
        round_seconds.append(time.monotonic() - started)
    for s in sockets:
        s.close()

    latencies.sort()
    expected = args.connections * args.rounds
    summary = (f"connections {args.connections} (opened in {connect_seconds:.2f} s), rounds {args.rounds}: "
               f"replies ok {len(latencies)}/{expected}")
    if latencies:
        summary += (f"; latency p50 {percentile(latencies, 50) * 1000:.1f} ms, "
                    f"p99 {percentile(latencies, 99) * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms; "
                    f"slowest round {max(round_seconds):.2f} s")
    print(summary)
    for failure in failures[:10]:
        print(failure, file=sys.stderr)
    if len(failures) > 10:
        print(f"... and {len(failures) - 10} more failures", file=sys.stderr)
    return 1 if failures or len(latencies) != expected else 0


if __name__ == "__main__":
    sys.exit(main())
