#!/usr/bin/env python3
"""An independent MQTT subscriber (Eclipse Paho) for synx's MQTT end-to-end test.

Connects to the broker at HOST:PORT (over TLS, checking the broker against CA_FILE, with --ca CA_FILE),
subscribes to the topic filters given, and writes every message it receives as one JSON line: {"topic",
"payload" (text), "retain", "qos", "t" (seconds since it started)}. It reconnects by itself when the broker
restarts, and runs until it is killed.
"""
import json
import sys
import time

import paho.mqtt.client as mqtt

args = sys.argv[1:]
ca = None
if args[:1] == ["--ca"]:
    ca, args = args[1], args[2:]
host, port, filters = args[0], int(args[1]), args[2:] or ["#"]
started = time.monotonic()


def on_connect(client, userdata, flags, reason_code, properties):
    print(json.dumps({"connected": str(reason_code), "t": time.monotonic() - started}), flush=True)
    for f in filters:
        client.subscribe(f, qos=1)


def on_message(client, userdata, message):
    line = {
        "topic": message.topic,
        "payload": message.payload.decode("utf-8", errors="replace"),
        "retain": bool(message.retain),
        "qos": message.qos,
        "t": time.monotonic() - started,
    }
    print(json.dumps(line), flush=True)


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"synx-test-{int(started * 1000) % 100000}")
if ca:
    client.tls_set(ca_certs=ca)
client.on_connect = on_connect
client.on_message = on_message
client.reconnect_delay_set(min_delay=0.2, max_delay=0.5)
while True:
    try:
        client.connect(host, port, keepalive=30)
        break
    except OSError:
        time.sleep(0.1)
client.loop_forever(retry_first_connection=True)
