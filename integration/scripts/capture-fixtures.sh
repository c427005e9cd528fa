#!/usr/bin/env bash
# capture-fixtures.sh — record real BGP sessions as pcap fixtures for the codec
# tests (evpn-proto/tests/fixtures/) and for `evpnctl decode --pcap`.
#
# Usage (root):  integration/scripts/capture-fixtures.sh [OUTDIR] [LAB...]
#   OUTDIR defaults to evpn-proto/tests/fixtures; LAB is any of
#   frr-gobgp frr-frr ebgp-2byte (default: all three).
#
# Each lab is a handful of network namespaces named evt<id><role>; FRR (zebra +
# bgpd, one pair per namespace, `-N <ns>` path space) and gobgpd run inside
# them, tcpdump records TCP port 179 inside one namespace, and everything is
# torn down on exit, whatever happens. Addresses exist only inside the
# namespaces. Every wait is a bounded poll.
#
#   frr-gobgp-evpn.pcap   FRR <-> gobgpd, iBGP, EVPN + IPv4/IPv6 unicast,
#                         Ethernet link type (tcpdump -i <veth>)
#   frr-frr-evpn.pcap     FRR <-> FRR over IPv6 transport, MAC moves (mobility
#                         seq 1, 2) and a sticky MAC, Linux cooked v2 (-i any)
#   gobgp-ebgp-2byte.pcap FRR (no capabilities at all) <-> gobgpd, eBGP, so
#                         2-octet AS_PATH + AS4_PATH, Linux cooked v1 (-i any)
#
# The exact contents are listed in evpn-proto/tests/fixtures/README.md; update
# it (message counts come from the summary this script prints) when
# re-capturing.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${1:-$REPO/evpn-proto/tests/fixtures}
shift || true
LABS=("$@")
[ ${#LABS[@]} -gt 0 ] || LABS=(frr-gobgp frr-frr ebgp-2byte)

FRR_LIB=/usr/lib/frr
# A short id no existing namespace starts with (other test runs use evt* too).
while :; do
  PFX=evt$(printf '%04x' $(((RANDOM ^ $$) & 0xffff)))
  ip netns list | grep -q "^$PFX" || break
done

log() { printf '[capture %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, tcpdump)"
for tool in ip bridge tcpdump jq ping vtysh gobgpd gobgp "$FRR_LIB/bgpd" "$FRR_LIB/zebra"; do
  command -v "$tool" >/dev/null 2>&1 || die "missing $tool (apt-get install frr gobgpd tcpdump jq iputils-ping)"
done
mkdir -p "$OUT"

WORK=$(mktemp -d "/tmp/$PFX.XXXXXX")
chmod 755 "$WORK" # FRR daemons run as user frr and read their config here
NETNS=()          # namespaces we created
FRR_NS=()         # namespaces where we started zebra/bgpd
BG_PIDS=()        # background processes we started (gobgpd, tcpdump)

# lab_down — stop everything this script started and delete its namespaces;
# between labs, and from the EXIT trap whatever happened.
lab_down() {
  local pid ns pidfile
  for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ns in "${FRR_NS[@]}"; do
    for pidfile in "/var/run/frr/$ns/bgpd.pid" "/var/run/frr/$ns/zebra.pid"; do
      if [ -r "$pidfile" ] && read -r pid <"$pidfile"; then kill "$pid" 2>/dev/null || true; fi
    done
  done
  for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${NETNS[@]}"; do
    # Anything still alive in our namespaces was started by this script.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  for ns in "${FRR_NS[@]}"; do rm -rf "/var/run/frr/$ns"; done
  BG_PIDS=()
  NETNS=()
  FRR_NS=()
}

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ]; then
    log "failed (rc=$rc); daemon logs follow"
    tail -n 20 "$WORK"/*/*.log >&2
    # Debugging aid: keep the lab up for a while to look around.
    [ -z "${PAUSE_ON_FAIL:-}" ] || sleep "$PAUSE_ON_FAIL"
  fi
  lab_down
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for DESCRIPTION SECONDS COMMAND... — poll COMMAND every 0.2 s.
wait_for() {
  local what=$1 secs=$2 i
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "timed out after ${secs}s waiting for: $what"
}

# Bounded pause that lets keepalives and update timers run; used sparingly
# between steps so each step's UPDATE is its own message.
settle() { sleep "${1:-0.5}"; }

netns_add() { # netns_add NAME
  ip netns add "$1"
  NETNS+=("$1")
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# veth_pair NS_A IF_A NS_B IF_B — a link between two namespaces.
veth_pair() {
  ip -n "$1" link add name "$2" type veth peer name "$4" netns "$3"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

# A quiet veth end: no IPv6 autoconf traffic, and no ARP replies for the
# namespace's addresses (arp_ignore 8; Linux would otherwise answer for the
# anycast gateway from any interface), so the bridge learns only the MACs this
# script decides on.
quiet_if() { # quiet_if NS IF
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" "net.ipv4.conf.$2.arp_ignore=8"
}

# leaf_l2vni NS VTEP_IP — bridge br100 (anycast gateway address) + vxlan100,
# as frr-kernel-state.md describes a leaf.
leaf_l2vni() {
  local ns=$1 vtep=$2
  ip -n "$ns" link add name br100 address 00:00:5e:00:01:01 type bridge
  ip -n "$ns" addr add 10.1.0.1/24 dev br100
  ip -n "$ns" addr add fd00:1::1/64 dev br100
  ip -n "$ns" link add name vxlan100 type vxlan id 100 local "$vtep" dstport 4789 nolearning
  ip -n "$ns" link set vxlan100 master br100
  ip -n "$ns" link set vxlan100 type bridge_slave learning off neigh_suppress on
  ip -n "$ns" link set vxlan100 up
  ip -n "$ns" link set br100 up
}

# bridge_port NS PORT MAC — a veth pair inside NS whose PORT end is a br100
# port; the other end stays down-quiet, so only static FDB entries appear.
bridge_port() {
  local ns=$1 port=$2 mac=$3
  ip -n "$ns" link add name "$port" address "$mac" type veth peer name "$port-x"
  quiet_if "$ns" "$port"
  quiet_if "$ns" "$port-x"
  ip -n "$ns" link set "$port-x" up
  ip -n "$ns" link set "$port" master br100 up
}

# frr_start NS BGPD_CONFIG — zebra + bgpd in NS with their own path space.
frr_start() {
  local ns=$1 dir=$WORK/$1
  mkdir -p "$dir"
  printf 'hostname %s\nlog file %s/zebra.log\n' "$ns" "$dir" >"$dir/zebra.conf"
  printf '%s\n' "$2" >"$dir/bgpd.conf"
  chown -R frr:frr "$dir"
  install -d -o frr -g frr "/var/run/frr/$ns"
  FRR_NS+=("$ns")
  ip netns exec "$ns" "$FRR_LIB/zebra" -d -N "$ns" -f "$dir/zebra.conf" \
    -i "/var/run/frr/$ns/zebra.pid" -P 0 2>>"$dir/zebra.stderr"
  wait_for "zebra in $ns" 10 test -S "/var/run/frr/$ns/zserv.api"
}
bgpd_start() { # bgpd_start NS
  local ns=$1 dir=$WORK/$1
  ip netns exec "$ns" "$FRR_LIB/bgpd" -d -N "$ns" -f "$dir/bgpd.conf" \
    -i "/var/run/frr/$ns/bgpd.pid" -P 0 2>>"$dir/bgpd.stderr"
}
vty() { # vty NS COMMAND... — each argument is one vtysh -c
  local ns=$1 args=() c
  shift
  for c in "$@"; do args+=(-c "$c"); done
  vtysh -N "$ns" "${args[@]}" 2>>"$WORK/vtysh.err"
}
frr_established() { # frr_established NS PEER
  [ "$(vty "$1" "show bgp neighbors $2 json" | jq -r --arg p "$2" '.[$p].bgpState')" = Established ]
}
# frr_evpn_has NS JQ — true when the jq filter over `show bgp l2vpn evpn json`
# is true.
frr_evpn_has() {
  vty "$1" "show bgp l2vpn evpn json" | jq -e "$2"
}

gobgpd_start() { # gobgpd_start NS CONFIG_TEXT
  local ns=$1 dir=$WORK/$1
  mkdir -p "$dir"
  printf '%s\n' "$2" >"$dir/gobgpd.toml"
  # Own UTS namespace: gobgpd puts the host name in its FQDN capability, and
  # the fixture should not carry the capturing machine's name. (FRR sends its
  # configured `hostname`, which the labs set to fixed names.)
  ip netns exec "$ns" unshare --uts sh -c 'hostname gobgp && exec "$@"' sh \
    gobgpd -f "$dir/gobgpd.toml" --api-hosts 127.0.0.1:50051 \
    --pprof-disable >"$dir/gobgpd.log" 2>&1 &
  BG_PIDS+=($!)
  wait_for "gobgpd API in $ns" 15 ip netns exec "$ns" gobgp global
}
gob() { # gob NS ARGS... — the gobgp CLI inside NS
  local ns=$1
  shift
  ip netns exec "$ns" gobgp "$@"
}
gobgp_established() { # gobgp_established NS PEER
  [ "$(gob "$1" neighbor "$2" -j | jq -r '.state.session_state')" = 6 ]
}
gobgp_rib_count() { # gobgp_rib_count NS FAMILY — destinations in the global RIB
  gob "$1" global rib -a "$2" -j | jq 'length'
}

# capture_start NS FILE TCPDUMP_ARGS... — prints the tcpdump pid variable via
# CAP_PID; returns once tcpdump is listening.
CAP_PID=
capture_start() {
  local ns=$1 file=$2 err=$WORK/tcpdump.$1.err
  shift 2
  : >"$err"
  ip netns exec "$ns" tcpdump -Z root -U -s 0 -w "$file" "$@" 'tcp port 179' 2>"$err" &
  CAP_PID=$!
  BG_PIDS+=("$CAP_PID")
  wait_for "tcpdump listening in $ns" 10 grep -q 'listening on' "$err"
}
capture_stop() { # capture_stop FILE
  kill -INT "$CAP_PID"
  wait "$CAP_PID" || true
  log "$(basename "$1"): $(stat -c %s "$1") bytes"
}

# ---------------------------------------------------------------------------
# Lab 1: FRR <-> gobgpd, iBGP AS 65000, EVPN + IPv4/IPv6 unicast.
#   F (FRR, 10.99.0.1, VTEP 10.99.0.1) --veth-- G (gobgpd, 10.99.0.2, passive)
# ---------------------------------------------------------------------------
lab_frr_gobgp() {
  local F=${PFX}f G=${PFX}g file=$OUT/frr-gobgp-evpn.pcap
  log "lab frr-gobgp: namespaces $F $G"
  netns_add "$F"
  netns_add "$G"
  veth_pair "$F" to-g "$G" to-f
  ip -n "$F" addr add 10.99.0.1/24 dev to-g
  ip -n "$F" addr add fd00:99::1/64 dev to-g
  ip -n "$G" addr add 10.99.0.2/24 dev to-f
  ip -n "$G" addr add fd00:99::2/64 dev to-f
  wait_for "underlay $F -> $G" 10 ip netns exec "$F" ping -c1 -W1 10.99.0.2

  # FRR's local EVPN state, all in place before bgpd starts so its first
  # UPDATEs carry it: RT-3 for VNI 100, RT-2 MAC, MAC+IPv4, MAC+IPv6, a
  # sticky MAC (MAC Mobility ext-comm sticky=1), and the anycast gateway
  # MAC+IP with the Default Gateway ext-comm (advertise-default-gw).
  leaf_l2vni "$F" 10.99.0.1
  bridge_port "$F" h1 02:00:00:00:01:01
  bridge -n "$F" fdb add 02:00:00:00:00:0a dev h1 master static
  bridge -n "$F" fdb add 02:00:00:00:00:5a dev h1 master static sticky
  ip -n "$F" neigh add 10.1.0.10 lladdr 02:00:00:00:00:0a dev br100 nud reachable
  ip -n "$F" neigh add fd00:1::10 lladdr 02:00:00:00:00:0a dev br100 nud reachable

  frr_start "$F" "hostname frr
log file $WORK/$F/bgpd.log
router bgp 65000
 bgp router-id 10.99.0.1
 no bgp default ipv4-unicast
 no bgp network import-check
 bgp graceful-restart
 neighbor 10.99.0.2 remote-as 65000
 neighbor 10.99.0.2 timers 3 9
 neighbor 10.99.0.2 capability extended-nexthop
 address-family ipv4 unicast
  network 192.0.2.0/24
  network 203.0.113.0/24
  neighbor 10.99.0.2 activate
  neighbor 10.99.0.2 addpath-tx-all-paths
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:100::/48
  neighbor 10.99.0.2 activate
 exit-address-family
 address-family l2vpn evpn
  neighbor 10.99.0.2 activate
  advertise-all-vni
  advertise-default-gw
 exit-address-family"
  wait_for "zebra sees VNI 100 in $F" 15 \
    sh -c "vtysh -N $F -c 'show evpn vni 100 json' 2>/dev/null | jq -e '.vni == 100'"

  # gobgpd is passive: FRR opens the only TCP connection (no collision).
  # Graceful restart, add-path (send+receive for IPv4 unicast) and the
  # three families make its OPEN carry every capability it can.
  gobgpd_start "$G" '[global.config]
  as = 65000
  router-id = "10.99.0.2"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.99.0.1"
    peer-as = 65000
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 90
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l2vpn-evpn"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
    [neighbors.afi-safis.add-paths.config]
      receive = true
      send-max = 4
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true'

  capture_start "$F" "$file" -i to-g
  bgpd_start "$F"
  wait_for "FRR $F established with gobgpd" 30 frr_established "$F" 10.99.0.2
  wait_for "gobgpd established" 10 gobgp_established "$G" 10.99.0.1
  # FRR sends 8 EVPN routes (RT-3, 3x RT-2 host, sticky, 3x gateway); gobgp
  # 3.10 treats the two IPv6 gateway routes as withdrawn ("unknown evpn
  # subtype: 8": it does not know the EVPN ND ext-comm, RFC 9047), so it
  # keeps 6. Then 2 IPv4 and 1 IPv6 unicast routes.
  wait_for "FRR's initial routes at gobgpd" 20 \
    sh -c "[ \$(ip netns exec $G gobgp global rib -a evpn -j | jq length) -ge 6 ] &&
           [ \$(ip netns exec $G gobgp global rib -a ipv4 -j | jq length) -ge 2 ] &&
           [ \$(ip netns exec $G gobgp global rib -a ipv6 -j | jq length) -ge 1 ]"
  settle 1

  log "gobgpd originates EVPN routes"
  local nh=(nexthop 10.99.0.2)
  local ev=(global rib -a evpn add)
  # RT-2 MAC only (IP length 0), RD type 1, RT 2-octet AS.
  gob "$G" "${ev[@]}" macadv 02:00:00:00:00:21 0.0.0.0 etag 0 label 100 \
    rd 10.99.0.2:100 rt 65000:100 encap vxlan "${nh[@]}"
  settle
  # RT-2 MAC+IPv4 and MAC+IPv6, two labels (L2 VNI 100, L3 VNI 5000), the
  # router's MAC ext-comm, two RTs.
  gob "$G" "${ev[@]}" macadv 02:00:00:00:00:22 10.1.0.22 etag 0 label 100,5000 \
    rd 10.99.0.2:100 rt 65000:100 65000:5000 encap vxlan router-mac 02:00:00:00:aa:02 "${nh[@]}"
  settle
  gob "$G" "${ev[@]}" macadv 02:00:00:00:00:22 fd00:1::22 etag 0 label 100,5000 \
    rd 10.99.0.2:100 rt 65000:100 65000:5000 encap vxlan router-mac 02:00:00:00:aa:02 "${nh[@]}"
  settle
  # RT-2 with a type-3 (MAC-based) ESI, RD type 0, RT IPv4-address form.
  gob "$G" "${ev[@]}" macadv 02:00:00:00:00:51 10.1.0.51 esi MAC 02:00:00:00:ee:02 7 etag 0 \
    label 100 rd 65000:100 rt 10.99.0.2:100 encap vxlan "${nh[@]}"
  settle
  # RT-2 with RD type 2 and a 4-octet-AS RT: 64086.59904 = AS 4200000000.
  gob "$G" "${ev[@]}" macadv 02:00:00:00:00:23 10.1.0.23 etag 0 label 100 \
    rd 64086.59904:100 rt 64086.59904:100 65000:100 encap vxlan "${nh[@]}"
  settle
  # RT-2 default gateway (gobgp only takes the flag among the positional
  # arguments: MAC IP ETAG LABEL default-gateway).
  gob "$G" "${ev[@]}" macadv 00:00:5e:00:01:02 10.1.0.2 0 100 default-gateway \
    rd 10.99.0.2:100 rt 65000:100 encap vxlan "${nh[@]}"
  settle
  # RT-3 IMET with PMSI tunnel ingress replication. (Not with an IPv6
  # originator: FRR 8.4 answers "Rx EVPN Type-3 NLRI with unsupported IP
  # address length 128" with NOTIFICATION UPDATE/Optional Attribute Error.)
  gob "$G" "${ev[@]}" multicast 10.99.0.2 etag 0 rd 10.99.0.2:100 rt 65000:100 \
    encap vxlan pmsi ingress-repl 100 10.99.0.2 "${nh[@]}"
  settle
  # RT-5 IPv4 / IPv6 with gateway IP and router's MAC; one with a type-5
  # (AS-based) ESI and no gateway; one with a type-2 (MSTP) ESI.
  gob "$G" "${ev[@]}" prefix 10.20.0.0/24 gw 10.1.0.254 etag 0 label 5000 \
    rd 10.99.0.2:5000 rt 65000:5000 encap vxlan router-mac 02:00:00:00:aa:02 "${nh[@]}"
  settle
  gob "$G" "${ev[@]}" prefix 2001:db8:20::/64 gw fd00:1::fe etag 0 label 5000 \
    rd 10.99.0.2:5000 rt 65000:5000 encap vxlan router-mac 02:00:00:00:aa:02 "${nh[@]}"
  settle
  gob "$G" "${ev[@]}" prefix 10.21.0.0/16 esi AS 65000 9 etag 0 label 5000 \
    rd 10.99.0.2:5000 rt 65000:5000 encap vxlan "${nh[@]}"
  settle
  gob "$G" "${ev[@]}" prefix 10.22.0.0/16 esi MSTP 02:00:00:00:ee:03 32768 etag 0 label 5000 \
    rd 10.99.0.2:5000 rt 65000:5000 encap vxlan "${nh[@]}"
  settle
  # RT-1 per-ES (Ethernet tag MAX-ET, ESI label ext-comm) and per-EVI, with a
  # type-1 (LACP) ESI; one per-EVI with a type-0 (arbitrary) ESI.
  gob "$G" "${ev[@]}" a-d esi LACP 02:00:00:00:ee:01 1 etag 4294967295 label 0 \
    rd 10.99.0.2:1 rt 65000:100 encap vxlan esi-label 3000 "${nh[@]}"
  settle
  gob "$G" "${ev[@]}" a-d esi LACP 02:00:00:00:ee:01 1 etag 0 label 100 \
    rd 10.99.0.2:100 rt 65000:100 encap vxlan "${nh[@]}"
  settle
  gob "$G" "${ev[@]}" a-d esi ARBITRARY 00:11:22:33:44:55:66:77:88 etag 0 label 100 \
    rd 10.99.0.2:100 rt 65000:100 encap vxlan "${nh[@]}"
  settle
  # RT-4 Ethernet Segment (gobgp adds the ES-Import RT from the ESI's MAC),
  # type-1 and type-4 (router-id) ESIs.
  gob "$G" "${ev[@]}" esi 10.99.0.2 esi LACP 02:00:00:00:ee:01 1 rd 10.99.0.2:1 \
    encap vxlan "${nh[@]}"
  settle
  gob "$G" "${ev[@]}" esi 10.99.0.2 esi ROUTERID 10.99.0.2 5 rd 10.99.0.2:2 \
    encap vxlan "${nh[@]}"
  settle

  log "gobgpd originates IPv4/IPv6 unicast"
  gob "$G" global rib -a ipv4 add 198.51.100.0/24 nexthop 10.99.0.2 origin igp med 10 \
    local-pref 200 community 65000:1 large-community 65000:1:2
  settle
  gob "$G" global rib -a ipv6 add 2001:db8:200::/48 nexthop fd00:99::2 community 65000:2
  wait_for "gobgpd's EVPN routes at FRR" 20 frr_evpn_has "$F" '.numPrefix >= 23'
  settle 1

  # ROUTE-REFRESH from FRR (gobgp's `softresetin` only re-runs its policy
  # over its Adj-RIB-In and sends nothing, and gobgp does not advertise
  # enhanced route refresh, so gobgp answers with plain UPDATEs).
  log "route refresh"
  vty "$F" "clear bgp ipv4 unicast 10.99.0.2 soft in" >/dev/null
  settle 1

  log "withdrawals"
  local del=(global rib -a evpn del)
  gob "$G" "${del[@]}" macadv 02:00:00:00:00:21 0.0.0.0 etag 0 label 100 rd 10.99.0.2:100
  settle
  gob "$G" "${del[@]}" macadv 02:00:00:00:00:22 fd00:1::22 etag 0 label 100,5000 rd 10.99.0.2:100
  settle
  gob "$G" "${del[@]}" prefix 10.20.0.0/24 gw 10.1.0.254 etag 0 label 5000 rd 10.99.0.2:5000
  settle
  gob "$G" "${del[@]}" a-d esi LACP 02:00:00:00:ee:01 1 etag 0 label 100 rd 10.99.0.2:100
  settle
  gob "$G" "${del[@]}" esi 10.99.0.2 esi LACP 02:00:00:00:ee:01 1 rd 10.99.0.2:1
  settle
  gob "$G" global rib -a ipv4 del 198.51.100.0/24
  settle
  gob "$G" global rib -a ipv6 del 2001:db8:200::/48
  settle
  # FRR withdraws: a MAC+IPv4 (neighbour gone), an IPv4 and the IPv6 network.
  ip -n "$F" neigh del 10.1.0.10 dev br100
  settle
  vty "$F" "conf t" "router bgp 65000" "address-family ipv4 unicast" \
    "no network 203.0.113.0/24" >/dev/null
  settle
  vty "$F" "conf t" "router bgp 65000" "address-family ipv6 unicast" \
    "no network 2001:db8:100::/48" >/dev/null
  wait_for "FRR's withdrawals at gobgpd" 10 \
    sh -c "[ \$(ip netns exec $G gobgp global rib -a ipv6 -j | jq length) -eq 0 ]"
  # A few keepalives in each direction (keepalive 3 s).
  settle 4

  log "NOTIFICATION: FRR administratively shuts the session down"
  vty "$F" "conf t" "router bgp 65000" "neighbor 10.99.0.2 shutdown message fixture done" >/dev/null
  wait_for "gobgpd sees the session down" 10 sh -c "! ip netns exec $G gobgp neighbor 10.99.0.1 -j | jq -e '.state.session_state == 6'"
  settle 1
  capture_stop "$file"
  lab_down
}

# ---------------------------------------------------------------------------
# Lab 2: FRR <-> FRR leaves over IPv6 transport, one host MAC moving
# leaf1 -> leaf2 -> leaf1 (MAC Mobility seq 1 then 2), a sticky MAC on leaf1.
#   L1 (fd00:98::1, VTEP 10.98.0.1) --veth-- L2 (fd00:98::2, VTEP 10.98.0.2, passive)
#   H1, H2: two copies of one host (02:00:00:00:00:0b 10.1.0.20 fd00:1::20),
#   H1 behind L1, H2 behind L2; "moving" = the other copy starts talking.
# ---------------------------------------------------------------------------
lab_frr_frr() {
  local L1=${PFX}l1 L2=${PFX}l2 H1=${PFX}h1 H2=${PFX}h2 file=$OUT/frr-frr-evpn.pcap
  local mac=02:00:00:00:00:0b
  log "lab frr-frr: namespaces $L1 $L2 $H1 $H2"
  netns_add "$L1"
  netns_add "$L2"
  netns_add "$H1"
  netns_add "$H2"
  veth_pair "$L1" to-l2 "$L2" to-l1
  ip -n "$L1" addr add 10.98.0.1/24 dev to-l2
  ip -n "$L1" addr add fd00:98::1/64 dev to-l2
  ip -n "$L2" addr add 10.98.0.2/24 dev to-l1
  ip -n "$L2" addr add fd00:98::2/64 dev to-l1
  wait_for "underlay $L1 -> $L2" 10 ip netns exec "$L1" ping -c1 -W1 fd00:98::2
  leaf_l2vni "$L1" 10.98.0.1
  leaf_l2vni "$L2" 10.98.0.2
  bridge_port "$L1" hs 02:00:00:00:01:11
  bridge -n "$L1" fdb add 02:00:00:00:00:5a dev hs master static sticky

  local n
  for n in 1 2; do
    local ns=${PFX}l$n peer=fd00:98::$((3 - n)) passive=""
    [ "$n" = 2 ] && passive=" neighbor $peer passive"
    frr_start "$ns" "hostname leaf$n
log file $WORK/$ns/bgpd.log
router bgp 65000
 bgp router-id 10.98.0.$n
 no bgp default ipv4-unicast
 neighbor $peer remote-as 65000
 neighbor $peer timers 3 9
$passive
 address-family l2vpn evpn
  neighbor $peer activate
  advertise-all-vni
 exit-address-family"
    wait_for "zebra sees VNI 100 in $ns" 15 \
      sh -c "vtysh -N $ns -c 'show evpn vni 100 json' 2>/dev/null | jq -e '.vni == 100'"
  done

  capture_start "$L1" "$file" -i any -y LINUX_SLL2
  bgpd_start "$L2"
  wait_for "bgpd in $L2" 10 test -S "/var/run/frr/$L2/bgpd.vty"
  bgpd_start "$L1"
  wait_for "FRR $L1 established" 30 frr_established "$L1" fd00:98::2
  # Each leaf has its own RT-3 and the peer's, and leaf2 has the sticky MAC.
  wait_for "RT-3s exchanged" 20 frr_evpn_has "$L1" '.numPrefix >= 3'
  wait_for "sticky MAC at $L2" 20 frr_evpn_has "$L2" '.numPrefix >= 3'
  settle 1

  # The host moves the way a migrating VM does: its copy behind the new leaf
  # speaks first (so that leaf learns the MAC while it still holds the other
  # leaf's route, and advertises seq+1), then the old copy's port goes away.
  # host_at LEAF_NS HOST_NS — plug a copy of the host into LEAF's bridge and
  # make it talk (ARP and ND towards the anycast gateway) so the leaf learns
  # the MAC and both neighbours. No link-local address: the host's only
  # neighbours are 10.1.0.20 and fd00:1::20.
  host_at() {
    local leaf=$1 h=$2
    ip -n "$leaf" link add name hb address 02:00:00:00:01:0b type veth peer name eth0 netns "$h"
    quiet_if "$leaf" hb
    ip -n "$h" link set eth0 address "$mac" addrgenmode none
    ip -n "$h" addr add 10.1.0.20/24 dev eth0
    ip -n "$h" addr add fd00:1::20/64 dev eth0
    ip -n "$h" link set eth0 up
    ip -n "$leaf" link set hb master br100 up
    wait_for "host reaches the gateway via $leaf" 10 ip netns exec "$h" ping -c1 -W1 10.1.0.1
    wait_for "host reaches the v6 gateway via $leaf" 10 ip netns exec "$h" ping -6 -c1 -W1 fd00:1::1
  }
  # remote_at LEAF SEQ — LEAF's zebra holds the host MAC and both neighbours
  # as remote with MAC Mobility sequence SEQ.
  remote_at() {
    vty "$1" "show evpn mac vni 100 mac $mac json" |
      jq -e --arg m "$mac" --argjson s "$2" '.[$m] | .type == "remote" and .remoteSequence == $s' &&
      vty "$1" "show evpn arp-cache vni 100 json" |
      jq -e --argjson s "$2" '[.["10.1.0.20", "fd00:1::20"] | .type == "remote" and .remoteSequence == $s] | all'
  }

  # move_host NEW_LEAF NEW_HOST OLD_LEAF SEQ — the copy behind NEW_LEAF
  # talks, the old copy's port goes away; once OLD_LEAF's withdrawals have
  # reached NEW_LEAF (its remote neighbours are gone; the kernel keeps an
  # extern_learn neighbour over an ARP request), the host talks again so
  # NEW_LEAF learns the neighbours too and advertises MAC+IP with seq SEQ.
  move_host() {
    local new=$1 h=$2 old=$3 seq=$4
    host_at "$new" "$h"
    ip -n "$old" link del hb
    wait_for "$new drops the remote neighbours" 20 sh -c "vtysh -N $new -c 'show evpn arp-cache vni 100 json' 2>/dev/null |
      jq -e '[.[\"10.1.0.20\", \"fd00:1::20\"] | (. == null) or (.type == \"local\")] | all'"
    ip -n "$h" neigh flush all
    ip netns exec "$h" ping -c1 -W1 10.1.0.1 >/dev/null
    ip netns exec "$h" ping -6 -c1 -W1 fd00:1::1 >/dev/null
    wait_for "$old sees the host behind $new with seq $seq" 20 remote_at "$old" "$seq"
  }

  log "host on leaf1"
  host_at "$L1" "$H1"
  wait_for "leaf2 has the host from leaf1" 20 remote_at "$L2" 0
  settle 1
  log "host moves to leaf2 (seq 1)"
  move_host "$L2" "$H2" "$L1" 1
  settle 1
  log "host moves back to leaf1 (seq 2)"
  move_host "$L1" "$H1" "$L2" 2
  settle 1
  # Both FRRs advertise enhanced route refresh (RFC 7313): leaf1 asks, leaf2
  # answers with BoRR, its EVPN routes, EoRR.
  log "enhanced route refresh"
  vty "$L1" "clear bgp l2vpn evpn fd00:98::2 soft in" >/dev/null
  settle 4

  log "NOTIFICATION: leaf1 administratively shuts the session down"
  vty "$L1" "conf t" "router bgp 65000" "neighbor fd00:98::2 shutdown message fixture done" >/dev/null
  wait_for "leaf2 sees the session down" 10 sh -c "! vtysh -N $L2 -c 'show bgp neighbors fd00:98::2 json' 2>/dev/null | jq -e '.[] | .bgpState == \"Established\"'"
  settle 1
  capture_stop "$file"
  lab_down
}

# ---------------------------------------------------------------------------
# Lab 3: eBGP where FRR sends an OPEN with no capabilities at all
# (`dont-capability-negotiate`), so the session is 2-octet AS, IPv4 unicast
# only, NLRI in the classic UPDATE fields. gobgpd's routes carry a 4-octet AS
# in their path, so it sends AS_TRANS in AS_PATH and the real path in
# AS4_PATH; FRR prepends 4200000000 on its own route and does the same.
#   A (FRR AS 65001, 10.97.0.1) --veth-- B (gobgpd AS 65100, 10.97.0.2, passive)
# ---------------------------------------------------------------------------
lab_ebgp_2byte() {
  local A=${PFX}a B=${PFX}b file=$OUT/gobgp-ebgp-2byte.pcap
  log "lab ebgp-2byte: namespaces $A $B"
  netns_add "$A"
  netns_add "$B"
  veth_pair "$A" to-b "$B" to-a
  ip -n "$A" addr add 10.97.0.1/24 dev to-b
  ip -n "$B" addr add 10.97.0.2/24 dev to-a
  wait_for "underlay $A -> $B" 10 ip netns exec "$A" ping -c1 -W1 10.97.0.2

  frr_start "$A" "hostname frr
log file $WORK/$A/bgpd.log
route-map PREPEND4 permit 10
 set as-path prepend 4200000000
exit
router bgp 65001
 bgp router-id 10.97.0.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.97.0.2 remote-as 65100
 neighbor 10.97.0.2 timers 3 9
 neighbor 10.97.0.2 dont-capability-negotiate
 address-family ipv4 unicast
  network 192.0.2.0/24 route-map PREPEND4
  network 203.0.113.0/24
 exit-address-family"
  gobgpd_start "$B" '[global.config]
  as = 65100
  router-id = "10.97.0.2"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.97.0.1"
    peer-as = 65001
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [neighbors.transport.config]
    passive-mode = true'

  capture_start "$A" "$file" -i any -y LINUX_SLL
  bgpd_start "$A"
  wait_for "FRR $A established" 30 frr_established "$A" 10.97.0.2
  wait_for "FRR's routes at gobgpd" 20 \
    sh -c "[ \$(ip netns exec $B gobgp global rib -a ipv4 -j | jq length) -ge 2 ]"
  settle 1
  gob "$B" global rib -a ipv4 add 198.51.100.0/24 aspath "4200000000 65200" origin igp \
    community 65100:1
  settle
  gob "$B" global rib -a ipv4 add 198.51.101.0/24 aspath "65200" med 5
  wait_for "gobgpd's routes at FRR" 10 \
    sh -c "vtysh -N $A -c 'show bgp ipv4 unicast json' 2>/dev/null | jq -e '.routes | length >= 4'"
  settle
  gob "$B" global rib -a ipv4 del 198.51.101.0/24
  settle
  vty "$A" "conf t" "router bgp 65001" "address-family ipv4 unicast" \
    "no network 203.0.113.0/24" >/dev/null
  settle 4
  vty "$A" "conf t" "router bgp 65001" "neighbor 10.97.0.2 shutdown message fixture done" >/dev/null
  wait_for "gobgpd sees the session down" 10 sh -c "! ip netns exec $B gobgp neighbor 10.97.0.1 -j | jq -e '.state.session_state == 6'"
  settle 1
  capture_stop "$file"
  lab_down
}

# summary FILE — message counts per direction and type, via tshark if present.
summary() {
  command -v tshark >/dev/null 2>&1 || return 0
  echo "== $(basename "$1") ($(stat -c %s "$1") bytes)"
  tshark -r "$1" -d tcp.port==179,bgp -Y bgp -T fields -E separator=' ' \
    -e ip.src -e ipv6.src -e bgp.type 2>/dev/null |
    awk '{ src = $1; n = split($NF, t, ","); for (i = 1; i <= n; i++) c[src " type " t[i]]++ }
         END { for (k in c) print "  " k ": " c[k] }' | sort
}

log "versions: $(dpkg-query -W -f '${Package} ${Version}, ' frr gobgpd tcpdump 2>/dev/null) kernel $(uname -r)"
for lab in "${LABS[@]}"; do
  case $lab in
    frr-gobgp) lab_frr_gobgp ;;
    frr-frr) lab_frr_frr ;;
    ebgp-2byte) lab_ebgp_2byte ;;
    *) die "unknown lab $lab (frr-gobgp, frr-frr, ebgp-2byte)" ;;
  esac
done
for lab in "${LABS[@]}"; do
  case $lab in
    frr-gobgp) summary "$OUT/frr-gobgp-evpn.pcap" ;;
    frr-frr) summary "$OUT/frr-frr-evpn.pcap" ;;
    ebgp-2byte) summary "$OUT/gobgp-ebgp-2byte.pcap" ;;
  esac
done
log "done"
