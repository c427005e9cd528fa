#!/usr/bin/env bash
# demo.sh — `make demo`: a live EVPN fabric in network namespaces (spine,
# three evpnd leaves, an FRR core router, two VNIs in one L3 VNI) where a
# VM migrates leaf1 -> leaf3 -> leaf1 under probes and keeps its IP;
# prints the timeline of every leaf's kernel and the core, the loss
# windows and `evpnctl trace` of the VM; writes target/demo/report.json
# and report.png. Builds in release; needs root; installs what it needs
# (iproute2, ping, FRR, a font for the plot) with apt-get. Pass --quick
# for a single move. Everything it creates is removed at the end.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$here/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "make demo needs root (network namespaces, netlink)" >&2
    exit 1
fi
need=()
command -v ip >/dev/null 2>&1 && command -v bridge >/dev/null 2>&1 || need+=(iproute2)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
[ -x /usr/lib/frr/bgpd ] || need+=(frr)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
    echo "== apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# FRR's packaged service must not run on the host: the demo starts its own
# daemons inside namespaces.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet frr 2>/dev/null; then
    systemctl stop frr || true
fi
echo "== building evpnd, evpnctl and the demo in release"
cargo build --release --quiet -p evpnd --bins -p integration --bin evpnd-demo
exec "${CARGO_TARGET_DIR:-target}/release/evpnd-demo" "$@"
