"""pqopen-lib peer for `synx-bench engine`: runs pqopen's IEC 61000-4-30 PowerSystem over the same raw signal
and reports its CPU time and its 10-cycle RMS, THD and frequency values as JSON on stdout. With --flicker it also
runs pqopen's flickermeter (IEC 61000-4-15, 230 V lamp; it needs sample times: a time channel in µs from
--start) and reports the largest Pinst of each voltage after its 20-s settling time.

Input: a file of float64 little-endian samples, channel-major (U1, U2, U3, I1, I2, I3), each channel n samples.
"""
import argparse
import json
import time

import numpy as np
from daqopen.channelbuffer import AcqBuffer
from pqopen.powersystem import PowerSystem

p = argparse.ArgumentParser()
p.add_argument("--input", required=True)
p.add_argument("--samplerate", type=float, required=True)
p.add_argument("--nominal", type=float, default=50.0)
p.add_argument("--block", type=int, default=2000)
p.add_argument("--flicker", action="store_true")
p.add_argument("--start", type=float, default=1_800_000_000.0)
args = p.parse_args()

raw = np.fromfile(args.input, dtype="<f8").reshape(6, -1)
n = raw.shape[1]
size = 4 * int(args.samplerate)
u = [AcqBuffer(size=size) for _ in range(3)]
i = [AcqBuffer(size=size) for _ in range(3)]
ps = PowerSystem(zcd_channel=u[0], input_samplerate=args.samplerate, nominal_frequency=args.nominal,
                 nper=10 if args.nominal == 50 else 12)
for k in range(3):
    ps.add_phase(u_channel=u[k], i_channel=i[k])
ps.enable_harmonic_calculation(50)
if args.flicker:
    clock = AcqBuffer(size=size, dtype=np.float64)
    ps.enable_nper_abs_time_sync(clock, interval_sec=600)
    ps.enable_fluctuation_calculation(nominal_voltage=230)

rms, thd, freq = [], [], []
def collect(start, stop):
    values, sidx = ps.output_channels["U1_rms"].read_data_by_acq_sidx(start, stop)
    t, _ = ps.output_channels["U1_THD"].read_data_by_acq_sidx(start, stop)
    f, fsidx = ps.output_channels["Freq"].read_data_by_acq_sidx(start, stop)
    rms.extend(zip(sidx.tolist(), values.tolist()))
    thd.extend(t.tolist())
    freq.extend(zip(fsidx.tolist(), f.tolist()))

cpu = 0.0
done = 0
while done < n:
    stop = min(n, done + args.block)
    t0 = time.process_time()
    for k in range(3):
        u[k].put_data(raw[k, done:stop].astype(np.float32))
        i[k].put_data(raw[3 + k, done:stop].astype(np.float32))
    if args.flicker:
        clock.put_data((args.start + np.arange(done, stop) / args.samplerate) * 1e6)
    ps.process()
    cpu += time.process_time() - t0
    collect(done, stop)   # outside the timed part: reading results back is not processing
    done = stop

result = {"cpu_seconds": cpu, "samples": n, "u1_rms": rms, "u1_thd": thd, "freq": freq}
if args.flicker:
    settled = int(25 * args.samplerate)  # pqopen gives Pinst 20 s after its start; 5 s more for its filters
    result["pinst_max"] = [
        float(np.max(phase._voltage_fluctuation_processor._pinst_channel.read_data_by_acq_sidx(settled, n)[0]))
        for phase in ps._phases
    ]
print(json.dumps(result))
