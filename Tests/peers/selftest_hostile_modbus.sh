#!/usr/bin/env bash
# Self-check of hostile_modbus.py: starts the peer in several modes (TCP, and RTU over a socat pty pair) and
# checks its answers with mbpoll and, for what mbpoll cannot show (raw bytes, timing, connection-level
# modes), a small standard-library Python client. Kills every process it starts; exits non-zero on any
# failure. Usage: Tests/peers/selftest_hostile_modbus.sh   (needs python3, mbpoll, socat)
#
# Note: the peer's floats are high word first; mbpoll's default float word order is low word first, so the
# float reads below pass -B.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
PEER="$HERE/hostile_modbus.py"
D=$(mktemp -d /tmp/hostile_selftest.XXXXXX)
PIDS=()
PASSED=0
FAILED=0

cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()   { PASSED=$((PASSED + 1)); echo "ok   $*"; }
bad()  { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
check() {  # check DESCRIPTION COMMAND...: passes when the command succeeds
    local what=$1; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# start_peer NAME ARGS...: starts the peer, waits for `ready`; sets PEER_PID, and PORT for --tcp
start_peer() {
    local name=$1; shift
    python3 "$PEER" "$@" >"$D/$name.out" 2>"$D/$name.err" &
    PEER_PID=$!
    PIDS+=("$PEER_PID")
    local i
    for i in $(seq 100); do
        grep -qx ready "$D/$name.out" 2>/dev/null && break
        kill -0 "$PEER_PID" 2>/dev/null || break
        sleep 0.05
    done
    if ! grep -qx ready "$D/$name.out"; then
        bad "$name: peer did not get ready: $(cat "$D/$name.err")"
        return 1
    fi
    PORT=$(sed -n 's/^tcp .*:\([0-9][0-9]*\)$/\1/p' "$D/$name.out")
}

# stop_peer NAME PID: SIGTERM; the peer must exit 0 within 2 s
stop_peer() {
    local name=$1 pid=$2 i
    kill -TERM "$pid"
    for i in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then bad "$name: still running 2 s after SIGTERM"; kill -KILL "$pid"; fi
    wait "$pid"
    local rc=$?
    if [ "$rc" -eq 0 ]; then ok "$name: exits 0 on SIGTERM"; else bad "$name: exit status $rc after SIGTERM"; fi
    if grep -q Traceback "$D/$name.err"; then bad "$name: traceback on stderr: $(cat "$D/$name.err")"; fi
}

# mb EXPECT ARGS...: mbpoll -1 ARGS; its output (stdout+stderr) must contain every line of EXPECT (grep -F)
mb() {
    local expect=$1; shift
    local out
    out=$(mbpoll -1 "$@" 2>&1)
    local line
    while IFS= read -r line; do
        [ -z "$line" ] && continue
        if ! grep -qF -- "$line" <<<"$out"; then
            echo "     mbpoll $*: expected «$line» in:"; sed -n '/Polling/,$p' <<<"$out" | sed 's/^/       /'
            return 1
        fi
    done <<<"$expect"
}

# The raw client: python3 $D/raw.py CHECK ARGS... (exit 0: passed)
cat >"$D/raw.py" <<'PY'
import math, os, random, select, socket, struct, sys, time

def crc16(data):
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c

def tcp(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def req(tid, unit, fc=3, addr=0, count=2):
    return struct.pack(">HHHBBHH", tid, 0, 6, unit, fc, addr, count)

def recv_exactly(s, n, timeout=2.0):
    s.settimeout(timeout)
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out

def recv_for(s, seconds):
    s.settimeout(0.05)
    out, end = b"", time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        out += chunk
    return out

def f32(hi, lo):
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]

def fail(msg):
    print("     " + msg)
    sys.exit(1)

def read_regs(port, unit, addr, count, fc=4):
    s = tcp(port)
    s.sendall(req(7, unit, fc, addr, count))
    head = recv_exactly(s, 9)
    if len(head) < 9 or head[7] != fc:
        fail(f"read {unit}/{addr}/{count}: header {head.hex()}")
    body = recv_exactly(s, head[8])
    s.close()
    return list(struct.unpack(f">{count}H", body))

check, args = sys.argv[1], sys.argv[2:]

if check == "header":                      # header PORT MODE
    port, mode = int(args[0]), args[1]
    s = tcp(port)
    s.sendall(req(0x1234, 1))
    r = recv_exactly(s, 7 + 6)
    tid, proto, length, unit = struct.unpack(">HHHB", r[:7])
    body = r[7:]
    good_body = body[:2] == b"\x03\x04" and f32(*struct.unpack(">HH", body[2:6])) == 230.0
    expected = {"wrong-tid": (0x1235, 0, 7), "bad-protocol": (0x1234, 0x1234, 7), "bad-mbap-length": (0x1234, 0, 0xFF)}[mode]
    if (tid, proto, length) != expected or unit != 1 or not good_body:
        fail(f"{mode}: got tid {tid:#x} proto {proto:#x} length {length} unit {unit} body {body.hex()}")
    # any unit asked answers
    s.sendall(req(0x2000, 77))
    r = recv_exactly(s, 13)
    if len(r) != 13 or r[6] != 77:
        fail(f"{mode}: unit 77 not answered: {r.hex()}")

elif check == "flood-frames":              # flood-frames PORT
    s = tcp(int(args[0]))
    data = recv_exactly(s, 11 * 5000)
    frame = struct.pack(">HHHBBBH", 0xBEEF, 0, 5, 1, 3, 2, 999)
    if len(data) != 55000 or data != frame * 5000:
        fail(f"flood-frames: {len(data)} bytes, starting {data[:24].hex()}")
    s.close()

elif check == "flood-random":              # flood-random PORT
    s = tcp(int(args[0]))
    data = recv_exactly(s, 200000)
    if len(data) != 200000 or len(set(data)) < 200:
        fail(f"flood-random: {len(data)} bytes, {len(set(data))} distinct values")
    s.close()

elif check == "early-forged":              # early-forged PORT
    s = tcp(int(args[0]))
    data = recv_exactly(s, 40 * 29)
    for i in range(40):
        tid, proto, length, unit, fc, n = struct.unpack(">HHHBBB", data[29 * i:29 * i + 9])
        values = struct.unpack(">5f", data[29 * i + 9:29 * i + 29])
        if (tid, proto, length, unit, fc, n) != (i // 2 + 1, 0, 23, 1, 3 + i % 2, 20) or values != (998.0,) * 5:
            fail(f"early-forged: frame {i}: {data[29 * i:29 * i + 29].hex()}")
    s.sendall(req(21, 1, 4, 0, 2))
    r = recv_exactly(s, 13)
    if r[:2] != b"\x00\x15" or f32(*struct.unpack(">HH", r[9:13])) != 230.0:
        fail(f"early-forged: then not healthy: {r.hex()}")

elif check == "accept-close":              # accept-close PORT
    s = tcp(int(args[0]))
    if recv_exactly(s, 1) != b"":
        fail("accept-close: data instead of EOF")

elif check == "accept-rst":                # accept-rst PORT
    try:
        s = tcp(int(args[0]))                # the reset may already hit connect()
        time.sleep(0.1)
        s.recv(1)
        fail("accept-rst: no reset")
    except ConnectionResetError:
        pass

elif check == "frames":                    # frames PORT: byte-exact replies of several modes
    port = int(args[0])
    s = tcp(port)
    def ask(unit, addr=0, count=2, fc=3):
        s.sendall(req(5, unit, fc, addr, count))
        return recv_for(s, 0.25)
    r = ask(1)
    if r != bytes.fromhex("00050000000701030443660000"):
        fail(f"healthy: {r.hex()}")
    r = ask(7)                              # bytecount: byte count 6 for 4 data bytes, MBAP length consistent
    if r != bytes.fromhex("00050000000707030643660000"):
        fail(f"bytecount: {r.hex()}")
    r = ask(6)                              # wrong-unit
    if r != bytes.fromhex("00050000000707030443660000"):
        fail(f"wrong-unit: {r.hex()}")
    r = ask(12)                             # wrong-function
    if r != bytes.fromhex("000500000007" "0c" "10" "04" "43660000"):
        fail(f"wrong-function: {r.hex()}")
    r = ask(2)                              # exception:0
    if r != bytes.fromhex("000500000003028300"):
        fail(f"exception:0: {r.hex()}")
    g1 = ask(8)                             # garbage: 9 bytes
    if len(g1) != 9:
        fail(f"garbage: {g1.hex()}")
    r = ask(15)                             # overlong: frame + 20 bytes
    if len(r) != 13 + 20 or r[:13] != bytes.fromhex("0005000000070f030443660000"):
        fail(f"overlong: {r.hex()}")
    r = ask(11)                             # partial: first half
    if r != bytes.fromhex("000500000007"):
        fail(f"partial: {r.hex()}")
    s.close()
    s = tcp(port)                           # split: two writes 30 ms apart
    s.sendall(req(5, 10))
    first = s.recv(100)
    t0 = time.monotonic()
    rest = recv_exactly(s, 13 - len(first))
    if first + rest != bytes.fromhex("0005000000070a030443660000") or len(first) != 6 or time.monotonic() - t0 < 0.02:
        fail(f"split: {first.hex()} + {rest.hex()}")
    s.sendall(req(5, 9))                    # dribble:20: one byte per write
    t0 = time.monotonic()
    got = []
    while sum(map(len, got)) < 13:
        got.append(s.recv(100))
    if b"".join(got) != bytes.fromhex("00050000000709030443660000") or time.monotonic() - t0 < 0.2 or len(got) < 8:
        fail(f"dribble: {[g.hex() for g in got]} in {time.monotonic() - t0:.3f} s")
    # late:300 does not hold back the next request: unit 1 first, then the late one (value 999, its tid)
    s.sendall(req(40, 4) + req(41, 1))
    a = recv_exactly(s, 13); b = recv_exactly(s, 13)
    if a[:2] != b"\x00\x29" or b[:2] != b"\x00\x28" or f32(*struct.unpack(">HH", b[9:13])) != 999.0:
        fail(f"late ordering: {a.hex()} then {b.hex()}")
    s.close()

elif check == "garbage-seed":              # garbage-seed PORT: what unit 8 garbles, as hex
    s = tcp(int(args[0]))
    s.sendall(req(5, 8))
    print(recv_exactly(s, 9).hex())

elif check == "fuzz":                      # fuzz PORT: junk must not hurt the peer
    port = int(args[0])
    rng = random.Random(1)
    for i in range(30):
        s = tcp(port)
        try:
            if i % 3 == 0:
                s.sendall(rng.randbytes(rng.randint(1, 5000)))
            elif i % 3 == 1:                 # well-framed MBAP with random PDUs, incl. odd functions
                for _ in range(20):
                    pdu = rng.randbytes(rng.randint(1, 10))
                    s.sendall(struct.pack(">HHHB", rng.randint(0, 65535), 0, len(pdu) + 1, 1) + pdu)
            else:                             # reads of every odd range
                for addr, count in ((0, 0), (0, 126), (199, 1), (199, 2), (65535, 125), (0, 65535)):
                    s.sendall(req(1, 1, 4, addr, count))
            recv_for(s, 0.05)
        except OSError:
            pass
        s.close()
    r = read_regs(port, 1, 0, 2)
    if f32(*r) != 230.0:
        fail(f"fuzz: peer no longer healthy: {r}")

elif check == "waveform":                  # waveform PORT UNIT
    port, unit = int(args[0]), int(args[1])
    cap = read_regs(port, unit, 5000, 52)
    if cap[:8] != [0x5751, 1, 4, 20, 0, 6400, 50, 256]:
        fail(f"capability {cap[:8]}")
    epoch = (cap[8] << 48) | (cap[9] << 32) | (cap[10] << 16) | cap[11]
    if abs(epoch / 1e6 - time.time()) > 60:
        fail(f"epoch {epoch}")
    kinds = [(cap[20 + 4 * c], cap[21 + 4 * c], round(f32(cap[22 + 4 * c], cap[23 + 4 * c]), 6)) for c in range(4)]
    if kinds != [(0, 1, 0.02), (0, 2, 0.02), (0, 3, 0.02), (1, 1, 0.001)]:
        fail(f"channels {kinds}")
    n1 = (cap[12] << 16) | cap[13]
    time.sleep(0.5)
    cap2 = read_regs(port, unit, 5012, 2)
    n2 = (cap2[0] << 16) | cap2[1]
    if not 140 <= n2 - n1 <= 400:
        fail(f"newest {n1} then {n2} 0.5 s later")
    slot = read_regs(port, unit, 6000 + (n2 % 256) * 82, 82)
    if (slot[0] << 16 | slot[1]) != n2:
        fail(f"slot of block {n2} holds {slot[0] << 16 | slot[1]}")
    samples = [v - 65536 if v >= 32768 else v for v in slot[2:]]
    for s_ in range(20):
        k = n2 * 20 + s_
        for c, (phase, scale, rms) in enumerate([(1, .02, 230), (2, .02, 230), (3, .02, 230), (1, .001, 10)]):
            want = round(rms * math.sqrt(2) * math.sin(2 * math.pi * (k % 128) / 128 - (phase - 1) * 2 * math.pi / 3) / scale)
            if samples[s_ * 4 + c] != want:
                fail(f"block {n2} sample {s_} channel {c}: {samples[s_ * 4 + c]} != {want}")
    if read_regs(port, unit, 65500, 36) != [0] * 36 or read_regs(port, unit, 0, 125) != [0] * 125:
        fail("registers outside the interface are not 0")

elif check == "waveform-stuck":            # waveform-stuck PORT UNIT
    port, unit = int(args[0]), int(args[1])
    time.sleep(0.1)
    a = read_regs(port, unit, 5012, 2); time.sleep(0.3); b = read_regs(port, unit, 5012, 2)
    if a != [0, 0] or b != [0, 0]:
        fail(f"stuck: {a} then {b}")

elif check == "waveform-lie":              # waveform-lie PORT UNIT OFFSET VALUE...: capability registers
    port, unit, offset = int(args[0]), int(args[1]), int(args[2])
    want = [int(v, 0) for v in args[3:]]
    got = read_regs(port, unit, 5000 + offset, len(want))
    if got != want:
        fail(f"capability at {5000 + offset}: {got} != {want}")

elif check.startswith("rtu-"):              # rtu-* DEV: Modbus RTU over the pty
    fd = os.open(args[0], os.O_RDWR | os.O_NOCTTY)
    import tty; tty.setraw(fd)
    def send(unit, fc=4, addr=0, count=2, prefix=b""):
        body = struct.pack(">BBHH", unit, fc, addr, count)
        c = crc16(body)
        os.write(fd, prefix + body + bytes([c & 0xFF, c >> 8]))
    def read_for(seconds):
        out, end = b"", time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if select.select([fd], [], [], left)[0]:
                out += os.read(fd, 4096)
        return out
    def frame_ok(f):
        return len(f) >= 4 and crc16(f[:-2]) == f[-2] | f[-1] << 8
    read_for(0.1)                            # drain
    if check == "rtu-late-as":               # unit 3 = late-as:300,1; unit 1 healthy answered meanwhile
        t0 = time.monotonic()
        send(3)
        time.sleep(0.05)
        send(1)
        first = read_for(0.2)
        late = read_for(0.4)
        if not (frame_ok(first) and first[0] == 1 and f32(*struct.unpack(">HH", first[3:7])) == 230.0):
            fail(f"healthy reply meanwhile: {first.hex()}")
        if not (frame_ok(late) and late[0] == 1 and f32(*struct.unpack(">HH", late[3:7])) == 999.0):
            fail(f"late-as reply: {late.hex()}")
    elif check == "rtu-resync":              # junk, then a request: still answered
        send(1, prefix=bytes([0x01, 0x03, 0xFF, 0x00, 0x55, 0x01]))
        r = read_for(0.3)
        if not (frame_ok(r) and r[:3] == b"\x01\x04\x04" and f32(*struct.unpack(">HH", r[3:7])) == 230.0):
            fail(f"after junk: {r.hex()}")
    elif check == "rtu-crc":                 # unit 2 = crc
        send(2)
        r = read_for(0.3)
        if len(r) != 9 or frame_ok(r) or r[:3] != b"\x02\x04\x04":
            fail(f"crc: {r.hex()}")
    elif check == "rtu-pace":                # 1.04 ms a byte: 9 bytes take >= 8 ms
        t0 = time.monotonic()
        send(1)
        r = b""
        while len(r) < 9 and time.monotonic() - t0 < 1:
            if select.select([fd], [], [], 0.5)[0]:
                r += os.read(fd, 100)
        took = time.monotonic() - t0
        if not frame_ok(r) or took < 0.008:
            fail(f"paced reply {r.hex()} in {took * 1000:.1f} ms")
    elif check == "rtu-noise":               # noise:50 with no request at all
        r = read_for(1.0)
        if len(r) < 10:
            fail(f"noise: only {len(r)} bytes in 1 s")
    os.close(fd)
elif check == "schedule":                  # schedule PORT: unit 1 healthy, exception 4 from 1.0 to 2.0 s, healthy again
    port, t0 = int(args[0]), float(args[1])
    def answer():
        s = tcp(port)
        s.sendall(req(3, 1, 4, 0, 2))
        r = recv_exactly(s, 9)
        s.close()
        return "exception" if len(r) == 9 and r[7] == 0x84 and r[8] == 4 else "value" if len(r) == 9 and r[7] == 4 else r.hex()
    seen = []
    for at in (0.5, 1.5, 2.5):                 # seconds after the peer started
        time.sleep(max(0.0, t0 + at - time.time()))
        seen.append(answer())
    if seen != ["value", "exception", "value"]:
        fail(f"schedule: at 0.5, 1.5, 2.5 s: {seen}")
elif check == "close":                     # close PORT: unit 2 drops the connection, unit 1 answers on a new one
    port = int(args[0])
    s = tcp(port)
    s.sendall(req(5, 1, 4, 0, 2))
    if len(recv_exactly(s, 13)) != 13:
        fail("close: unit 1 not answered first")
    s.sendall(req(6, 2, 4, 0, 2))
    if recv_exactly(s, 1) != b"":
        fail("close: unit 2 answered instead of closing")
    if len(read_regs(port, 1, 0, 2)) != 2:
        fail("close: unit 1 not answered on a new connection")
elif check == "sunspec-vary":              # sunspec-vary PORT UNIT: sf change every read, values never do
    port, unit = int(args[0]), int(args[1])
    def scaled(raw, sf):
        return (raw - 65536 if raw > 32767 else raw) * 10.0 ** (sf - 65536 if sf > 32767 else sf)
    seen = set()
    for _ in range(4):
        r = read_regs(port, unit, 40004, 16)
        seen.add((r[4], r[13], r[15]))
        values = (round(scaled(r[0], r[4]), 6), round(scaled(r[5], r[13]), 6), round(scaled(r[14], r[15]), 6))
        if values != (10.0, 230.0, 50.0):
            fail(f"sunspec-vary: A, V, Hz = {values} from {r}")
    if len(seen) != 2:
        fail(f"sunspec-vary: scale factors seen {seen}")
    head = read_regs(port, unit, 40000, 4)
    end = read_regs(port, unit, 40109, 2)
    if head != [0x5375, 0x6E53, 203, 105] or end != [0xFFFF, 0]:
        fail(f"sunspec-vary: layout {head} {end}")
else:
    fail(f"unknown check {check}")
PY
raw() { python3 "$D/raw.py" "$@"; }

echo "== docstring lists every mode"
check "every mode of the tables is in the module docstring" python3 -B -c "
import sys; sys.path.insert(0, '$HERE'); import hostile_modbus as h
missing = [m for t in (h.UNIT_MODES, h.WAVEFORM_MODES) for m in t if m not in h.__doc__]
sys.exit(print('missing:', missing) or 1 if missing else 0)"
check "bad arguments exit 2" bash -c "python3 '$PEER' --tcp 127.0.0.1:0 --unit 1=crc 2>/dev/null; [ \$? -eq 2 ]"

echo "== TCP, polled units"
start_peer tcp --tcp 127.0.0.1:0 --seed 7 --unit 1=healthy --unit 2=exception:0 --unit 3=absurd:3.4e38 \
    --unit 4=late:300 --unit 5=silent --unit 6=wrong-unit --unit 7=bytecount --unit 8=garbage \
    --unit 9=dribble:20 --unit 10=split --unit 11=partial --unit 12=wrong-function --unit 13=exception:2 \
    --unit 15=overlong --unit 16=absurd:nan --unit 17=absurd:-inf \
    --unit 20=sunspec-sf:-10 --unit 21=sunspec-past-end --unit 22=sunspec-loop \
    --waveform 30=healthy --waveform 31=stuck --waveform 32=epoch:year9999 --waveform 33=rate:4294967295 \
    --waveform 34=scale:nan --waveform 35=bad-magic && TCP_PID=$PEER_PID && {
    T="-m tcp -p $PORT"
    check "tcp line is 'tcp 127.0.0.1:PORT'" grep -qx "tcp 127.0.0.1:$PORT" "$D/tcp.out"
    check "healthy: holding floats" mb $'[1]: \t230\n[3]: \t50\n[5]: \t10\n[7]: \t0.95\n[9]: \t2185' $T -a 1 -t 4:float -B -r 1 -c 5 127.0.0.1
    check "healthy: input floats" mb $'[1]: \t230\n[3]: \t50' $T -a 1 -t 3:float -B -r 1 -c 2 127.0.0.1
    check "healthy: registers 11..200 zero" mb $'[11]: \t0\n[20]: \t0' $T -a 1 -t 3 -r 11 -c 10 127.0.0.1 && mb $'[76]: \t0\n[200]: \t0' $T -a 1 -t 3 -r 76 -c 125 127.0.0.1
    check "healthy: read past 199 -> exception 2" mb "Illegal data address" $T -a 1 -t 3 -r 200 -c 2 127.0.0.1
    check "exception:2" mb "Illegal data address" $T -a 13 -t 3 -r 1 -c 2 127.0.0.1
    check "absurd:3.4e38" mb $'[1]: \t3.4e+38\n[9]: \t3.4e+38' $T -a 3 -t 4:float -B -r 1 -c 5 127.0.0.1
    check "absurd:nan" mb $'[1]: \tnan' $T -a 16 -t 4:float -B -r 1 -c 2 127.0.0.1
    check "absurd:-inf" mb $'[1]: \t-inf' $T -a 17 -t 4:float -B -r 1 -c 2 127.0.0.1
    check "late:300 within a 1 s timeout: 999" mb $'[1]: \t999' $T -a 4 -o 1 -t 4:float -B -r 1 -c 2 127.0.0.1
    check "late:300 with a 0.1 s timeout: timeout" mb "Connection timed out" $T -a 4 -o 0.1 -t 4:float -B -r 1 -c 2 127.0.0.1
    check "dribble:20 still a correct reply" mb $'[1]: \t230' $T -a 9 -t 4:float -B -r 1 -c 2 127.0.0.1
    check "split still a correct reply" mb $'[1]: \t230' $T -a 10 -t 4:float -B -r 1 -c 2 127.0.0.1
    check "partial: timeout" mb "Connection timed out" $T -a 11 -o 0.3 -t 4 -r 1 -c 2 127.0.0.1
    for u in 5 99; do
        t0=$(now_ms)
        check "silent unit $u: timeout" mb "Connection timed out" $T -a $u -o 0.5 -t 3 -r 1 -c 2 127.0.0.1
        dt=$(( $(now_ms) - t0 ))
        check "silent unit $u: mbpoll waited its 0.5 s timeout (${dt} ms)" test "$dt" -ge 450
    done
    check "byte-exact replies (healthy, bytecount, wrong-unit, wrong-function, exception:0, garbage, overlong, partial, split, dribble, late ordering)" raw frames "$PORT"
    g1=$(raw garbage-seed "$PORT"); g2=$(raw garbage-seed "$PORT")
    check "garbage: 9 bytes, from the seeded generator ($g1, $g2)" test "${#g1}" -eq 18 -a "$g1" != "$g2"
    check "sunspec-sf:-10: marker, header, A, A_SF, V, V_SF, Hz, Hz_SF" mb $'[40001]: \t21365\n[40002]: \t28243\n[40003]: \t203\n[40004]: \t105\n[40005]: \t100\n[40009]: \t65535 (-1)\n[40010]: \t2300\n[40018]: \t65526 (-10)\n[40019]: \t5000\n[40020]: \t65526 (-10)' $T -a 20 -t 4 -r 40001 -c 20 127.0.0.1
    check "sunspec-sf: end model at 40109" mb $'[40109]: \t65535 (-1)\n[40110]: \t0' $T -0 -a 20 -t 4 -r 40109 -c 2 127.0.0.1
    check "sunspec-past-end: model 1 L=25531 at 40002" mb $'[40002]: \t1\n[40003]: \t25531' $T -0 -a 21 -t 4 -r 40002 -c 2 127.0.0.1
    check "sunspec-past-end: [203, 105] at 65535" mb $'[65535]: \t203\n[65536]: \t105' $T -0 -a 21 -t 4 -r 65535 -c 2 127.0.0.1
    check "sunspec-past-end: marker at 0 -> exception 2" mb "Illegal data address" $T -0 -a 21 -t 4 -r 0 -c 2 127.0.0.1
    check "sunspec-past-end: marker at 50000 -> exception 2" mb "Illegal data address" $T -0 -a 21 -t 4 -r 50000 -c 2 127.0.0.1
    check "sunspec-loop: model 120 at 40070 with L=65466" mb $'[40070]: \t120\n[40071]: \t65466 (-70)' $T -0 -a 22 -t 4 -r 40070 -c 2 127.0.0.1
    check "waveform: capability block (mbpoll -t 3 -r 5001 -c 14)" mb $'[5001]: \t22353\n[5002]: \t1\n[5003]: \t4\n[5004]: \t20\n[5005]: \t0\n[5006]: \t6400\n[5007]: \t50\n[5008]: \t256' $T -a 30 -t 3 -r 5001 -c 14 127.0.0.1
    check "waveform: channel descriptors" mb $'[5021]: \t0\n[5022]: \t1\n[5033]: \t1\n[5034]: \t1' $T -a 30 -t 3 -r 5021 -c 16 127.0.0.1
    check "waveform: epoch, sequence pace, FIFO slot contents, zeros elsewhere" raw waveform "$PORT" 30
    check "waveform stuck: newest stays 0" raw waveform-stuck "$PORT" 31
    check "waveform epoch:year9999" raw waveform-lie "$PORT" 32 8 0x0384 0x440C 0xCC64 0x1DC0
    check "waveform rate:4294967295" raw waveform-lie "$PORT" 33 4 0xFFFF 0xFFFF
    check "waveform scale:nan" raw waveform-lie "$PORT" 34 22 0x7FC0 0
    check "waveform bad-magic" raw waveform-lie "$PORT" 35 0 0x5157 1
    check "fuzz: junk, odd PDUs and odd ranges leave the peer healthy" raw fuzz "$PORT"
    check "tcp peer still running" kill -0 "$TCP_PID"
    check "stdout holds only the two ready lines" test "$(wc -l <"$D/tcp.out")" -eq 2
    stop_peer tcp "$TCP_PID"
}

echo "== TCP, connection modes"
for mode in wrong-tid bad-protocol bad-mbap-length flood-frames flood-random early-forged accept-close accept-rst; do
    start_peer "$mode" --tcp 127.0.0.1:0 --unit "1=$mode" || continue
    pid=$PEER_PID
    case $mode in
        wrong-tid|bad-protocol|bad-mbap-length) check "$mode" raw header "$PORT" "$mode" ;;
        *) check "$mode" raw "$mode" "$PORT"; check "$mode (second connection)" raw "$mode" "$PORT" ;;
    esac
    stop_peer "$mode" "$pid"
done

echo "== TCP, modes the reliability campaigns rotate (--schedule, close, sunspec-vary)"
echo '[{"unit": 1, "mode": "exception:4", "from_s": 1.0, "until_s": 2.0}]' >"$D/schedule.json"
echo '[{"unit": 1, "mode": "noise:5", "from_s": 1, "until_s": 2}]' >"$D/schedule-bad.json"
check "a schedule with a mode that cannot rotate exits 2" bash -c "python3 '$PEER' --tcp 127.0.0.1:0 --unit 1=healthy --schedule '$D/schedule-bad.json' 2>/dev/null; [ \$? -eq 2 ]"
t_start=$(date +%s.%N)
start_peer schedule --tcp 127.0.0.1:0 --unit 1=healthy --unit 2=close --unit 3=sunspec-vary --schedule "$D/schedule.json" && {
    check "schedule: healthy, exception 4 from 1 to 2 s, healthy again" raw schedule "$PORT" "$t_start"
    check "close: the connection is dropped when unit 2 is asked" raw close "$PORT"
    check "sunspec-vary: scale factors change every read, the values do not" raw sunspec-vary "$PORT" 3
    stop_peer schedule "$PEER_PID"
}

echo "== RTU over a socat pty pair"
socat pty,raw,echo=0,link="$D/a" pty,raw,echo=0,link="$D/b" 2>"$D/socat.err" &
PIDS+=($!)
for i in $(seq 100); do [ -e "$D/a" ] && [ -e "$D/b" ] && break; sleep 0.05; done
start_peer rtu --rtu "$D/b" --byte-delay-ms 1.04 --unit 1=healthy --unit 2=crc --unit 3=late-as:300,1 \
    --unit 4=exception:4 --unit 20=sunspec-sf:10 && RTU_PID=$PEER_PID && {
    R="-m rtu -b 9600 -P none"
    check "rtu line is 'rtu DEV'" grep -qx "rtu $D/b" "$D/rtu.out"
    check "rtu healthy (mbpoll -m rtu ... -t 4:float -r 1 -c 2)" mb $'[1]: \t230\n[3]: \t50' $R -a 1 -t 4:float -B -r 1 -c 2 "$D/a"
    check "rtu healthy input registers" mb $'[5]: \t10\n[7]: \t0.95\n[9]: \t2185' $R -a 1 -t 3:float -B -r 1 -c 5 "$D/a"
    check "rtu crc: Invalid CRC" mb "Invalid CRC" $R -a 2 -t 4:float -B -r 1 -c 2 "$D/a"
    check "rtu exception:4" mb "Slave device or server failure" $R -a 4 -t 4 -r 1 -c 2 "$D/a"
    check "rtu sunspec-sf:10" mb $'[40018]: \t10\n[40019]: \t5000\n[40020]: \t10' $R -a 20 -t 4 -r 40018 -c 3 "$D/a"
    t0=$(now_ms)
    check "rtu silent unit 9: timeout" mb "Connection timed out" $R -a 9 -o 0.5 -t 4 -r 1 -c 2 "$D/a"
    dt=$(( $(now_ms) - t0 ))
    check "rtu silent: mbpoll waited its 0.5 s timeout (${dt} ms)" test "$dt" -ge 450
    check "rtu late-as:300,1: unit 1 answered meanwhile, then the late 999 claiming unit 1" raw rtu-late-as "$D/a"
    check "rtu resynchronises after junk" raw rtu-resync "$D/a"
    check "rtu crc raw frame" raw rtu-crc "$D/a"
    check "rtu byte pacing 1.04 ms" raw rtu-pace "$D/a"
    stop_peer rtu "$RTU_PID"
}
start_peer rtu-noise --rtu "$D/b" --unit 1=noise:50 && {
    check "rtu noise:50 writes bytes unasked" raw rtu-noise "$D/a"
    stop_peer rtu-noise "$PEER_PID"
}

echo "hostile peer self-check: $PASSED checks ok, $FAILED wrong"
[ "$FAILED" -eq 0 ]
