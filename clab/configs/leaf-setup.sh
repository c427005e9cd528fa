#!/bin/sh
# A leaf's underlay: eth1 to the spine. The leaf number comes from the
# container's hostname (leaf1 → 10.0.1.2).
set -eu
n=$(hostname | sed 's/[^0-9]//g')
ip addr add "10.0.$n.2/24" dev eth1
ip route add 10.0.0.0/16 via "10.0.$n.1"
