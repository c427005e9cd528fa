#!/usr/bin/env bash
# demo.sh — `make demo`: a live EVPN fabric in network namespaces where a
# VM migrates leaf1 -> leaf3 -> leaf1 under ping and keeps its IP; prints
# the convergence timeline per leaf, the ping loss window and
# `evpnctl trace` of the VM. Builds in release; needs root. Pass --quick
# for a single move. Everything it creates is removed at the end.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$here/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "make demo needs root (network namespaces, netlink)" >&2
    exit 1
fi
for tool in ip bridge ping; do
    command -v "$tool" >/dev/null 2>&1 || scripts/install-test-deps.sh
done
echo "== building evpnd, evpnctl and the demo in release"
cargo build --release --quiet -p evpnd --bins -p integration --bin evpnd-demo
exec "${CARGO_TARGET_DIR:-target}/release/evpnd-demo" "$@"
