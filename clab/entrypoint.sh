#!/bin/sh
# Container entrypoint: wait for the interfaces containerlab wires in after
# the container starts (EVPND_WAIT_IFACES, e.g. "eth1 eth2"), run the
# node's setup script if there is one (addresses, routes, forwarding),
# enslave host ports to the VNI bridges evpnd creates (/etc/evpnd/ports:
# "PORT BRIDGE" per line, ports that do not exist are skipped), then exec
# evpnd with /etc/evpnd/evpnd.toml and any extra arguments.
set -eu
wait_for() { # NAME TENTHS
  n=0
  until ip link show "$1" >/dev/null 2>&1; do
    n=$((n + 1))
    [ "$n" -gt "$2" ] && return 1
    sleep 0.1
  done
}
for i in ${EVPND_WAIT_IFACES:-}; do
  wait_for "$i" 600 || { echo "evpnd-entrypoint: $i did not appear within 60 s" >&2; exit 1; }
done
if [ -x /etc/evpnd/setup.sh ]; then
  /etc/evpnd/setup.sh
fi
if [ -r /etc/evpnd/ports ]; then
  (
    while read -r port bridge; do
      case "$port" in ''|'#'*) continue ;; esac
      ip link show "$port" >/dev/null 2>&1 || continue
      if wait_for "$bridge" 600; then
        ip link set "$port" master "$bridge" up
      else
        echo "evpnd-entrypoint: $bridge not created within 60 s; $port left alone" >&2
      fi
    done </etc/evpnd/ports
  ) &
fi
exec /usr/local/bin/evpnd -c /etc/evpnd/evpnd.toml "$@"
