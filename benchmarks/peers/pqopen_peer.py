"""pqopen-lib peer for `synx-bench engine`: runs pqopen's IEC 61000-4-30 PowerSystem over the same raw signal
and reports its CPU time and its 10-cycle RMS, THD and frequency values as JSON on stdout.

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
    ps.process()
    cpu += time.process_time() - t0
    collect(done, stop)   # outside the timed part: reading results back is not processing
    done = stop

print(json.dumps({"cpu_seconds": cpu, "samples": n, "u1_rms": rms, "u1_thd": thd, "freq": freq}))
