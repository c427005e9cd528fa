#!/bin/sh
# Live-migrate the VM (container vm1) between leaves of the containerlab
# topology the way `make demo` does in namespaces: the leaf-side end of
# the VM's link leaves the old leaf and comes up on the new leaf's br100;
# the VM keeps its MAC and IP, sends gratuitous ARPs with the image's
# arping (QEMU would send RARP) and pings its gateway.
#
#   clab/migrate.sh leaf1 leaf3
#
# Needs root on the container host (moves a link between network
# namespaces by PID). The port is renamed "vm1" on the new leaf.
set -eu
from=${1:?usage: migrate.sh FROM_LEAF TO_LEAF}
to=${2:?usage: migrate.sh FROM_LEAF TO_LEAF}
lab=${LAB:-evpnd}
pid() { docker inspect -f '{{.State.Pid}}' "clab-$lab-$1"; }
pf=$(pid "$from")
pt=$(pid "$to")
# On the first move the port is eth2 (vm1's link), later it is vm1.
port=vm1
nsenter -t "$pf" -n ip link show "$port" >/dev/null 2>&1 || port=eth2
nsenter -t "$pf" -n ip link set "$port" down
nsenter -t "$pf" -n ip link set "$port" netns "$pt"
nsenter -t "$pt" -n ip link set "$port" name vm1
nsenter -t "$pt" -n ip link set vm1 master br100 up
docker exec "clab-$lab-vm1" sh -c 'if command -v arping >/dev/null; then arping -U -c 3 -I eth1 10.1.0.11 >/dev/null; fi; ping -c 1 -W 1 10.1.0.1' || true
echo "vm1 moved $from -> $to; see: docker exec clab-$lab-$to evpnctl trace 10.1.0.11"
