#!/usr/bin/env python3
"""Abusive control-socket clients for the synx end-to-end tests (Python standard library only).

Run as an unprivileged user (the tests use setpriv), so the clients compete for the slots every user may
take, not for those synxd reserves for root and its own user.

    control_abuser.py SOCKET --slow N --nonreaders M --request LINE --seconds S

--slow N        N connections that send one byte of a request a second and never finish the line
--nonreaders M  M connections that send LINE (a whole request) and never read the response
--seconds S     how long to keep at it; then every connection is closed and the script exits 0

Prints "ready" once every connection is open. Connections the daemon closes are not reopened.
"""
import argparse
import socket
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("socket")
    p.add_argument("--slow", type=int, default=0)
    p.add_argument("--nonreaders", type=int, default=0)
    p.add_argument("--request", default="")
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()

    def connect(receive_buffer: int = 0) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if receive_buffer:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        s.connect(a.socket)
        return s

    nonreaders = []
    for _ in range(a.nonreaders):  # first, so they get slots
        s = connect(receive_buffer=4096)  # the response stays in synxd's send buffer, not ours
        s.sendall((a.request + "\n").encode())
        nonreaders.append(s)
    slow = [connect() for _ in range(a.slow)]
    print("ready", flush=True)
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        for s in list(slow):
            try:
                s.send(b"{", socket.MSG_DONTWAIT)
            except OSError:
                slow.remove(s)  # dropped by synxd
        time.sleep(1)
    for s in slow + nonreaders:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
