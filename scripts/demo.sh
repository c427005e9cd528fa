#!/usr/bin/env bash
# demo.sh — `make demo`.
#
# INTERIM: the migration demo (issue 7: a VM migrating under ping between
# evpnd leaves, convergence printed) needs the EVPN core wired to the
# dataplane, which is not finished. Until then this runs the biggest real
# jobs that exist, in release mode, in network namespaces it creates and
# removes:
#   1. netlink-glue programs two VXLAN leaves like FRR's zebra would; their
#      hosts ping each other across VXLAN, an anycast gateway answers ARP
#      once, and two VNIs route through an L3 VNI (routing-table backend);
#   2. evpnd exchanges EVPN RT-2/3/5 and IPv4/IPv6 routes with FRR bgpd
#      over eBGP and iBGP, and reflects routes between two FRR clients.
# It installs what it needs (frr) through scripts/install-test-deps.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$here/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "make demo needs root (network namespaces, netlink)" >&2
    exit 1
fi
if ! command -v bgpd >/dev/null 2>&1 && [ ! -x /usr/lib/frr/bgpd ]; then
    scripts/install-test-deps.sh
fi

echo "== evpnd demo (interim: the VM-migration demo lands with the EVPN core) =="
echo "== building in release =="
cargo build --release --workspace --all-targets --quiet

echo
echo "== 1. dataplane: two leaves, VXLAN, anycast gateway, L3 VNI (real kernel) =="
cargo test --release -q -p netlink-glue --test fabric -- --nocapture --test-threads=1

echo
echo "== 2. control plane: evpnd with FRR bgpd (EVPN and unicast, both ways, RR) =="
cargo test --release -q -p integration --test bgp_frr -- --nocapture --test-threads=1

echo
echo "demo: done (every namespace it created has been removed)"
