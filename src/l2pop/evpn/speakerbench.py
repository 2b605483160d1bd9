"""Measure the speaker the gateway drives: gobgpd through the gobgp CLI.

``python -m l2pop.evpn.speakerbench [--routes N]`` starts a gobgpd with no
peers and no BGP listener on a loopback API port, then times (bounded: N
routes, default 300):

* the yardstick: one ``gobgp global`` call (process start + one gRPC call);
* N type-2 announcements one after the other, and N with 2 CLI calls at once;
* one ``gobgp global rib -a evpn -j`` dump of the N routes, and their withdrawal;
* gobgpd's resident memory with the N routes.

It prints one JSON object; docs/evpn.md has the numbers and the command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from l2pop.evpn.routes import MacRoute
from l2pop.evpn.speaker import GoBgp, SpeakerConfig

__all__ = ["main", "measure"]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0  # pragma: no cover


async def measure(routes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="l2pop-speakerbench-") as tmp:
        # listen_port -1: gobgpd opens no BGP socket (nothing leaves the machine).
        speaker = GoBgp(SpeakerConfig(65000, "192.0.2.254", (), None, -1), Path(tmp))
        await speaker.start()
        try:
            assert speaker.process is not None
            calls = 30
            start = time.perf_counter()
            for _ in range(calls):
                await speaker.run("global")
            yardstick = (time.perf_counter() - start) / calls
            half = [
                MacRoute(100, "192.0.2.1", f"fa:16:3e:00:{i >> 8:02x}:{i & 255:02x}")
                for i in range(routes)
            ]
            start = time.perf_counter()
            for route in half[: routes // 2]:
                await speaker.apply([route], [])
            serial = (time.perf_counter() - start) / (routes // 2)
            start = time.perf_counter()
            await speaker.apply(half[routes // 2 :], [])
            parallel = (time.perf_counter() - start) / (routes - routes // 2)
            start = time.perf_counter()
            rib = await speaker.rib()
            dump = time.perf_counter() - start
            rss = _rss_mib(speaker.process.pid)
            start = time.perf_counter()
            await speaker.apply([], half)
            withdraw = (time.perf_counter() - start) / routes
            return {
                "routes": routes,
                "rib_size": len(rib),
                "yardstick_cli_call_ms": round(yardstick * 1000, 2),
                "announce_serial_ms_per_route": round(serial * 1000, 2),
                "announce_parallel_ms_per_route": round(parallel * 1000, 2),
                "withdraw_parallel_ms_per_route": round(withdraw * 1000, 2),
                "rib_dump_ms": round(dump * 1000, 1),
                "serial_over_yardstick": round(serial / yardstick, 2),
                "parallel_over_yardstick": round(parallel / yardstick, 2),
                "gobgpd_rss_mib": rss,
            }
        finally:
            await speaker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=300, choices=range(10, 5001), metavar="N")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.routes)), indent=1))


if __name__ == "__main__":
    main()
