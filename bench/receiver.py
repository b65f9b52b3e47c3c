"""A webhook receiver for the benchmarks: answers 204 at once and keeps, per delivery, its
endpoint (path) and `webhook-id`, and how long after the event's `occurred_at` it arrived.
`GET /stats` reports. Bare asyncio (bench/wire.py), so it takes little of the machine.

    .venv/bin/python bench/receiver.py PORT
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime

import orjson
from wire import read_message

received: list[tuple[str, float]] = []


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def stats() -> bytes:
    lags = [lag for _, lag in received]
    return orjson.dumps(
        {
            "received": len(received),
            "unique": len({key for key, _ in received}),
            "lag_p50_s": percentile(lags, 0.50),
            "lag_p99_s": percentile(lags, 0.99),
            "lag_max_s": max(lags, default=None),
        }
    )


async def serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            first, headers, body = await read_message(reader)
            method, path = first.split()[:2]
            if method == "GET":
                out = stats()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(out)}\r\n\r\n".encode()
                    + out
                )
                continue
            occurred = datetime.fromisoformat(orjson.loads(body)["occurred_at"]).timestamp()
            # Each endpoint (path) gets every event once: a repeat is an id again on a path.
            received.append((f"{path} {headers.get('webhook-id', '')}", time.time() - occurred))
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve_one, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
