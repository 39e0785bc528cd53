#!/usr/bin/env python3
"""Hostile Modbus peer for the synx end-to-end tests (Python 3.11, standard library only).

A Modbus TCP server or Modbus RTU slave that misbehaves on purpose, one way per unit, so the tests can check
that synxd copes with every kind of broken meter. Started as a subprocess; it prints its address and `ready`
on stdout, then nothing else (stderr gets one line per request with --verbose), and exits 0 on SIGTERM or
SIGINT. Nothing a client sends can make it crash. Random bytes come from generators seeded by --seed.

Command line
------------
    hostile_modbus.py --tcp HOST:PORT [--unit SPEC]... [--waveform SPEC]... [--schedule FILE] [--seed N] [--verbose]
    hostile_modbus.py --rtu DEV [--byte-delay-ms F] [--unit SPEC]... [--schedule FILE] [--seed N] [--verbose]
    hostile_modbus.py --list-modes

--tcp HOST:PORT     listen (port 0: a free port), serve any number of connections, a thread each; prints
                    `tcp HOST:PORT` (the bound port) and `ready`. The MBAP unit byte selects the unit.
--rtu DEV           open the serial device (e.g. a socat pty link) raw and serve Modbus RTU; prints `rtu DEV`
                    and `ready`. A request is 8 bytes (unit, fc, addr, count, CRC-16/MODBUS low byte first);
                    a pty has no timing, so frames are found by content: on a bad CRC one byte is dropped.
                    When the other end of the line goes away (EIO), the peer exits 0.
--byte-delay-ms F   (RTU) write every byte on the line separately, F ms apart (1.04 ms ~ 9600 baud 8N1).
--unit N=MODE[:ARG[,ARG...]]   unit N (1..247) behaves as MODE (repeatable). Units not listed never answer.
--waveform N=MODE[:ARG[,ARG...]]  (TCP) unit N is a waveform device (below).
--seed N            seed of every random generator (default 0).
--schedule FILE     rotate modes over time (the reliability campaigns use it): a JSON list of
                    {"unit": N, "mode": "MODE[:ARG,...]", "from_s": A, "until_s": B}; from A to B seconds
                    after the peer started, unit N behaves as MODE instead of its --unit mode (which it
                    needs; it is what the unit goes back to). Polled-unit modes of families frame, timing,
                    drop and sunspec only (not line or connection modes); windows of one unit must not
                    overlap. Every entry is checked at start, like --unit.

Register image (polled units)
-----------------------------
Function 3 (holding) and 4 (input) serve the same image: float32, IEEE 754, high word first; register 0
voltage 230.0, 2 frequency 50.0, 4 current 10.0, 6 power factor 0.95, 8 active power 2185.0, 10..199 zero.
A read past register 199 or of a count outside 1..125 gets exception 2; a function other than 3 or 4,
exception 1; a malformed read request, exception 3. "value" below means the float served in registers
0, 2, 4, 6 and 8 instead of the image's.

Polled-unit modes (--unit)                                   transports
--------------------------
family "frame": what goes on the wire
  healthy              correct replies                                             tcp rtu
  silent               never answers (same as an unlisted unit)                    tcp rtu
  exception:CODE       exception reply with code CODE (0..255)                     tcp rtu
  absurd:V             correct replies with value V (float32: 3.4e38, -3.4e38,     tcp rtu
                       1.4e-45, 1e30, 6.55e24, nan, inf, -inf, ...)
  garbage              9 random bytes instead of a reply                           tcp rtu
  crc                  correct reply with a wrong CRC                              rtu
  wrong-unit           correct reply carrying unit id + 1                          tcp rtu
  wrong-function       correct reply carrying function code 0x10                   tcp rtu
  bytecount            byte count field 2 more than the data sent (MBAP length     tcp rtu
                       and CRC consistent with what is sent)
  overlong             correct frame followed by 20 random bytes in the same write tcp rtu
family "timing": when it goes on the wire (other units are answered meanwhile)
  late:MS              value 999.0, sent MS ms after the request                   tcp rtu
  late-as:MS,UNIT      like late, but the reply carries unit id UNIT (0..255)      tcp rtu
  partial              only the first half of the reply                            tcp rtu
  dribble:MS           correct reply one byte at a time, MS ms apart               tcp rtu
  split                correct reply in two writes 30 ms apart                     tcp rtu
family "drop": the TCP connection, per unit
  close                closes the connection when asked for this unit, without a   tcp
                       reply (a gateway that drops its link); other units of the
                       connection lose it too, as behind a real gateway
family "line": the RTU line itself
  noise:MS             answers healthy, and writes 1..8 random bytes on the line   rtu
                       every MS ms, for ever
family "connection": every TCP connection of the peer, whatever unit is asked (start a peer per mode)
  bad-mbap-length      every reply's MBAP length field is 0x00FF (body short)      tcp
  bad-protocol         every reply's MBAP protocol id is 0x1234                    tcp
  wrong-tid            every reply's MBAP transaction id is the request's + 1      tcp
                       (for these three, any unit asked answers, as healthy unless
                       it is listed with another mode)
  flood-frames         from accept, an endless stream of valid 11-byte replies     tcp
                       (tid 0xBEEF, unit 1, fc 3, byte count 2, register 999), as
                       fast as the socket takes them; never reads; stops when the
                       client goes away
  flood-random         from accept, endless random bytes; never reads              tcp
  early-forged         at accept, for each transaction id 1..20 a function-3 and   tcp
                       a function-4 reply of 10 registers holding float 998.0
                       (unit 1), unasked; then serves as healthy
  accept-close         accept, then close at once (FIN)                            tcp
  accept-rst           accept, then close with SO_LINGER {1, 0} (RST)              tcp
family "sunspec": SunSpec maps (fc 3 and 4 alike). Reads below 40000, starting at 50000, or past 65535
get exception 2; other registers of 40000..65535 not listed read 0.
  sunspec-past-end     `SunS` at 40000; model 1 at 40002 with L = 25531, so the    tcp rtu
                       next header is at 65535; a read of 65535 (count 1 or 2)
                       returns [203, 105] although the data would start past the
                       address space
  sunspec-loop         `SunS` at 40000; model 1 at 40002 (L 66); model 120 at      tcp rtu
                       40070 with L = 65466, so that 40072 + L = 40002 modulo
                       65536: a reader using 16-bit addresses loops for ever, one
                       using wider ones runs past 65535
  sunspec-sf:E         `SunS` at 40000; model 203 (L 105) at 40002, data from      tcp rtu
                       40004: currents (offsets 0..3) 100, A_SF (4) -1; voltages
                       (5..12) 2300, V_SF (13) E; frequency (14) 5000, Hz_SF (15)
                       E; end model 0xFFFF (L 0) at 40109. E is an int16 (e.g. 10,
                       -10), stored two's complement
  sunspec-vary         the sunspec-sf map (same layout), whose scale factors       tcp rtu
                       change with every read request: reads alternate A_SF -1,
                       V_SF -1, Hz_SF -2 (raw 100, 2300, 5000) and A_SF 0, V_SF 0,
                       Hz_SF -1 (raw 10, 230, 500), so a reader that takes values
                       and scale factors from the same reply always gets 10 A,
                       230 V, 50 Hz; one that mixes two replies gets 10x off

Waveform device (--waveform, TCP): "the synx waveform register interface" v1
----------------------------------------------------------------------------
(docs/waveform-interface.md) Input registers (fc 4; fc 3 serves the same): capability block at 5000..5051
(5012-5013: newest complete block), FIFO slots from 6000 computed on the fly when read, 0 everywhere else;
any address 0..65535 can be read (count 1..125, not past 65535; else exception 2).
Healthy: 4 channels (voltage L1, L2, L3 at 0.02 V/count; current L1 at 0.001 A/count), 6400 S/s, 20
samples per block, nominal 50 Hz, FIFO depth 256 blocks, block-0 time = the wall clock (us) at start,
newest block = floor(elapsed * 6400 / 20) - 1 (0xFFFFFFFF before the first). Samples: 230 V RMS 50 Hz sines
120 degrees apart, current 10 A RMS in phase with L1, computed from each sample's absolute index. A slot not
yet written reads sequence 0xFFFFFFFF and zero samples.
  healthy              as above
  dip:T0,DUR,FACTOR    voltages times FACTOR from T0 to T0 + DUR s after start, again every 10 s
capability lies (only the capability registers lie; the stream stays the healthy one):
  rate:V               sample-rate registers V (uint32, e.g. 0, 4294967295)
  epoch:V              block-0 time registers V (uint64: decimal, 0x hex, 2^63, year9999 =
                       253402300799000000)
  epoch-dip:V          epoch:V plus the dip of dip:2,0.5,0.5
  scale:V              every channel's scale V (float32: nan, inf, 0, ...)
  bad-magic            magic 0x5157 (byte-swapped) instead of 0x5751
  bad-version          interface version 2
  channels:K           channel-count register K (e.g. 0, 9)
  block:S              samples-per-block register S (e.g. 0, 200)
  fifo:D               FIFO-depth register D (e.g. 0, 1, 65535)
  phase:P              channel 1's phase register P (e.g. 0, 5)
  kind:K               channel 1's kind register K (e.g. 7)
  nominal:F            nominal-frequency register F (e.g. 55)
layout lies (described and served consistently):
  duplicate-channels   channel 2 is a second voltage L1 (kind 0, phase 1, L1's samples)
  no-phase-voltage     only current channels: 3 currents L1, L2, L3
stream lies:
  seq-mismatch         the slot of block n says it holds block n + 256 (never the one asked for)
  stuck                the newest-sequence registers stay at 0 after the first block
  bursty:MS            the newest-sequence registers advance only every MS ms, by all the blocks completed
                       meanwhile (a device that updates its FIFO in bursts); the blocks are the healthy ones
"""
from __future__ import annotations

import argparse
import errno
import heapq
import itertools
import math
import os
import random
import select
import signal
import socket
import struct
import sys
import termios
import threading
import time
import tty
from dataclasses import dataclass, field
from typing import Callable

STOP = threading.Event()
VERBOSE = False
_LOG_LOCK = threading.Lock()


def log(message: str) -> None:
    """One line on stderr, with --verbose only."""
    if VERBOSE:
        with _LOG_LOCK:
            sys.stderr.write(f"hostile_modbus: {message}\n")
            sys.stderr.flush()


def warn(message: str) -> None:
    with _LOG_LOCK:
        sys.stderr.write(f"hostile_modbus: {message}\n")
        sys.stderr.flush()


# ---------------------------------------------------------------------------------------------------------
# Mode arguments and the table of modes
# ---------------------------------------------------------------------------------------------------------

class ArgError(ValueError):
    pass


@dataclass(frozen=True)
class Arg:
    name: str
    parse: Callable[[str], object]


def _int_in(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text, 0)
        except ValueError:
            raise ArgError(f"{text!r} is not an integer") from None
        if not lo <= v <= hi:
            raise ArgError(f"{v} is not in {lo}..{hi}")
        return v
    return parse


def _milliseconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ArgError(f"{text!r} is not a number of milliseconds") from None
    if not (v >= 0 and math.isfinite(v)):
        raise ArgError(f"{text!r} is not a number of milliseconds >= 0")
    return v


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ArgError(f"{text!r} is not a number") from None


def _float32(text: str) -> float:
    v = _number(text)
    try:
        struct.pack(">f", v)
    except OverflowError:
        raise ArgError(f"{text!r} does not fit a float32") from None
    return v


def _uint64(text: str) -> int:
    t = text.strip().lower()
    if t == "year9999":
        return 253402300799000000          # 9999-12-31T23:59:59Z in microseconds
    if "^" in t:
        base, _, exponent = t.partition("^")
        v = _int_in(0, 1 << 64)(base) ** _int_in(0, 64)(exponent)
    else:
        v = _int_in(0, (1 << 64) - 1)(t)
    if v > (1 << 64) - 1:
        raise ArgError(f"{text!r} does not fit a uint64")
    return v


MS = Arg("MS", _milliseconds)
UNIT_ID = Arg("UNIT", _int_in(0, 255))
CODE = Arg("CODE", _int_in(0, 255))
F32 = Arg("V", _float32)
INT16 = Arg("E", _int_in(-32768, 65535))
U32 = Arg("V", _int_in(0, 0xFFFFFFFF))
U64 = Arg("V", _uint64)
FACTOR = Arg("FACTOR", _number)


def register(name: str) -> Arg:
    """A uint16 register value."""
    return Arg(name, _int_in(0, 65535))


TCP, RTU = "tcp", "rtu"
BOTH = frozenset({TCP, RTU})
TCP_ONLY = frozenset({TCP})
RTU_ONLY = frozenset({RTU})


@dataclass(frozen=True)
class Mode:
    family: str
    args: tuple[Arg, ...]
    transports: frozenset
    doc: str

    def usage(self, name: str) -> str:
        return name + (":" + ",".join(a.name for a in self.args) if self.args else "")


# The modes of --unit: family (which function implements it), arguments, transports, what it does.
UNIT_MODES: dict[str, Mode] = {
    "healthy":          Mode("frame", (), BOTH, "correct replies"),
    "silent":           Mode("frame", (), BOTH, "never answers"),
    "exception":        Mode("frame", (CODE,), BOTH, "exception reply with code CODE"),
    "absurd":           Mode("frame", (F32,), BOTH, "every float register holds V"),
    "garbage":          Mode("frame", (), BOTH, "9 random bytes instead of a reply"),
    "crc":              Mode("frame", (), RTU_ONLY, "correct reply, wrong CRC"),
    "wrong-unit":       Mode("frame", (), BOTH, "reply carries unit id + 1"),
    "wrong-function":   Mode("frame", (), BOTH, "reply carries function code 0x10"),
    "bytecount":        Mode("frame", (), BOTH, "byte count 2 more than the data"),
    "overlong":         Mode("frame", (), BOTH, "correct frame + 20 random bytes"),
    "late":             Mode("timing", (MS,), BOTH, "value 999.0, MS ms late"),
    "late-as":          Mode("timing", (MS, UNIT_ID), BOTH, "value 999.0, MS ms late, as unit UNIT"),
    "partial":          Mode("timing", (), BOTH, "first half of the reply only"),
    "dribble":          Mode("timing", (MS,), BOTH, "reply one byte at a time, MS ms apart"),
    "split":            Mode("timing", (), BOTH, "reply in two writes 30 ms apart"),
    "noise":            Mode("line", (MS,), RTU_ONLY, "healthy, plus 1..8 random bytes every MS ms"),
    "bad-mbap-length":  Mode("connection", (), TCP_ONLY, "MBAP length 0x00FF, short body"),
    "bad-protocol":     Mode("connection", (), TCP_ONLY, "MBAP protocol id 0x1234"),
    "wrong-tid":        Mode("connection", (), TCP_ONLY, "MBAP transaction id + 1"),
    "flood-frames":     Mode("connection", (), TCP_ONLY, "endless valid replies from accept"),
    "flood-random":     Mode("connection", (), TCP_ONLY, "endless random bytes from accept"),
    "early-forged":     Mode("connection", (), TCP_ONLY, "40 unasked replies (tid 1..20) at accept"),
    "accept-close":     Mode("connection", (), TCP_ONLY, "close at accept"),
    "accept-rst":       Mode("connection", (), TCP_ONLY, "reset at accept"),
    "sunspec-past-end": Mode("sunspec", (), BOTH, "model chain runs to 65535 and past it"),
    "sunspec-loop":     Mode("sunspec", (), BOTH, "model chain points back to 40002 (mod 65536)"),
    "sunspec-sf":       Mode("sunspec", (INT16,), BOTH, "model 203 with voltage/frequency sf E"),
    "sunspec-vary":     Mode("sunspec", (), BOTH, "model 203 whose sf change every read (values do not)"),
    "close":            Mode("drop", (), TCP_ONLY, "close the connection when asked for this unit"),
}

# The modes of --waveform (all TCP): family "waveform", implemented by WaveformDevice.
WAVEFORM_MODES: dict[str, Mode] = {
    "healthy":            Mode("waveform", (), TCP_ONLY, "healthy stream"),
    "dip":                Mode("waveform", (Arg("T0", _number), Arg("DUR", _number), FACTOR), TCP_ONLY, "repeating dip"),
    "rate":               Mode("waveform", (U32,), TCP_ONLY, "sample-rate registers V"),
    "epoch":              Mode("waveform", (U64,), TCP_ONLY, "block-0 time registers V"),
    "epoch-dip":          Mode("waveform", (U64,), TCP_ONLY, "epoch:V + dip:2,0.5,0.5"),
    "scale":              Mode("waveform", (F32,), TCP_ONLY, "every scale V"),
    "bad-magic":          Mode("waveform", (), TCP_ONLY, "magic 0x5157"),
    "bad-version":        Mode("waveform", (), TCP_ONLY, "version 2"),
    "channels":           Mode("waveform", (register("K"),), TCP_ONLY, "channel count register K"),
    "block":              Mode("waveform", (register("S"),), TCP_ONLY, "samples-per-block register S"),
    "fifo":               Mode("waveform", (register("D"),), TCP_ONLY, "FIFO-depth register D"),
    "phase":              Mode("waveform", (register("P"),), TCP_ONLY, "channel 1 phase register P"),
    "kind":               Mode("waveform", (register("K"),), TCP_ONLY, "channel 1 kind register K"),
    "nominal":            Mode("waveform", (register("F"),), TCP_ONLY, "nominal-frequency register F"),
    "duplicate-channels": Mode("waveform", (), TCP_ONLY, "two channels voltage L1"),
    "no-phase-voltage":   Mode("waveform", (), TCP_ONLY, "current channels only"),
    "seq-mismatch":       Mode("waveform", (), TCP_ONLY, "slot sequence never the one asked"),
    "stuck":              Mode("waveform", (), TCP_ONLY, "newest sequence stays 0"),
    "bursty":             Mode("waveform", (MS,), TCP_ONLY, "newest sequence advances every MS ms only"),
}


# ---------------------------------------------------------------------------------------------------------
# Encoding helpers
# ---------------------------------------------------------------------------------------------------------

def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS: polynomial 0xA001 (reflected), initial value 0xFFFF; sent low byte first."""
    c = 0xFFFF
    for b in data:
        c = (c >> 8) ^ _CRC_TABLE[(c ^ b) & 0xFF]
    return c


def float_words(v: float) -> tuple[int, int]:
    """IEEE 754 float32, high word first."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    return hi, lo


def words_of(regs: list[int]) -> bytes:
    return struct.pack(f">{len(regs)}H", *regs)


def mbap(tid: int, unit: int, pdu: bytes, protocol: int = 0, length: int | None = None) -> bytes:
    """MBAP header (transaction id, protocol id, length of unit + PDU, unit) followed by the PDU."""
    if length is None:
        length = len(pdu) + 1
    return struct.pack(">HHHB", tid & 0xFFFF, protocol, length, unit & 0xFF) + pdu


def rtu_frame(unit: int, pdu: bytes, bad_crc: bool = False) -> bytes:
    body = bytes([unit & 0xFF]) + pdu
    crc = crc16(body) ^ (0xFFFF if bad_crc else 0)
    return body + bytes([crc & 0xFF, crc >> 8])


class ModbusError(Exception):
    """A read the data source refuses: answered with exception `code`."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def check_range(addr: int, count: int, end: int) -> None:
    """Exception 2 for a count outside 1..125 or a read past register `end` - 1."""
    if not 1 <= count <= 125 or addr + count > end:
        raise ModbusError(2)


# ---------------------------------------------------------------------------------------------------------
# Data sources: the register image, SunSpec maps, the waveform device
# ---------------------------------------------------------------------------------------------------------

IMAGE_FLOATS = {0: 230.0, 2: 50.0, 4: 10.0, 6: 0.95, 8: 2185.0}
IMAGE_SIZE = 200


def read_image(fc: int, addr: int, count: int, value: float | None = None) -> list[int]:
    """The polled units' register image (fc 3 and 4 alike); `value` replaces every float when given."""
    check_range(addr, count, IMAGE_SIZE)
    regs = [0] * IMAGE_SIZE
    for a, v in IMAGE_FLOATS.items():
        regs[a], regs[a + 1] = float_words(v if value is None else value)
    return regs[addr:addr + count]


def _ascii_registers(text: str, length: int) -> list[int]:
    raw = text.encode()[:2 * length].ljust(2 * length, b"\0")
    return list(struct.unpack(f">{length}H", raw))


def _model_203(data: int, v_sf: int, hz_sf: int) -> dict[int, int]:
    """SunSpec model 203 (three-phase wye meter, int16 + scale factors) values from register `data` on."""
    m = {data + i: 100 for i in range(4)}                     # A, AphA, AphB, AphC
    m[data + 4] = (-1) & 0xFFFF                               # A_SF
    m.update({data + i: 2300 for i in range(5, 13)})          # PhV .. PPVphCA
    m[data + 13] = v_sf & 0xFFFF                              # V_SF
    m[data + 14] = 5000                                       # Hz
    m[data + 15] = hz_sf & 0xFFFF                             # Hz_SF
    return m


def sunspec_map(mode: str, args: tuple) -> dict[int, int]:
    """Family "sunspec": the non-zero registers of the map, address -> value."""
    m = {40000: 0x5375, 40001: 0x6E53}                        # "SunS"
    common = {40004 + i: r for i, r in enumerate(_ascii_registers("synx hostile peer", 16))}
    common.update({40020 + i: r for i, r in enumerate(_ascii_registers(mode, 16))})
    if mode == "sunspec-past-end":
        length = 65535 - 40004                                # next header at 65535
        m.update({40002: 1, 40003: length})
        m.update(common)
    elif mode == "sunspec-loop":
        m.update({40002: 1, 40003: 66})
        m.update(common)
        m.update({40070: 120, 40071: (40002 - 40072) % 65536})  # 40072 + L == 40002 (mod 65536)
    elif mode == "sunspec-sf":
        e = args[0]
        m.update({40002: 203, 40003: 105})
        m.update(_model_203(40004, e, e))
        m.update({40109: 0xFFFF, 40110: 0})
    elif mode == "sunspec-vary":                              # phase A; phase B is applied per read
        m.update({40002: 203, 40003: 105})
        m.update(_model_203(40004, -1, -2))
        m.update({40109: 0xFFFF, 40110: 0})
    return m


# sunspec-vary's phase B: registers of model 203 (data from 40004) that differ from phase A.
SUNSPEC_VARY_B = {**{40004 + i: 10 for i in range(4)}, 40008: 0,
                  **{40004 + i: 230 for i in range(5, 13)}, 40017: 0, 40018: 500, 40019: (-1) & 0xFFFF}


class ImageDevice:
    read = staticmethod(read_image)


class SunSpecDevice:
    def __init__(self, mode: str, args: tuple):
        self.mode = mode
        self.registers = sunspec_map(mode, args)
        self.reads = itertools.count()                          # sunspec-vary: phase of each read

    def read(self, fc: int, addr: int, count: int, value: float | None = None) -> list[int]:
        if self.mode == "sunspec-past-end" and addr == 65535 and count in (1, 2):
            return [203, 105][:count]                          # a header the address space cannot hold
        if addr < 40000 or addr == 50000:
            raise ModbusError(2)
        check_range(addr, count, 65536)
        registers = self.registers
        if self.mode == "sunspec-vary" and next(self.reads) % 2:
            registers = {**registers, **SUNSPEC_VARY_B}
        return [registers.get(a, 0) for a in range(addr, addr + count)]


class WaveformDevice:
    """Family "waveform": the synx waveform register interface v1, computed on the fly from the clock."""

    CAPABILITY, CAPABILITY_LENGTH, FIFO = 5000, 52, 6000
    RATE, SAMPLES, DEPTH, NOMINAL = 6400, 20, 256, 50
    V_SCALE, A_SCALE = 0.02, 0.001
    DIP_PERIOD = 10.0

    def __init__(self, mode: str, args: tuple, start_wall_us: int, start_mono_ns: int):
        self.mode, self.args = mode, args
        self.start_wall_us, self.start_mono_ns = start_wall_us, start_mono_ns
        # The stream as served: (kind, phase, scale, source phase of the samples).
        if mode == "no-phase-voltage":
            self.channels = [(1, p, self.A_SCALE, p) for p in (1, 2, 3)]
        elif mode == "duplicate-channels":
            self.channels = [(0, 1, self.V_SCALE, 1), (0, 1, self.V_SCALE, 1), (0, 3, self.V_SCALE, 3),
                             (1, 1, self.A_SCALE, 1)]
        else:
            self.channels = [(0, p, self.V_SCALE, p) for p in (1, 2, 3)] + [(1, 1, self.A_SCALE, 1)]
        self.block_length = 2 + len(self.channels) * self.SAMPLES
        self.fifo_end = self.FIFO + self.DEPTH * self.block_length
        self.dip = {"dip": args, "epoch-dip": (2.0, 0.5, 0.5)}.get(mode)
        self.lies = self._capability_lies()

    def _capability_lies(self) -> dict[int, int]:
        """Capability-block offsets whose registers lie, and what they say."""
        m, a = self.mode, self.args
        if m == "rate":
            return {4: a[0] >> 16, 5: a[0] & 0xFFFF}
        if m in ("epoch", "epoch-dip"):
            return {8 + i: (a[0] >> (48 - 16 * i)) & 0xFFFF for i in range(4)}
        if m == "scale":
            hi, lo = float_words(a[0])
            return {o: w for c in range(len(self.channels)) for o, w in ((22 + 4 * c, hi), (23 + 4 * c, lo))}
        single = {"bad-magic": (0, 0x5157), "bad-version": (1, 2), "channels": (2, None), "block": (3, None),
                  "fifo": (7, None), "nominal": (6, None), "kind": (20, None), "phase": (21, None)}
        if m in single:
            offset, fixed = single[m]
            return {offset: a[0] if fixed is None else fixed}
        return {}

    def newest(self) -> int | None:
        """Sequence number of the newest complete block at the real pace, or None before the first."""
        elapsed_ns = time.monotonic_ns() - self.start_mono_ns
        if self.mode == "bursty" and self.args[0] > 0:
            step = int(self.args[0] * 1_000_000)
            elapsed_ns -= elapsed_ns % step                     # as it stood at the last burst
        complete = elapsed_ns * self.RATE // (self.SAMPLES * 1_000_000_000)
        return complete - 1 if complete > 0 else None

    def capability(self, newest: int | None) -> list[int]:
        r = [0] * self.CAPABILITY_LENGTH
        r[0], r[1], r[2], r[3] = 0x5751, 1, len(self.channels), self.SAMPLES
        r[4], r[5] = self.RATE >> 16, self.RATE & 0xFFFF
        r[6], r[7] = self.NOMINAL, self.DEPTH
        for i in range(4):
            r[8 + i] = (self.start_wall_us >> (48 - 16 * i)) & 0xFFFF
        if self.mode == "stuck" and newest is not None:
            newest = 0
        seq = 0xFFFFFFFF if newest is None else newest & 0xFFFFFFFF
        r[12], r[13] = seq >> 16, seq & 0xFFFF
        for c, (kind, phase, scale, _) in enumerate(self.channels[:8]):
            r[20 + 4 * c], r[21 + 4 * c] = kind, phase
            r[22 + 4 * c], r[23 + 4 * c] = float_words(scale)
        for offset, v in self.lies.items():
            r[offset] = v
        return r

    def _dip_factor(self, t: float) -> float:
        if self.dip is None:
            return 1.0
        t0, duration, factor = self.dip
        return factor if t >= t0 and (t - t0) % self.DIP_PERIOD < duration else 1.0

    def sample(self, k: int, channel: int) -> int:
        """Sample k (absolute index since block 0) of a channel, as an int16 register value."""
        kind, _, scale, phase = self.channels[channel]
        per_cycle = self.RATE // self.NOMINAL                  # 128: the fundamental repeats exactly
        angle = 2 * math.pi * (k % per_cycle) / per_cycle - (phase - 1) * 2 * math.pi / 3
        if kind == 0:
            amplitude = 230.0 * math.sqrt(2) * self._dip_factor(k / self.RATE)
        else:
            amplitude = 10.0 * math.sqrt(2)
        count = max(-32768, min(32767, round(amplitude * math.sin(angle) / scale)))
        return count & 0xFFFF

    def block(self, n: int) -> list[int]:
        """The registers of the FIFO slot holding block n: its sequence number, then sample-major samples."""
        seq = (n + self.DEPTH if self.mode == "seq-mismatch" else n) & 0xFFFFFFFF
        regs = [seq >> 16, seq & 0xFFFF]
        for s in range(self.SAMPLES):
            k = n * self.SAMPLES + s
            regs.extend(self.sample(k, c) for c in range(len(self.channels)))
        return regs

    def read(self, fc: int, addr: int, count: int, value: float | None = None) -> list[int]:
        check_range(addr, count, 65536)
        newest = self.newest()
        capability: list[int] | None = None
        blocks: dict[int, list[int]] = {}
        out = []
        for a in range(addr, addr + count):
            if self.CAPABILITY <= a < self.CAPABILITY + self.CAPABILITY_LENGTH:
                capability = capability or self.capability(newest)
                out.append(capability[a - self.CAPABILITY])
            elif self.FIFO <= a < self.fifo_end:
                slot, offset = divmod(a - self.FIFO, self.block_length)
                if newest is None or newest < slot:
                    out.append(0xFFFF if offset < 2 else 0)     # never written
                    continue
                n = newest - (newest - slot) % self.DEPTH       # the newest block stored in this slot
                if n not in blocks:
                    blocks[n] = self.block(n)
                out.append(blocks[n][offset])
            else:
                out.append(0)
        return out


# ---------------------------------------------------------------------------------------------------------
# Units and requests
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Unit:
    uid: int
    mode: str
    args: tuple
    family: str
    source: object                    # has read(fc, addr, count, value) -> registers
    rng: random.Random

    @property
    def reply_mode(self) -> str:
        """The mode deciding the reply bytes: connection, line and data-source modes reply as healthy."""
        return self.mode if self.family in ("frame", "timing") else "healthy"


@dataclass
class Request:
    unit: int
    fc: int
    addr: int = 0
    count: int = 0
    tid: int = 0
    error: int = 0                    # exception to answer instead of reading (1: function, 3: malformed)


def parse_pdu(unit: int, pdu: bytes, tid: int = 0) -> Request:
    fc = pdu[0]
    if fc not in (3, 4):
        return Request(unit, fc, tid=tid, error=1)
    if len(pdu) != 5:
        return Request(unit, fc, tid=tid, error=3)
    addr, count = struct.unpack(">HH", pdu[1:5])
    return Request(unit, fc, addr, count, tid)


def response_pdu(unit: Unit, req: Request, value: float | None) -> bytes:
    exception = bytes([(req.fc | 0x80) & 0xFF])
    if req.error:
        return exception + bytes([req.error])
    try:
        regs = unit.source.read(req.fc, req.addr, req.count, value)
    except ModbusError as e:
        return exception + bytes([e.code])
    data = words_of(regs)
    return bytes([req.fc, len(data)]) + data


# A framer turns (request, unit id, PDU) into the bytes of one transport.
Framer = Callable[[Request, int, bytes, bool], bytes]


def frame_family(unit: Unit, req: Request, framer: Framer) -> bytes:
    """Family "frame" (and the values of late/late-as): the bytes of the reply to one request."""
    mode, a = unit.reply_mode, unit.args
    value = {"late": 999.0, "late-as": 999.0, "absurd": a[0] if a else None}.get(mode)
    pdu = response_pdu(unit, req, value)
    uid = req.unit
    if mode == "exception":
        pdu = bytes([(req.fc | 0x80) & 0xFF, a[0]])
    elif mode == "wrong-unit":
        uid = (uid + 1) & 0xFF
    elif mode == "late-as":
        uid = a[1]
    elif mode == "wrong-function":
        pdu = b"\x10" + pdu[1:]
    elif mode == "bytecount" and pdu[0] < 0x80:
        pdu = pdu[:1] + bytes([(pdu[1] + 2) & 0xFF]) + pdu[2:]
    frame = framer(req, uid, pdu, mode == "crc")
    if mode == "garbage":
        return unit.rng.randbytes(9)
    if mode == "overlong":
        return frame + unit.rng.randbytes(20)
    return frame


def timing_family(unit: Unit, frame: bytes) -> list[tuple[float, bytes]]:
    """Family "timing": when the reply's bytes go out, as (delay in seconds, bytes) writes."""
    mode, a = unit.reply_mode, unit.args
    if mode in ("late", "late-as"):
        return [(a[0] / 1000, frame)]
    if mode == "partial":
        return [(0.0, frame[:len(frame) // 2])]
    if mode == "dribble":
        return [(i * a[0] / 1000, frame[i:i + 1]) for i in range(len(frame))]
    if mode == "split":
        half = len(frame) // 2
        return [(0.0, frame[:half]), (0.030, frame[half:])]
    return [(0.0, frame)]


def plan_reply(unit: Unit, req: Request, framer: Framer) -> list[tuple[float, bytes]]:
    """The writes answering one request (none for a silent unit)."""
    if unit.reply_mode == "silent":
        return []
    return timing_family(unit, frame_family(unit, req, framer))


# ---------------------------------------------------------------------------------------------------------
# Writer: sends byte strings at their times, in order of time, from a thread of its own
# ---------------------------------------------------------------------------------------------------------

class Writer:
    def __init__(self, write: Callable[[bytes], None], name: str):
        self._write = write
        self._heap: list[tuple[float, int, bytes]] = []
        self._order = itertools.count()
        self._cv = threading.Condition()
        self._closing = False
        self.dead = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def at(self, when: float, data: bytes) -> None:
        with self._cv:
            if not self.dead:
                heapq.heappush(self._heap, (when, next(self._order), data))
                self._cv.notify()

    def plan(self, chunks: list[tuple[float, bytes]]) -> None:
        now = time.monotonic()
        for delay, data in chunks:
            self.at(now + delay, data)

    def backlog(self) -> int:
        with self._cv:
            return len(self._heap)

    def finish(self, timeout: float) -> None:
        """Sends what is pending (for at most `timeout` s), then stops."""
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join(timeout)
        with self._cv:
            self.dead = True
            self._heap.clear()
            self._cv.notify()

    def _run(self) -> None:
        try:
            while True:
                with self._cv:
                    while not self.dead:
                        if self._heap:
                            wait = self._heap[0][0] - time.monotonic()
                            if wait <= 0:
                                break
                            self._cv.wait(wait)
                        elif self._closing:
                            return
                        else:
                            self._cv.wait()
                    if self.dead:
                        return
                    _, _, data = heapq.heappop(self._heap)
                self._write(data)
        except OSError as e:
            log(f"write failed: {e}")
        except Exception as e:                                  # never let a writer take the peer down
            warn(f"writer error: {e!r}")
        finally:
            with self._cv:
                self.dead = True
                self._heap.clear()


# ---------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Config:
    transport: str
    units: dict[int, Unit] = field(default_factory=dict)
    connection_mode: str | None = None
    seed: int = 0
    # --schedule: per unit, (from, until) in seconds since `started` (monotonic) and the unit meanwhile.
    schedule: dict[int, list[tuple[float, float, Unit]]] = field(default_factory=dict)
    started: float = 0.0

    def unit_for(self, uid: int) -> Unit | None:
        """The unit answering requests for `uid`; None: nobody answers."""
        windows = self.schedule.get(uid)
        if windows:
            t = time.monotonic() - self.started
            for start, end, scheduled in windows:
                if start <= t < end:
                    return scheduled
        unit = self.units.get(uid)
        if unit is None and self.connection_mode in ("bad-mbap-length", "bad-protocol", "wrong-tid"):
            unit = self.units.setdefault(uid, make_unit(self, uid, "healthy", (), UNIT_MODES["healthy"], None))
        return unit


def make_unit(cfg: Config, uid: int, name: str, args: tuple, mode: Mode, waveform_clock) -> Unit:
    if mode.family == "sunspec":
        source = SunSpecDevice(name, args)
    elif mode.family == "waveform":
        source = WaveformDevice(name, args, *waveform_clock)
    else:
        source = ImageDevice()
    return Unit(uid, name, args, mode.family, source, random.Random(f"{cfg.seed}/unit/{uid}"))


def parse_spec(text: str, table: dict[str, Mode], option: str) -> tuple[int, str, tuple, Mode]:
    uid_text, sep, rest = text.partition("=")
    if not sep:
        raise ArgError(f"{option} {text!r}: expected N=MODE[:ARG[,ARG...]]")
    try:
        uid = int(uid_text, 0)
    except ValueError:
        raise ArgError(f"{option} {text!r}: unit {uid_text!r} is not a number") from None
    if not 1 <= uid <= 247:
        raise ArgError(f"{option} {text!r}: unit {uid} is not in 1..247")
    name, _, arg_text = rest.partition(":")
    mode = table.get(name)
    if mode is None:
        raise ArgError(f"{option} {text!r}: unknown mode {name!r} (known: {', '.join(table)})")
    raw = arg_text.split(",") if arg_text else []
    if len(raw) != len(mode.args):
        raise ArgError(f"{option} {text!r}: expected {mode.usage(name)}")
    try:
        args = tuple(arg.parse(r.strip()) for arg, r in zip(mode.args, raw))
    except ArgError as e:
        raise ArgError(f"{option} {text!r}: {e}") from None
    return uid, name, args, mode


SCHEDULABLE = ("frame", "timing", "drop", "sunspec")


def load_schedule(cfg: Config, path: str, waveform_clock: tuple[int, int]) -> None:
    """--schedule FILE: the windows in which units take another mode (module docstring)."""
    import json
    try:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
    except (OSError, ValueError) as e:
        raise ArgError(f"--schedule {path}: {e}") from None
    if not isinstance(entries, list):
        raise ArgError(f"--schedule {path}: expected a JSON list")
    for i, e in enumerate(entries):
        where = f"--schedule {path}: entry {i}"
        if not (isinstance(e, dict) and isinstance(e.get("unit"), int) and isinstance(e.get("mode"), str)
                and all(isinstance(e.get(k), (int, float)) and not isinstance(e.get(k), bool) for k in ("from_s", "until_s"))):
            raise ArgError(f"{where}: expected {{\"unit\": N, \"mode\": \"MODE\", \"from_s\": A, \"until_s\": B}}")
        start, end = float(e["from_s"]), float(e["until_s"])
        if not (0 <= start < end and math.isfinite(end)):
            raise ArgError(f"{where}: expected 0 <= from_s < until_s")
        uid, name, args, mode = parse_spec(f"{e['unit']}={e['mode']}", UNIT_MODES, "--schedule")
        if cfg.transport not in mode.transports or mode.family not in SCHEDULABLE:
            raise ArgError(f"{where}: mode {name} cannot be scheduled on {cfg.transport}")
        if uid not in cfg.units or cfg.units[uid].family not in SCHEDULABLE:
            raise ArgError(f"{where}: unit {uid} needs a --unit mode of family {', '.join(SCHEDULABLE)} to go back to")
        windows = cfg.schedule.setdefault(uid, [])
        if any(start < b and a < end for a, b, _ in windows):
            raise ArgError(f"{where}: overlaps another window of unit {uid}")
        windows.append((start, end, make_unit(cfg, uid, name, args, mode, waveform_clock)))


def build_config(ns: argparse.Namespace, waveform_clock: tuple[int, int]) -> Config:
    transport = TCP if ns.tcp else RTU
    cfg = Config(transport, seed=ns.seed, started=waveform_clock[1] / 1e9)
    specs = [(s, UNIT_MODES, "--unit") for s in ns.unit] + [(s, WAVEFORM_MODES, "--waveform") for s in ns.waveform]
    for text, table, option in specs:
        uid, name, args, mode = parse_spec(text, table, option)
        if transport not in mode.transports:
            raise ArgError(f"{option} {text!r}: mode {name} is for {'/'.join(sorted(mode.transports))} only")
        if uid in cfg.units:
            raise ArgError(f"{option} {text!r}: unit {uid} given twice")
        if mode.family == "connection":
            if cfg.connection_mode not in (None, name):
                raise ArgError(f"{option} {text!r}: one connection mode per peer ({cfg.connection_mode} given)")
            cfg.connection_mode = name
        cfg.units[uid] = make_unit(cfg, uid, name, args, mode, waveform_clock)
    if ns.schedule:
        load_schedule(cfg, ns.schedule, waveform_clock)
    return cfg


# ---------------------------------------------------------------------------------------------------------
# Modbus TCP
# ---------------------------------------------------------------------------------------------------------

def tcp_framer(connection_mode: str | None) -> Framer:
    """MBAP framing, with the header defect of the connection family's header modes."""
    def frame(req: Request, uid: int, pdu: bytes, bad_crc: bool) -> bytes:
        if connection_mode == "wrong-tid":
            return mbap(req.tid + 1, uid, pdu)
        if connection_mode == "bad-protocol":
            return mbap(req.tid, uid, pdu, protocol=0x1234)
        if connection_mode == "bad-mbap-length":
            return mbap(req.tid, uid, pdu, length=0x00FF)
        return mbap(req.tid, uid, pdu)
    return frame


def forged_burst() -> bytes:
    """early-forged: for transaction ids 1..20 a function-3 and a function-4 reply of 10 registers, 998.0."""
    data = words_of([w for _ in range(5) for w in float_words(998.0)])
    return b"".join(mbap(tid, 1, bytes([fc, len(data)]) + data) for tid in range(1, 21) for fc in (3, 4))


def flood(conn: socket.socket, mode: str, rng: random.Random) -> None:
    """flood-frames / flood-random: write for ever, never read; ends when the client goes away."""
    # A valid reply to a read of one register: MBAP (7 bytes) + fc, byte count, one register = 11 bytes.
    frame = mbap(0xBEEF, 1, bytes([3, 2]) + words_of([999]))
    frames = frame * 1024
    try:
        while not STOP.is_set():
            conn.sendall(frames if mode == "flood-frames" else rng.randbytes(16384))
    except OSError as e:
        log(f"{mode}: client gone ({e})")
    finally:
        _close(conn)


def _close(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()


def serve_tcp_connection(cfg: Config, conn: socket.socket, index: int) -> None:
    framer = tcp_framer(cfg.connection_mode)
    writer = Writer(conn.sendall, f"tcp-writer-{index}")
    if cfg.connection_mode == "early-forged":
        writer.plan([(0.0, forged_burst())])
    buf = bytearray()
    try:
        while not STOP.is_set():
            data = conn.recv(4096)
            if not data:
                break
            buf += data
            while len(buf) >= 7:
                tid, protocol, length, uid = struct.unpack(">HHHB", buf[:7])
                if not 2 <= length <= 254:
                    log(f"connection {index}: MBAP length {length}; closing")
                    return
                if len(buf) < 6 + length:
                    break
                pdu = bytes(buf[7:6 + length])
                del buf[:6 + length]
                if protocol != 0:
                    log(f"connection {index}: protocol id {protocol:#06x}; frame ignored")
                    continue
                if not handle(cfg, parse_pdu(uid, pdu, tid), framer, writer):
                    return
    except OSError as e:
        log(f"connection {index}: {e}")
    except Exception as e:                                      # never let one client take the peer down
        warn(f"connection {index}: unexpected {e!r}")
    finally:
        writer.finish(timeout=30.0)
        _close(conn)
        log(f"connection {index}: closed")


def connection_family(cfg: Config, conn: socket.socket, index: int) -> None:
    """Family "connection", at accept: close, reset, flood, or serve the connection on a thread of its own
    (header defects and early-forged's burst happen there)."""
    mode = cfg.connection_mode
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)       # dribbled bytes go out one by one
    if mode == "accept-close":
        conn.close()
    elif mode == "accept-rst":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    elif mode in ("flood-frames", "flood-random"):
        rng = random.Random(f"{cfg.seed}/connection/{index}")
        threading.Thread(target=flood, args=(conn, mode, rng), daemon=True).start()
    else:
        threading.Thread(target=serve_tcp_connection, args=(cfg, conn, index), daemon=True).start()


def serve_tcp(cfg: Config, address: str) -> int:
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.create_server((host, int(port_text)), family=family, backlog=128)
    bound = server.getsockname()
    print(f"tcp {host if family == socket.AF_INET else '[' + host + ']'}:{bound[1]}", flush=True)
    print("ready", flush=True)
    for index in itertools.count(1):
        while not STOP.is_set() and not select.select([server], [], [], 0.2)[0]:
            pass
        if STOP.is_set():
            break
        try:
            conn, peer = server.accept()
        except OSError as e:                                    # e.g. EMFILE, ECONNABORTED
            log(f"accept: {e}")
            time.sleep(0.05)
            continue
        log(f"connection {index} from {peer[0]}:{peer[1]} ({cfg.connection_mode or 'per unit'})")
        try:
            connection_family(cfg, conn, index)
        except OSError as e:
            log(f"connection {index}: {e}")
            conn.close()
    server.close()
    return 0


# ---------------------------------------------------------------------------------------------------------
# Modbus RTU
# ---------------------------------------------------------------------------------------------------------

def paced_writer(fd: int, byte_delay_s: float) -> Callable[[bytes], None]:
    def write_all(data: bytes) -> None:
        while data:
            n = os.write(fd, data)
            data = data[n:]

    def write(data: bytes) -> None:
        if byte_delay_s <= 0:
            write_all(data)
            return
        due = time.monotonic()
        for i in range(len(data)):
            if i:
                due += byte_delay_s
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            write_all(data[i:i + 1])
    return write


def noise_loop(writer: Writer, period_ms: float, rng: random.Random) -> None:
    """Family "line": 1..8 random bytes on the line every period, for ever."""
    period = max(period_ms, 1.0) / 1000
    due = time.monotonic()
    while not STOP.is_set() and not writer.dead:
        due += period
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            due = time.monotonic()                              # fell behind: do not burst
        if writer.backlog() < 64:
            writer.at(time.monotonic(), rng.randbytes(rng.randint(1, 8)))


def rtu_framer(req: Request, uid: int, pdu: bytes, bad_crc: bool) -> bytes:
    return rtu_frame(uid, pdu, bad_crc)


def serve_rtu(cfg: Config, device: str, byte_delay_ms: float) -> int:
    fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
    try:
        tty.setraw(fd)
    except termios.error as e:
        warn(f"{device}: cannot set raw mode ({e}); going on")
    writer = Writer(paced_writer(fd, byte_delay_ms / 1000), "rtu-writer")
    for unit in cfg.units.values():
        if unit.mode == "noise":
            threading.Thread(target=noise_loop, args=(writer, unit.args[0], random.Random(f"{cfg.seed}/noise/{unit.uid}")),
                             daemon=True).start()
    print(f"rtu {device}", flush=True)
    print("ready", flush=True)
    buf = bytearray()
    while not STOP.is_set():
        if not select.select([fd], [], [], 0.2)[0]:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EINTR):
                continue
            warn(f"{device}: line closed ({e.strerror})")
            break
        if not data:
            warn(f"{device}: line closed")
            break
        buf += data
        while len(buf) >= 8:
            candidate = bytes(buf[:8])
            if crc16(candidate[:6]) != candidate[6] | candidate[7] << 8:
                del buf[0]                                      # resynchronise one byte on
                continue
            del buf[:8]
            try:
                handle(cfg, parse_pdu(candidate[0], candidate[1:6]), rtu_framer, writer)
            except Exception as e:                              # never let a request take the peer down
                warn(f"request {candidate.hex()}: unexpected {e!r}")
    os.close(fd)
    return 0


# ---------------------------------------------------------------------------------------------------------
# Both transports
# ---------------------------------------------------------------------------------------------------------

def handle(cfg: Config, req: Request, framer: Framer, writer: Writer) -> bool:
    """Plans the reply to one request; False: close the connection instead (family "drop")."""
    unit = cfg.unit_for(req.unit)
    what = f"unit {req.unit} fc {req.fc} addr {req.addr} count {req.count} tid {req.tid}"
    if unit is None:
        log(f"{what}: not listed, silent")
        return True
    if unit.family == "drop":
        log(f"{what}: {unit.mode}, closing the connection")
        return False
    chunks = plan_reply(unit, req, framer)
    log(f"{what}: {unit.mode} -> {len(chunks)} write(s), {sum(len(c) for _, c in chunks)} bytes")
    writer.plan(chunks)
    return True


def list_modes() -> None:
    for title, table in (("--unit", UNIT_MODES), ("--waveform", WAVEFORM_MODES)):
        print(f"{title} modes:")
        for name, mode in table.items():
            print(f"  {mode.usage(name):24} {mode.family:10} {'/'.join(sorted(mode.transports)):8} {mode.doc}")


def main(argv: list[str] | None = None) -> int:
    global VERBOSE
    start_wall_us, start_mono_ns = time.time_ns() // 1000, time.monotonic_ns()
    parser = argparse.ArgumentParser(description="Hostile Modbus peer for the synx end-to-end tests "
                                                 "(see the module docstring for every mode).")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--tcp", metavar="HOST:PORT")
    where.add_argument("--rtu", metavar="DEV")
    parser.add_argument("--byte-delay-ms", type=float, default=0.0, metavar="F")
    parser.add_argument("--unit", action="append", default=[], metavar="N=MODE[:ARG[,ARG...]]")
    parser.add_argument("--waveform", action="append", default=[], metavar="N=MODE[:ARG[,ARG...]]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--schedule", metavar="FILE")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--list-modes", action="store_true")
    ns = parser.parse_args(argv)
    if ns.list_modes:
        list_modes()
        return 0
    if not (ns.tcp or ns.rtu):
        parser.error("one of --tcp HOST:PORT or --rtu DEV is needed")
    if ns.rtu and ns.waveform:
        parser.error("--waveform is for --tcp only")
    if ns.tcp and ns.byte_delay_ms:
        parser.error("--byte-delay-ms is for --rtu only")
    if not (0 <= ns.byte_delay_ms <= 1000 and math.isfinite(ns.byte_delay_ms)):
        parser.error("--byte-delay-ms must be in 0..1000")
    if ns.tcp and (":" not in ns.tcp or not ns.tcp.rpartition(":")[2].isdigit()):
        parser.error(f"--tcp {ns.tcp!r}: expected HOST:PORT")
    VERBOSE = ns.verbose
    try:
        cfg = build_config(ns, (start_wall_us, start_mono_ns))
    except ArgError as e:
        parser.error(str(e))

    def stop(signum, frame):
        STOP.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return serve_tcp(cfg, ns.tcp) if ns.tcp else serve_rtu(cfg, ns.rtu, ns.byte_delay_ms)
    except OSError as e:
        warn(f"cannot serve: {e}")
        return 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)          # connection threads may be blocked in a send: do not wait for them
