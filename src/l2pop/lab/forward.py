"""A TCP forwarder from the root namespace into a lab namespace.

The server listens inside the control namespace on its underlay address, so
agents reach it over the underlay like real hypervisors do. Programs in the
root namespace (tests, ``l2pop demo``, a user's ``openstack`` CLI) reach it
through this forwarder: the parent opens a listening socket on 127.0.0.1 in
the root namespace and hands it over (an inherited fd) to this process,
which runs inside the target namespace (``ip netns exec``) and dials the
target there. A socket stays in the namespace it was created in, so one
process can accept on one side and connect on the other; no setns needed.

Run as ``python -m l2pop.lab.forward --fd N --target HOST:PORT``.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading

__all__ = ["main", "parse_target"]

BUFFER = 65536
CONNECT_TIMEOUT_S = 5.0


def parse_target(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy one direction until EOF, then half-close the other side."""
    with contextlib.suppress(OSError):
        while data := src.recv(BUFFER):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _serve_one(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=CONNECT_TIMEOUT_S)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket")
    parser.add_argument("--target", required=True, help="HOST:PORT inside this namespace")
    args = parser.parse_args(argv)
    target = parse_target(args.target)
    listener = socket.socket(fileno=args.fd)
    print(f"forwarding {listener.getsockname()} -> {target}", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_serve_one, args=(client, target), daemon=True).start()


if __name__ == "__main__":
    main()
