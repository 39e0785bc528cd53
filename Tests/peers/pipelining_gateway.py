#!/usr/bin/env python3
"""A Modbus/TCP gateway that takes several outstanding transactions and answers each one DELAY ms after it
came, whatever else is outstanding (as gateways in front of slow serial lines with several ports do). Replies
come from an upstream Modbus/TCP server (synx-sim), fetched at once and held back. Standard library only.

Prints "tcp 127.0.0.1:PORT", then "ready"; then "outstanding N" each time a new maximum of transactions
outstanding at once is reached, so a test can tell whether its client kept several in flight.
"""
import argparse
import asyncio
import sys


async def read_frame(reader):
    """One MBAP frame: the 7-byte header and the rest its length field announces."""
    header = await reader.readexactly(7)
    length = int.from_bytes(header[4:6], "big")
    if not 1 <= length <= 254:
        raise ConnectionError(f"bad MBAP length {length}")
    return header + await reader.readexactly(length - 1)


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the Modbus/TCP server behind the gateway")
    parser.add_argument("--delay-ms", type=int, default=300, help="how long after a request its reply goes out")
    args = parser.parse_args()
    up_host, up_port = args.upstream.rsplit(":", 1)
    delay = args.delay_ms / 1000
    state = {"outstanding": 0, "max": 0}

    async def serve(reader, writer):
        up_reader, up_writer = await asyncio.open_connection(up_host, int(up_port))
        upstream = asyncio.Lock()
        loop = asyncio.get_running_loop()

        async def answer(frame, arrived):
            try:
                async with upstream:  # the upstream answers one at a time, at once
                    up_writer.write(frame)
                    await up_writer.drain()
                    reply = await read_frame(up_reader)
                await asyncio.sleep(max(0.0, arrived + delay - loop.time()))
                writer.write(reply)
                await writer.drain()
            finally:
                state["outstanding"] -= 1

        tasks = set()
        try:
            while True:
                frame = await read_frame(reader)
                state["outstanding"] += 1
                if state["outstanding"] > state["max"]:
                    state["max"] = state["outstanding"]
                    print(f"outstanding {state['max']}", flush=True)
                task = asyncio.create_task(answer(frame, loop.time()))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            writer.close()
            up_writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(f"tcp 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
