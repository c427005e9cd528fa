#!/bin/sh
# The spine routes the underlay between the leaves and the core.
set -eu
sysctl -qw net.ipv4.ip_forward=1
for i in 1 2 3; do ip addr add "10.0.$i.1/24" dev "eth$i"; done
ip addr add 10.0.254.1/24 dev eth4
