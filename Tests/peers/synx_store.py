"""An independent reader of synx's time-series store (schema version 8), Python 3 standard library only.

Written from the format's description in the Swift sources (Sources/SynxStore: SeriesBlock.swift, StoreHead.swift,
StoreReader.swift, Compaction.swift, Schema.swift), not from their code paths, so that it can cross-check them.

Tables:
  series(id, meter, measurement, unit, tier, last_t)   tier '' polled samples, '3s' meter-derived 3-s aggregates;
                                                        last_t the latest time in the series' blocks (NULL: none)
  sample_head(id INTEGER PRIMARY KEY, rows, data)       one row per commit: its points, not yet in blocks
  block_cuts(seq, first_t, last_t, head_id)             one row per compaction (head_id -1: converted from v7)
  sample_blocks(id, first_t, last_t, count, data)       one series' points of one cut; id = seq * 2^24 + series
  samples_v7(series, t, value, quality)                 a version-7 store's rows not yet converted (may not exist)
  derived_aggregates(... tier '3s' ...)                 the same for the 3-s tier (rows with tier '3s')

A point is (t, value or None, flags[, count, expected]): t in UTC ms, flags 5 bits (a sample's quality; a 3-s
aggregate's method in bits 0-1 and notes in bits 2-3), counts only in series that carry them (3-s aggregates).

Head batch (`sample_head.data`): a version byte 1, then per row: the series id (unsigned LEB128 of its 64-bit
two's complement), the time as zigzag LEB128 of the difference from the previous row's time (the first from
0, wrapping in 64 bits), a flags byte (bits 0-4 the point's flags; 7: no value; 6: counts follow; 5: the
value is a float32, exactly), the value (4 or 8 bytes little endian: float32 or float64 bits), then when bit 6
is set the count and the expected count (zigzag LEB128 each).

Block (`sample_blocks.data`): a version byte 1, a byte of block flags (bit 0: points carry counts), the point
count (LEB128, at most 2^22), then a bit stream, most significant bit first. Per point:
  time     the first: 64 bits; then the delta of the delta (wrapping): '0' for 0, else zigzag in
           '10'+8 bits, '110'+14, '1110'+24, '1111'+64
  flags    '0' unchanged, or '1' + 8 bits (bit 7: no value; bits 5-6 must be 0); starts at 0
  value    only when flags bit 7 is clear; against the previous value's 64 bits (starting at 0):
           '0' unchanged; '10' float32 step: previous and new both exactly float32, new float32 bits = previous
           float32 bits + zigzag(z), z in '0'+8 bits, '10'+16, '11'+33; '110' XOR inside the previous window of
           meaningful bits (x >> trailing, 64 - leading - trailing bits); '111' a new window: leading zeros in
           6 bits, length - 1 in 6 bits, then x >> trailing in length bits
  counts   only in blocks with counts: count, then expected, each '0' unchanged or '1' + a 7-bit width +
           zigzag in that many bits (both start at 0)

Reading one series (StoreReader.points): the points of its blocks (one per cut in block_cuts), plus the head's
points of that series with t > its last_t (a compaction cut short by a crash leaves points in both places),
sorted by t. Counting (StoreReader.storedPointCount): the sum of sample_blocks.count, plus head points after
their series' last_t, plus rows of samples_v7 and 3-s rows of derived_aggregates not yet converted.
"""
from __future__ import annotations

import sqlite3
import struct
from typing import Iterable, NamedTuple, Optional

MASK64 = (1 << 64) - 1
INT64_MIN = -(1 << 63)
MAX_SERIES = 1 << 24             # a block's id is cut * MAX_SERIES + series
MAX_BLOCK_POINTS = 1 << 22       # more in one block is corruption (SeriesBlockDecoder.maxPoints)


class CorruptBlob(ValueError):
    """A block or head batch that ends early or says something no encoder writes."""


class Point(NamedTuple):
    """One decoded point; count and expected are 0 where the blob carries no counts."""
    t: int
    value: Optional[float]
    flags: int
    count: int = 0
    expected: int = 0


class HeadRow(NamedTuple):
    """One row of a head batch: a point of a series, and whether it carries counts."""
    series: int
    point: Point
    has_counts: bool


# ---------------------------------------------------------------------------------------------------------------
# Integers and floats

def to_int64(v: int) -> int:
    """`v` wrapped into a signed 64-bit integer."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def zigzag(v: int) -> int:
    """Signed 64-bit -> unsigned 64-bit, small magnitudes small."""
    v = to_int64(v)
    return ((v << 1) ^ (v >> 63)) & MASK64


def unzigzag(z: int) -> int:
    """The inverse of `zigzag`."""
    z &= MASK64
    return to_int64((z >> 1) ^ -(z & 1))


def leb128(v: int) -> bytes:
    """Unsigned LEB128 of `v` taken as a 64-bit pattern."""
    v &= MASK64
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def read_leb128(blob: bytes, offset: int) -> tuple[int, int]:
    """(value, offset after it); bits beyond 64 are dropped, as the Swift reader does; more than 10 bytes is corrupt."""
    out, shift = 0, 0
    while True:
        if offset >= len(blob) or shift >= 64:
            raise CorruptBlob("varint")
        b = blob[offset]
        offset += 1
        out = (out | ((b & 0x7F) << shift)) & MASK64
        if not b & 0x80:
            return out, offset
        shift += 7


def double_bits(v: float) -> int:
    """The IEEE 754 bits of a double (a NaN's payload kept)."""
    return struct.unpack("<Q", struct.pack("<d", v))[0]


def bits_double(b: int) -> float:
    """The double with these bits (a NaN's payload kept)."""
    return struct.unpack("<d", struct.pack("<Q", b & MASK64))[0]


def float32_exactly(bits: int) -> Optional[int]:
    """The float32 bits of the double with `bits` when it is a float32 exactly (Swift's Float(exactly:)): never for
    a NaN; -0.0 and the infinities are."""
    d = bits_double(bits)
    if d != d:
        return None
    try:
        packed = struct.pack("<f", d)
    except OverflowError:
        return None
    if struct.unpack("<f", packed)[0] != d:
        return None
    return struct.unpack("<I", packed)[0]


def float32_to_double_bits(p: int) -> int:
    """The double bits of Double(Float(bitPattern: p)). Exact for every float32 but NaN; a NaN (which no encoder
    writes as a float32) is widened as x86-64 and AArch64 do: payload shifted up, quiet bit set."""
    p &= 0xFFFFFFFF
    if (p >> 23) & 0xFF == 0xFF and p & 0x7FFFFF:
        return ((p >> 31) << 63) | (0x7FF << 52) | (1 << 51) | ((p & 0x7FFFFF) << 29)
    return double_bits(struct.unpack("<f", struct.pack("<I", p))[0])


# ---------------------------------------------------------------------------------------------------------------
# Blocks

class _Bits:
    """Reads a bit stream, most significant bit first; reading past the end is corruption."""

    def __init__(self, data: bytes, byte_offset: int):
        self.data = data
        self.pos = byte_offset * 8
        self.end = len(data) * 8

    def read(self, width: int) -> int:
        if width <= 0:
            return 0
        stop = self.pos + width
        if stop > self.end:
            raise CorruptBlob("blob: ends early")
        first, last = self.pos >> 3, (stop + 7) >> 3
        chunk = int.from_bytes(self.data[first:last], "big")
        self.pos = stop
        return (chunk >> (last * 8 - stop)) & ((1 << width) - 1)


def _read_dod(r: _Bits) -> int:
    if r.read(1) == 0:
        return 0
    if r.read(1) == 0:
        return unzigzag(r.read(8))
    if r.read(1) == 0:
        return unzigzag(r.read(14))
    if r.read(1) == 0:
        return unzigzag(r.read(24))
    return unzigzag(r.read(64))


def _read_integer(r: _Bits, last: int) -> int:
    if r.read(1) == 0:
        return last
    width = r.read(7)
    if width > 64:
        raise CorruptBlob("block integer width")
    return unzigzag(r.read(width))


def block_header(blob: bytes) -> tuple[bool, int, int]:
    """(has_counts, point count, offset of the bit stream) of a block."""
    if len(blob) < 3 or blob[0] != 1 or blob[1] > 1:
        raise CorruptBlob("block header")
    n, offset = read_leb128(blob, 2)
    if n > MAX_BLOCK_POINTS:
        raise CorruptBlob(f"block point count {n}")
    return blob[1] == 1, n, offset


def decode_block(blob: bytes) -> list[Point]:
    """The points of a `sample_blocks.data` blob, in order; raises CorruptBlob where the Swift decoder throws."""
    blob = bytes(blob)
    has_counts, n, offset = block_header(blob)
    r = _Bits(blob, offset)
    out: list[Point] = []
    t = delta = flags = vbits = 0
    leading = trailing = 0
    window = False
    count = expected = 0
    for i in range(n):
        if i == 0:
            t = to_int64(r.read(64))
        else:
            delta = to_int64(delta + _read_dod(r))
            t = to_int64(t + delta)
        if r.read(1):
            flags = r.read(8)
            if flags & 0x60:
                raise CorruptBlob("block flags")
        value = None
        if not flags & 0x80:
            if r.read(1):
                if r.read(1) == 0:
                    a = float32_exactly(vbits)
                    if a is None:
                        raise CorruptBlob("block float32 step")
                    if r.read(1) == 0:
                        z = r.read(8)
                    elif r.read(1) == 0:
                        z = r.read(16)
                    else:
                        z = r.read(33)
                    b = a + unzigzag(z)
                    if not 0 <= b <= 0xFFFFFFFF:
                        raise CorruptBlob("block float32 step")
                    vbits = float32_to_double_bits(b)
                elif r.read(1) == 0:
                    if not window:
                        raise CorruptBlob("block value window")
                    vbits ^= r.read(64 - leading - trailing) << trailing
                else:
                    leading = r.read(6)
                    length = r.read(6) + 1
                    if leading + length > 64:
                        raise CorruptBlob("block value length")
                    trailing = 64 - leading - length
                    window = True
                    vbits ^= r.read(length) << trailing
            value = bits_double(vbits)
        if has_counts:
            count = _read_integer(r, count)
            expected = _read_integer(r, expected)
        out.append(Point(t, value, flags & 0x1F, count, expected))
    return out


def block_has_counts(blob: bytes) -> bool:
    """Whether a block's points carry counts."""
    return block_header(bytes(blob))[0]


# ---------------------------------------------------------------------------------------------------------------
# Head batches

def decode_head(blob: bytes, only: Optional[set] = None) -> list[HeadRow]:
    """The rows of a `sample_head.data` blob, in order; raises CorruptBlob where the Swift decoder throws.
    `only`: return just the rows of these series ids (the others are still walked, and checked)."""
    blob = bytes(blob)
    if not blob or blob[0] != 1:
        raise CorruptBlob("head batch header")
    offset, t, size = 1, 0, len(blob)
    out: list[HeadRow] = []
    unpack_from = struct.unpack_from
    while offset < size:
        series, offset = read_leb128(blob, offset)
        series = to_int64(series)
        dt, offset = read_leb128(blob, offset)
        t = to_int64(t + unzigzag(dt))
        if offset >= size:
            raise CorruptBlob("head batch: ends early")
        flags = blob[offset]
        offset += 1
        wanted = only is None or series in only
        value = None
        if not flags & 0x80:
            width = 4 if flags & 0x20 else 8
            if offset + width > size:
                raise CorruptBlob("head batch: ends early")
            if not wanted:
                pass
            elif width == 4:
                value = bits_double(float32_to_double_bits(unpack_from("<I", blob, offset)[0]))
            else:
                value = unpack_from("<d", blob, offset)[0]
            offset += width
        count = expected = 0
        has_counts = bool(flags & 0x40)
        if has_counts:
            c, offset = read_leb128(blob, offset)
            e, offset = read_leb128(blob, offset)
            count, expected = unzigzag(c), unzigzag(e)
        if wanted:
            out.append(HeadRow(series, Point(t, value, flags & 0x1F, count, expected), has_counts))
    return out


def scan_head(blob: bytes) -> list[tuple[int, int]]:
    """(series, t) of each row of a head batch, without decoding values: for counting. Raises CorruptBlob where
    `decode_head` does."""
    blob = bytes(blob)
    if not blob or blob[0] != 1:
        raise CorruptBlob("head batch header")
    offset, t, size = 1, 0, len(blob)
    out: list[tuple[int, int]] = []
    append = out.append
    while offset < size:
        series = blob[offset]
        if series < 0x80:
            offset += 1
        else:
            series, offset = read_leb128(blob, offset)
            if series >> 63:
                series -= 1 << 64
        dt = blob[offset] if offset < size else 0x80
        if dt < 0x80:
            offset += 1
        else:
            dt, offset = read_leb128(blob, offset)
        t += (dt >> 1) ^ -(dt & 1)
        if not INT64_MIN <= t < -INT64_MIN:
            t = to_int64(t)
        if offset >= size:
            raise CorruptBlob("head batch: ends early")
        flags = blob[offset]
        offset += 1
        if not flags & 0x80:
            offset += 4 if flags & 0x20 else 8
            if offset > size:
                raise CorruptBlob("head batch: ends early")
        if flags & 0x40:
            _, offset = read_leb128(blob, offset)
            _, offset = read_leb128(blob, offset)
        append((series, t))
    return out


def encode_head(rows: Iterable) -> bytes:
    """A head batch as synxd's HeadBatch.encode writes it. Each row is (series, t, value, flags) or
    (series, t, value, flags, count, expected) — the latter a point with counts (a 3-s aggregate) — or a HeadRow.
    A value is stored as float32 when it is one exactly (never a NaN), else as float64 with its bits as given."""
    out = bytearray(b"\x01")
    last = 0
    for row in rows:
        if isinstance(row, HeadRow):
            p = row.point
            series, t, value, flags, counts = row.series, p.t, p.value, p.flags, ((p.count, p.expected) if row.has_counts else None)
        else:
            series, t, value, flags = row[:4]
            counts = (row[4], row[5]) if len(row) > 4 else None
        out += leb128(series)
        out += leb128(zigzag(t - last))
        last = t
        f = flags & 0x1F
        if counts is not None:
            f |= 0x40
        if value is None:
            out.append(f | 0x80)
        else:
            vbits = double_bits(float(value))
            f32 = float32_exactly(vbits)
            if f32 is not None:
                out.append(f | 0x20)
                out += struct.pack("<I", f32)
            else:
                out.append(f)
                out += struct.pack("<Q", vbits)
        if counts is not None:
            out += leb128(zigzag(counts[0]))
            out += leb128(zigzag(counts[1]))
    return bytes(out)


# ---------------------------------------------------------------------------------------------------------------
# The store

class _Snapshot:
    """Runs the reads inside it in one read transaction (one snapshot of the store), unless the connection is
    in a transaction already."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.mine = False

    def __enter__(self):
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")
            self.mine = True
        return self.conn

    def __exit__(self, *exc):
        if self.mine:
            self.conn.execute("COMMIT")
        return False


def _block_last(conn: sqlite3.Connection) -> dict[int, int]:
    """Per series, last_t (INT64_MIN when NULL)."""
    return {sid: (INT64_MIN if last is None else last) for sid, last in conn.execute("SELECT id, last_t FROM series")}


def _as_tuple(p: Point, has_counts: bool) -> tuple:
    return (p.t, p.value, p.flags, p.count, p.expected) if has_counts else (p.t, p.value, p.flags)


def series_id(conn: sqlite3.Connection, meter: str, measurement: str, tier: str = "") -> Optional[int]:
    """The id of a series, or None."""
    row = conn.execute("SELECT id FROM series WHERE meter = ? AND measurement = ? AND tier = ?",
                       (meter, measurement, tier)).fetchone()
    return None if row is None else row[0]


def points_of_series(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, list[tuple]]:
    """The points of several series by id, in one snapshot, reading the head once: {id: points sorted by t}.
    A point is (t, value_or_None, flags), or (t, value_or_None, flags, count, expected) where it carries counts
    (its block's flag, its head row's bit 6). Unconverted rows of version 7 are not included."""
    wanted = list(dict.fromkeys(ids))
    out: dict[int, list[tuple]] = {sid: [] for sid in wanted}
    if not wanted:
        return out
    with _Snapshot(conn):
        last = {sid: INT64_MIN for sid in wanted}
        marks = ",".join("?" * len(wanted))
        last.update({sid: (INT64_MIN if t is None else t)
                     for sid, t in conn.execute(f"SELECT id, last_t FROM series WHERE id IN ({marks})", wanted)})
        seqs = [seq for (seq,) in conn.execute("SELECT seq FROM block_cuts ORDER BY first_t")]
        for sid in wanted:
            for seq in seqs:
                row = conn.execute("SELECT data FROM sample_blocks WHERE id = ?", (seq * MAX_SERIES + sid,)).fetchone()
                if row is not None:
                    counts = block_has_counts(row[0])
                    out[sid] += [_as_tuple(p, counts) for p in decode_block(row[0])]
        for (data,) in conn.execute("SELECT data FROM sample_head ORDER BY id"):
            for r in decode_head(data, only=out.keys()):
                if r.point.t > last[r.series]:
                    out[r.series].append(_as_tuple(r.point, r.has_counts))
    for points in out.values():
        points.sort(key=lambda p: p[0])
    return out


def series_points(conn: sqlite3.Connection, meter: str, measurement: str, tier: str = "") -> list[tuple]:
    """The points of one series (tier '' polled samples, '3s' meter-derived 3-s aggregates), sorted by t, as
    StoreReader.points reads them: its blocks, plus its head points after its last_t. A point is
    (t, value_or_None, flags) or, where it carries counts, (t, value_or_None, flags, count, expected).
    An unknown series has none; unconverted rows of version 7 (samples_v7, 3-s rows of derived_aggregates) are
    not included."""
    with _Snapshot(conn):
        sid = series_id(conn, meter, measurement, tier)
        return [] if sid is None else points_of_series(conn, [sid])[sid]


def series_stats(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, tuple[int, Optional[int]]]:
    """Per series id: (points stored, latest t or None), counted like `point_count` but without decoding blocks
    (their count and last_t columns); unconverted rows of samples_v7 included."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    with _Snapshot(conn):
        marks = ",".join("?" * len(wanted))
        last = {sid: INT64_MIN for sid in wanted}
        last.update({sid: (INT64_MIN if t is None else t)
                     for sid, t in conn.execute(f"SELECT id, last_t FROM series WHERE id IN ({marks})", wanted)})
        n = {sid: 0 for sid in wanted}
        latest: dict[int, Optional[int]] = {sid: None for sid in wanted}
        for sid, c, t in conn.execute(f"SELECT id & {MAX_SERIES - 1}, sum(count), max(last_t) FROM sample_blocks "
                                      f"WHERE id & {MAX_SERIES - 1} IN ({marks}) GROUP BY 1", wanted):
            n[sid] += c
            latest[sid] = t
        for (data,) in conn.execute("SELECT data FROM sample_head"):
            for sid, t in scan_head(data):
                if sid in n and t > last[sid]:
                    n[sid] += 1
                    if latest[sid] is None or t > latest[sid]:
                        latest[sid] = t
        if _has_table(conn, "samples_v7"):
            for sid, c, t in conn.execute(f"SELECT series, count(*), max(t) FROM samples_v7 WHERE series IN ({marks}) "
                                          "GROUP BY series", wanted):
                n[sid] += c
                latest[sid] = t if latest[sid] is None else max(latest[sid], t)
    return {sid: (n[sid], latest[sid]) for sid in wanted}


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0] > 0


def point_count(conn: sqlite3.Connection, where_series_sql: Optional[str] = None, params: Iterable = ()) -> int:
    """Points the store holds, counted as StoreReader.storedPointCount does: sample_blocks.count, plus head points
    after their series' last_t, plus rows of samples_v7 (when it exists), plus 3-s rows of derived_aggregates (not
    yet converted). With `where_series_sql` (a SELECT of series ids, with `params`), only those series' points:
    blocks, head and samples_v7 rows; unconverted 3-s rows of derived_aggregates have no series id and are then
    left out."""
    params = tuple(params)
    with _Snapshot(conn):
        if where_series_sql is None:
            ids = None
            n = conn.execute("SELECT coalesce(sum(count), 0) FROM sample_blocks").fetchone()[0]
        else:
            ids = {sid for (sid,) in conn.execute(where_series_sql, params)}
            n = conn.execute(f"SELECT coalesce(sum(count), 0) FROM sample_blocks WHERE id & {MAX_SERIES - 1} IN "
                             f"({where_series_sql})", params).fetchone()[0]
        last = _block_last(conn)
        for (data,) in conn.execute("SELECT data FROM sample_head"):
            for sid, t in scan_head(data):
                if (ids is None or sid in ids) and t > last.get(sid, INT64_MIN):
                    n += 1
        if _has_table(conn, "samples_v7"):
            if ids is None:
                n += conn.execute("SELECT count(*) FROM samples_v7").fetchone()[0]
            else:
                n += conn.execute(f"SELECT count(*) FROM samples_v7 WHERE series IN ({where_series_sql})", params).fetchone()[0]
        if ids is None:
            n += conn.execute("SELECT count(*) FROM derived_aggregates WHERE tier = '3s'").fetchone()[0]
    return n


def series_last_time(conn: sqlite3.Connection, sid: int) -> Optional[int]:
    """The latest time stored in a series (blocks' last_t, head, samples_v7), or None: a point appended to the head
    must come after it, or synxd drops it when it replays the head."""
    return series_stats(conn, [sid])[sid][1]


def append_head(conn: sqlite3.Connection, rows: list, before: bool = False) -> int:
    """Appends ONE row to sample_head holding `rows` (see `encode_head`), as synxd writes a commit, and returns
    its id. Each series' rows must be in time order and after what the series holds (`series_last_time`); the
    series must exist in `series` (tier '' for samples, '3s' for points with counts).

    `before`: give the batch an id below every stored batch instead, so a replay meets it first: for points
    older than the head's points of the same series (synxd drops a head point not after the series' latest
    point replayed so far). Not in a transaction of its own: the caller commits."""
    blob = encode_head(rows)
    if before:
        cur = conn.execute("INSERT INTO sample_head (id, rows, data) VALUES "
                           "((SELECT coalesce(min(id), 1) - 1 FROM sample_head), ?, ?)", (len(rows), blob))
    else:
        cur = conn.execute("INSERT INTO sample_head (rows, data) VALUES (?, ?)", (len(rows), blob))
    return cur.lastrowid
