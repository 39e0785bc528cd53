"""Independent peer for the COMTRADE tests: reads a recording with the `comtrade` package from PyPI and prints
what it found as JSON (channels, scaling, sample rates, times and scaled samples)."""
import json
import sys

import comtrade

rec = comtrade.Comtrade()
rec.load(sys.argv[1])
cfg = rec.cfg
print(json.dumps({
    "station": rec.station_name,
    "device": rec.rec_dev_id,
    "rev_year": str(rec.rev_year),
    "frequency": rec.frequency,
    "ft": rec.ft,
    "analog_ids": rec.analog_channel_ids,
    "units": [c.uu for c in cfg.analog_channels],
    "phases": rec.analog_phases,
    "a": [c.a for c in cfg.analog_channels],
    "b": [c.b for c in cfg.analog_channels],
    "digital_ids": rec.status_channel_ids,
    "sample_rates": [[float(r[0]), int(r[1])] for r in cfg.sample_rates],
    "total_samples": rec.total_samples,
    "start": rec.start_timestamp.isoformat(),
    "time": [float(t) for t in rec.time],
    "analog": [[float(v) for v in ch] for ch in rec.analog],
    "digital": [[int(v) for v in ch] for ch in rec.status],
}))
