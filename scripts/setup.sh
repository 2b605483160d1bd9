#!/usr/bin/env bash
# Install what l2pop needs on a fresh Debian machine (root): kernel tools,
# etcd, capture tools, FRR and GoBGP (the EVPN gateway and its interop test),
# and the Python virtual environment in .venv.
# Idempotent: a second run only checks and returns in a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(iproute2 etcd-server tcpdump iputils-ping arping nftables procps chromium frr gobgpd systemd git)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian etcd package starts a system etcd on 2379; the tests start their
# own members on other ports, and nothing of ours needs that one.
# Likewise FRR's and GoBGP's system services: the lab runs its own daemons in namespaces.
if command -v systemctl >/dev/null 2>&1; then
    for unit in etcd frr gobgpd; do systemctl disable --now "$unit" >/dev/null 2>&1 || true; done
fi

PYTHON=${PYTHON:-python3}
stamp=.venv/.l2pop-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    echo "setup: installing the Python environment in .venv" >&2
    .venv/bin/python -m pip install -q -U pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    echo "$want" >"$stamp"
fi
