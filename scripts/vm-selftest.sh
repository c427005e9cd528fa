#!/bin/sh
# vm-selftest.sh — checks that the kernel has what the full-kernel tests need.
# Meant to run inside the VM lane:   scripts/vm-lane.sh -- sh scripts/vm-selftest.sh
#
# In a private network namespace it creates a VRF, a dummy, a vlan_filtering
# bridge, an 802.1Q device and a single vxlan device with `external vnifilter`
# (VLAN-to-VNI mapping), puts a route into the VRF, runs `ip vrf exec`, and
# checks on-demand module loading. Prints "VM-SELFTEST OK" and exits 0 only if
# everything worked. POSIX sh (the lane runs it with the host's /bin/sh); it
# forks as little as possible because every exec is slow under emulation.
set -eu

ns="evt-vmst-$$"
fails=0

# shellcheck disable=SC2317 # invoked from the EXIT trap
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { printf 'ok   - %s\n' "$1"; }
bad() { printf 'FAIL - %s\n' "$1"; fails=$((fails + 1)); }

# step DESCRIPTION CMD [ARGS...]: run CMD, report, keep going on failure.
step() {
  desc=$1; shift
  if out=$("$@" 2>&1); then ok "$desc"; else
    bad "$desc"
    printf '       $ %s\n' "$*"
    [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/       /'
  fi
}

# expect DESCRIPTION PATTERN CMD [ARGS...]: CMD must succeed and print PATTERN.
expect() {
  desc=$1 pat=$2; shift 2
  if out=$("$@" 2>&1); then
    case $out in
      *"$pat"*) ok "$desc"; return 0 ;;
    esac
  fi
  bad "$desc"
  printf '       $ %s   (wanted "%s")\n' "$*" "$pat"
  [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/       /'
}

read -r krel </proc/sys/kernel/osrelease
echo "vm-selftest: kernel $krel${EVPND_VM_LANE:+ (in the VM lane)}"

if ! ip netns add "$ns"; then
  echo "VM-SELFTEST FAILED: cannot create a network namespace"
  exit 1
fi
ok "network namespace"
ip -n "$ns" link set lo up

# VRF with a dummy port.
step "vrf device (type vrf table 10)" ip -n "$ns" link add vrf1 type vrf table 10
step "vrf up" ip -n "$ns" link set vrf1 up
step "dummy device" ip -n "$ns" link add dummy0 type dummy
step "dummy enslaved to the vrf" ip -n "$ns" link set dummy0 master vrf1 up
step "address on the dummy" ip -n "$ns" addr add 10.1.0.1/24 dev dummy0

# Bridge with VLAN filtering, in the VRF.
step "bridge with vlan_filtering 1" ip -n "$ns" link add br100 type bridge vlan_filtering 1 vlan_default_pvid 0
expect "bridge reports vlan_filtering 1" "vlan_filtering 1" ip -n "$ns" -d link show br100
step "bridge enslaved to the vrf" ip -n "$ns" link set br100 master vrf1 up
step "bridge vlan 100 on the bridge itself" bridge -n "$ns" vlan add vid 100 dev br100 self

# 802.1Q SVI on the bridge.
step "802.1Q device (type vlan id 100)" ip -n "$ns" link add link br100 name br100.100 type vlan id 100
expect "802.1Q device reports protocol and id" "vlan protocol 802.1Q id 100" ip -n "$ns" -d link show br100.100
step "802.1Q device in the vrf" ip -n "$ns" link set br100.100 master vrf1 up

# Single vxlan device with VNI filtering (SVD), mapped VLAN 100 <-> VNI 20000.
# dstport 4790: on 6.1 a vnifilter device cannot share a port+local address
# with a per-VNI vxlan device, so keep it off the default port.
step "vxlan external vnifilter device" ip -n "$ns" link add vxlan0 type vxlan dstport 4790 local 10.1.0.1 external vnifilter nolearning
expect "vxlan reports vnifilter" "vnifilter" ip -n "$ns" -d link show vxlan0
step "vxlan enslaved to the bridge" ip -n "$ns" link set vxlan0 master br100 up
step "vlan_tunnel on" bridge -n "$ns" link set dev vxlan0 vlan_tunnel on
step "bridge vlan 100 on the vxlan port" bridge -n "$ns" vlan add dev vxlan0 vid 100
step "vlan 100 -> vni 20000 tunnel mapping" bridge -n "$ns" vlan add dev vxlan0 vid 100 tunnel_info id 20000
step "bridge vni add 20000" bridge -n "$ns" vni add dev vxlan0 vni 20000
expect "bridge vni show lists 20000" "20000" bridge -n "$ns" vni show dev vxlan0
step "fdb entry on the vxlan device" bridge -n "$ns" fdb add 02:00:00:00:01:01 dev vxlan0 master static vlan 100

# Routing in the VRF, and a process bound to it (needs cgroup2 + BPF).
step "route in the vrf table" ip -n "$ns" route add 10.99.0.0/16 via 10.1.0.2 vrf vrf1
expect "ip route show vrf lists it" "10.99.0.0/16" ip -n "$ns" route show vrf vrf1
expect "ip vrf exec" "vrf1" ip netns exec "$ns" ip vrf exec vrf1 ip vrf identify

# On-demand module loading (request_module -> modprobe) with the lane's options:
# bonding must autoload and must not create bond0 by itself.
if grep -q '^bonding ' /proc/modules 2>/dev/null; then
  step "bond device (bonding already loaded)" ip -n "$ns" link add bond1 type bond
else
  step "bond device (bonding loaded on demand)" ip -n "$ns" link add bond1 type bond
  if grep -q '^bonding ' /proc/modules 2>/dev/null; then ok "bonding module autoloaded"; else bad "bonding module autoloaded"; fi
  if [ -e /sys/class/net/bond0 ]; then bad "no stray bond0 after autoload"; else ok "no stray bond0 after autoload"; fi
fi

if [ "$fails" -eq 0 ]; then
  echo "VM-SELFTEST OK"
  exit 0
fi
echo "VM-SELFTEST FAILED ($fails checks failed)"
exit 1
