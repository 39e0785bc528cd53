#!/usr/bin/env python3
"""Self-check of synx_store.py without synx: blocks made by a small encoder written here (after
SeriesBlockEncoder) and head batches decode back bit for bit; a few blobs are checked byte for byte; damaged
blobs are errors; and the reading rule (blocks, plus head points after last_t) holds on a store built here."""
from __future__ import annotations

import math
import os
import sqlite3
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synx_store as ss  # noqa: E402


class BlockEncoder:
    """SeriesBlockEncoder, once more: bits appended most significant first."""

    def __init__(self, counts: bool):
        self.counts, self.n, self.nbits, self.acc = counts, 0, 0, 0
        self.last_t = self.delta = self.flags = self.vbits = self.count = self.expected = 0
        self.leading, self.trailing = None, 0

    def w(self, v: int, width: int):
        self.acc = (self.acc << width) | (v & ((1 << width) - 1))
        self.nbits += width

    def append(self, t: int, value, flags: int, count: int = 0, expected: int = 0):
        if self.n == 0:
            self.w(t, 64)
        else:
            d = ss.to_int64(t - self.last_t)
            z = ss.zigzag(d - self.delta)
            self.delta = d
            if z == 0:
                self.w(0, 1)
            else:
                for prefix, pw, width in ((0b10, 2, 8), (0b110, 3, 14), (0b1110, 4, 24), (0b1111, 4, 64)):
                    if z < 1 << width or width == 64:
                        self.w(prefix, pw); self.w(z, width)
                        break
        self.last_t = t
        f = (flags & 0x1F) | (0x80 if value is None else 0)
        if f == self.flags:
            self.w(0, 1)
        else:
            self.w(1, 1); self.w(f, 8); self.flags = f
        if value is not None:
            self.value(ss.double_bits(value))
        if self.counts:
            for name, v in (("count", count), ("expected", expected)):
                if v == getattr(self, name):
                    self.w(0, 1)
                else:
                    z = ss.zigzag(v)
                    self.w(1, 1); self.w(z.bit_length(), 7); self.w(z, z.bit_length())
                    setattr(self, name, v)
        self.n += 1

    def value(self, v: int):
        prev, self.vbits = self.vbits, v
        if v == prev:
            self.w(0, 1); return
        a, b = ss.float32_exactly(prev), ss.float32_exactly(v)
        if a is not None and b is not None:
            z = ss.zigzag(b - a)
            self.w(0b10, 2)
            if z < 1 << 8:
                self.w(0, 1); self.w(z, 8)
            elif z < 1 << 16:
                self.w(0b10, 2); self.w(z, 16)
            else:
                self.w(0b11, 2); self.w(z, 33)
            return
        x = v ^ prev
        lz, tz = 64 - x.bit_length(), (x & -x).bit_length() - 1
        if self.leading is not None and lz >= self.leading and tz >= self.trailing:
            self.w(0b110, 3); self.w(x >> self.trailing, 64 - self.leading - self.trailing)
        else:
            self.leading, self.trailing = lz, tz
            self.w(0b111, 3); self.w(lz, 6); self.w(64 - lz - tz - 1, 6); self.w(x >> tz, 64 - lz - tz)

    def encoded(self) -> bytes:
        pad = -self.nbits % 8
        body = (self.acc << pad).to_bytes((self.nbits + pad) // 8, "big") if self.nbits else b""
        return bytes([1, 1 if self.counts else 0]) + ss.leb128(self.n) + body


def same(a, b) -> bool:
    """Points equal, values bit for bit."""
    bits = lambda v: None if v is None else ss.double_bits(v)  # noqa: E731
    return len(a) == len(b) and all(tuple(x[:1]) + (bits(x[1]),) + tuple(x[2:]) == tuple(y[:1]) + (bits(y[1]),) + tuple(y[2:])
                                    for x, y in zip(a, b))


def raises(f, *args) -> bool:
    try:
        f(*args)
    except ss.CorruptBlob:
        return True
    return False


failures: list[str] = []


def check(name: str, ok: bool):
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failures.append(name)


I64MAX, I64MIN = (1 << 63) - 1, -(1 << 63)
NAN_PAYLOAD = ss.bits_double(0x7FF4_0000_0000_0001)      # a signalling NaN with a payload
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]  # noqa: E731
values = [0.0, -0.0, math.inf, -math.inf, math.nan, NAN_PAYLOAD, 1.7976931348623157e308, 5e-324, None, 230.1, None, None,
          1e300, -1e-300, 230.1, 230.1, f32(230.1), f32(230.1) + 2 ** -16, f32(-230.1), f32(1e-3), 3.4028234663852886e38,
          f32(1e-40), 50.0, 50.0]
times = [I64MIN, I64MIN + 1, -1, 0, 1, 1000, 2000, 3000, 3001, 1_800_000_000_000, 1_800_000_000_999, 1_800_001_000_000,
         1_800_017_000_000, 1_900_000_000_000, I64MAX - 9, I64MAX - 8, I64MAX - 7, I64MAX - 6, I64MAX - 5, I64MAX - 4,
         I64MAX - 3, I64MAX - 2, I64MAX - 1, I64MAX]
points = [(t, v, i % 32, I64MAX if i % 3 == 0 else i, I64MIN if i % 4 == 0 else 3) for i, (t, v) in enumerate(zip(times, values))]

for counts in (True, False):
    e = BlockEncoder(counts)
    for p in points:
        e.append(*p)
    want = points if counts else [p[:3] + (0, 0) for p in points]
    got = ss.decode_block(e.encoded())
    check(f"block round trip, edge values and times, counts {counts}", same([tuple(p) for p in got], want))

# A float32 meter at 1 s (steps of 8, 16 and 33 bits), with a missing poll and a changing quality.
e = BlockEncoder(False)
series = [(1_800_000_000_000 + i * 1000, None if i == 7 else f32(230 + ((i * 37) % 11 - 5) * (0.01 if i % 5 else 30)), i // 10)
          for i in range(40)]
for p in series:
    e.append(*p)
block = e.encoded()
check("block round trip, float32 steps", same([tuple(p[:3]) for p in ss.decode_block(block)], series))
check("a block cut anywhere is an error", all(raises(ss.decode_block, block[:n]) for n in range(len(block))))
check("a block count beyond 2^22 is an error", raises(ss.decode_block, bytes([1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])))
# One point at t 0, value 0.0, flags 0: 64 time bits, '0' flags unchanged, '0' value unchanged -> 9 zero bytes.
check("a block by hand", ss.decode_block(bytes([1, 0, 1]) + bytes(9)) == [ss.Point(0, 0.0, 0)])
# Two points by hand: t 5, 7; 1.5 (a float32: step '10' from 0.0, z = zigzag(0x3FC00000) takes 33 bits), then no value.
bits = (format(5, "064b") + "0" + "10" + "11" + format(ss.zigzag(0x3FC00000), "033b")  # t, flags, float32 step 33 bits
        + "10" + format(ss.zigzag(2), "08b") + "1" + format(0x80, "08b"))                # dod 2, flags: no value
bits += "0" * (-len(bits) % 8)
hand = bytes([1, 0, 2]) + int(bits, 2).to_bytes(len(bits) // 8, "big")
check("a two-point block by hand", ss.decode_block(hand) == [ss.Point(5, 1.5, 0), ss.Point(7, None, 0)])

# Head batches: byte for byte, then round trips.
blob = ss.encode_head([(1, 1000, 230.0, 0), (2, 1000, None, 1, 3, -1), (3, 999, NAN_PAYLOAD, 2)])
hand = (b"\x01" + b"\x01" + b"\xd0\x0f" + b"\x20" + struct.pack("<f", 230.0)          # series 1, +1000, float32
        + b"\x02" + b"\x00" + b"\xc1" + b"\x06" + b"\x01"                              # series 2, +0, no value, counts 3, -1
        + b"\x03" + b"\x01" + b"\x02" + struct.pack("<Q", 0x7FF4_0000_0000_0001))      # series 3, -1, float64 NaN
check("a head batch byte for byte", blob == hand)
rows = [(1, 1_800_000_000_000, 230.25, 0), (2, 1_800_000_000_000, 0.1, 2), (16_777_215, 5, None, 1),
        (3, I64MIN, ss.bits_double(0x7FF8_0000_0000_0042), 2), (4, I64MAX, 231, 0x09, 3, -1), (5, 0, -0.0, 0),
        (6, 1, math.inf, 0), (7, 2, f32(1e-40), 0), (8, 3, 5e-324, 0), (9, 4, 3.4028235677973366e38, 0, I64MAX, I64MIN)]
back = ss.decode_head(ss.encode_head(rows))
want = [(r[1], r[2], r[3] & 0x1F) + ((r[4], r[5]) if len(r) > 4 else (0, 0)) for r in rows]
check("head round trip", same([tuple(r.point) for r in back], want) and [r.series for r in back] == [r[0] for r in rows]
      and [r.has_counts for r in back] == [len(r) > 4 for r in rows])
check("float32 exactly -> 4 bytes, else 8", [len(ss.encode_head([(1, 0, v, 0)])) for v in (230.0, -0.0, math.inf, 0.1, math.nan, 5e-324)]
      == [1 + 1 + 1 + 1 + 4] * 3 + [1 + 1 + 1 + 1 + 8] * 3)
check("head errors", raises(ss.decode_head, bytes([1, 5])) and raises(ss.decode_head, bytes([2])) and raises(ss.decode_head, b""))

# The store-blob fuzz seeds kept in the tree (Tests/Fuzz/store-blob; first byte: even a block, odd a head batch)
# decode, and encode back to the same bytes.
seeds = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fuzz", "store-blob")
for name in sorted(os.listdir(seeds)) if os.path.isdir(seeds) else []:
    with open(os.path.join(seeds, name), "rb") as f:
        selector, blob = f.read(1), f.read()
    if not selector or not name.startswith("seed"):
        continue
    if selector[0] & 1 == 0:
        e = BlockEncoder(blob[1] == 1)
        for p in ss.decode_block(blob):
            e.append(*p)
        check(f"fuzz seed {name}: decodes, encodes back byte for byte", e.encoded() == blob)
    else:
        check(f"fuzz seed {name}: decodes, encodes back byte for byte", ss.encode_head(ss.decode_head(blob)) == blob)

# The reading rule on a store: blocks, plus head points after last_t (a compaction cut short leaves both).
db = sqlite3.connect(":memory:")
db.executescript("""
    CREATE TABLE series (id INTEGER PRIMARY KEY, meter TEXT, measurement TEXT, unit TEXT, tier TEXT DEFAULT '', last_t INTEGER,
                         UNIQUE (meter, measurement, tier));
    CREATE TABLE sample_head (id INTEGER PRIMARY KEY, rows INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE TABLE block_cuts (seq INTEGER PRIMARY KEY, first_t INTEGER, last_t INTEGER, head_id INTEGER);
    CREATE TABLE sample_blocks (id INTEGER PRIMARY KEY, first_t INTEGER, last_t INTEGER, count INTEGER, data BLOB);
    CREATE TABLE derived_aggregates (meter TEXT, measurement TEXT, tier TEXT, end_ms INTEGER);
    CREATE TABLE samples_v7 (series INTEGER, t INTEGER, value REAL, quality INTEGER);
    INSERT INTO series (id, meter, measurement, unit, tier, last_t) VALUES (1, 'm1', 'v', 'V', '', 3000), (2, 'm1', 'v', 'V', '3s', NULL);
    INSERT INTO block_cuts VALUES (1, 1000, 3000, 1);
    INSERT INTO derived_aggregates VALUES ('m0', 'v', '3s', 3000), ('m0', 'v', '10min', 600000);
    INSERT INTO samples_v7 VALUES (1, 10, 230, 0);
""")
e = BlockEncoder(False)
for t in (1000, 2000, 3000):
    e.append(t, 230.0, 0)
db.execute("INSERT INTO sample_blocks VALUES (?, 1000, 3000, 3, ?)", (1 * ss.MAX_SERIES + 1, e.encoded()))
ss.append_head(db, [(1, 2000, 230.0, 0), (1, 3000, 230.0, 0), (1, 4000, 231.5, 0), (2, 3000, 230.5, 0, 3, 3)])
ss.append_head(db, [(1, 5000, None, 2)])
ss.append_head(db, [(1, 500, 229.0, 0)], before=True)     # older than the head's: placed first (and before last_t: dropped)
pts = ss.series_points(db, "m1", "v")
check("series_points: blocks + head after last_t", [p[0] for p in pts] == [1000, 2000, 3000, 4000, 5000]
      and pts[3][1] == 231.5 and pts[4][1:] == (None, 2))
check("series_points with counts", ss.series_points(db, "m1", "v", "3s") == [(3000, 230.5, 0, 3, 3)])
check("head batch placed first", db.execute("SELECT min(id) FROM sample_head").fetchone()[0] == 0)
check("point_count, all", ss.point_count(db) == 3 + 2 + 1 + 1 + 1)       # blocks, head after last_t, 3s head, v7, 3s unconverted
check("point_count, restricted", ss.point_count(db, "SELECT id FROM series WHERE tier = ?", ("",)) == 3 + 2 + 1)
check("series_stats", ss.series_stats(db, [1, 2, 99]) == {1: (6, 5000), 2: (1, 3000), 99: (0, None)})

print("selftest_synx_store:", "FAILED " + ", ".join(failures) if failures else "all passed")
sys.exit(1 if failures else 0)
