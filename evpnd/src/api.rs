//! The JSON API between `evpnctl` (or any client) and the daemon.
//!
//! Requests are objects tagged by `"command"` (kebab-case), e.g.
//! `{"command": "show-bgp-routes", "family": "evpn", "route_type": 2}`.
//! The shell passes the parsed JSON to the core as
//! [`Input::Api`](crate::core::io::Input::Api); the core answers with
//! [`Output::ApiReply`](crate::core::io::Output::ApiReply) carrying one of the
//! reply shapes below, or `{"error": "..."}`. `reload` is answered by the
//! shell itself (it reads the file and calls `Core::reload`).
//!
//! Addresses are JSON strings (`"10.0.0.1"`, `"fd00::1"`); MACs
//! `"aa:bb:cc:dd:ee:ff"`; RDs `"10.0.0.1:100"` or `"65000:100"`; route
//! targets `"65000:100"`; prefixes `"10.1.0.0/24"`.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

pub use crate::core::best_path::Reason;

/// One API request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Request {
    /// One row per peer.
    ShowBgpSummary,
    /// Detail for all peers, or one.
    ShowBgpNeighbors {
        #[serde(default)]
        peer: Option<IpAddr>,
    },
    /// Routes of one family, filtered.
    ShowBgpRoutes(RouteQuery),
    /// Originate a local route (enters Loc-RIB as the local "peer").
    RouteAdd(RouteSpec),
    /// Withdraw a local route (only the key fields of the spec are used).
    RouteDel(RouteSpec),
    /// Re-read the configuration file (handled by the shell).
    Reload,
    /// MACs of the MAC-VRFs: where each lives (local port or remote VTEP),
    /// its sequence number, IPs and duplicate-detection state.
    ShowEvpnMac {
        #[serde(default)]
        vni: Option<u32>,
        #[serde(default)]
        mac: Option<String>,
    },
    /// The L2 and L3 VNIs with RD, RTs, flood list and counts.
    ShowEvpnVni,
    /// Duplicate detection: MACs that moved recently or are frozen.
    ShowEvpnDad,
    /// Unfreeze duplicate MACs (all, one VNI, or one MAC).
    ClearDad {
        #[serde(default)]
        vni: Option<u32>,
        #[serde(default)]
        mac: Option<String>,
    },
    /// Where a host lives: a MAC or an IP.
    Trace { target: String },
    /// Reset a BGP session: Cease / Administrative Reset, sent as a Hard
    /// Reset (RFC 8538) unless `graceful`; the session then starts again.
    /// With `soft` the session stays: `in` asks the peer for its routes
    /// (ROUTE-REFRESH, RFC 2918), `out` sends ours again (framed by BoRR /
    /// EoRR when enhanced route refresh is negotiated, RFC 7313).
    ClearBgp {
        peer: IpAddr,
        #[serde(default)]
        graceful: bool,
        #[serde(default)]
        soft: Option<SoftClear>,
    },
}

/// Direction of a soft clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SoftClear {
    In,
    Out,
}

/// Address family names as operators write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiFamily {
    Evpn,
    Ipv4,
    Ipv6,
}

/// Filters for `show-bgp-routes`. Absent fields do not filter.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RouteQuery {
    pub family: Option<ApiFamily>,
    /// EVPN route type 1..=5.
    #[serde(default)]
    pub route_type: Option<u8>,
    #[serde(default)]
    pub rd: Option<String>,
    #[serde(default)]
    pub mac: Option<String>,
    /// Unicast or RT-5 prefix (exact match), or an RT-2 IP.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Only paths from this peer (Adj-RIB-In) or to this peer (with `advertised`).
    #[serde(default)]
    pub peer: Option<IpAddr>,
    /// Show the peer's Adj-RIB-In as received (needs `peer`), incl. non-best paths.
    #[serde(default)]
    pub received: bool,
    /// Show what we advertise to `peer` (its Adj-RIB-Out).
    #[serde(default)]
    pub advertised: bool,
    /// Cap on the number of rows (default 10,000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// A route to originate (`route-add`) or withdraw (`route-del`).
///
/// EVPN: `route_type` 2 (rd, mac, ip?, vni, l3vni?), 3 (rd, originator or
/// next_hop, vni → PMSI label) or 5 (rd, prefix, vni, gateway_ip?).
/// Unicast: `prefix` and `next_hop`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RouteSpec {
    pub family: Option<ApiFamily>,
    #[serde(default)]
    pub route_type: Option<u8>,
    #[serde(default)]
    pub rd: Option<String>,
    #[serde(default)]
    pub eth_tag: Option<u32>,
    #[serde(default)]
    pub esi: Option<String>,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub ip: Option<IpAddr>,
    /// RT-5 or unicast prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    /// RT-5 gateway IP (0.0.0.0 / :: when absent).
    #[serde(default)]
    pub gateway_ip: Option<IpAddr>,
    /// L2 VNI (label 1 of RT-2, label of RT-3/RT-5).
    #[serde(default)]
    pub vni: Option<u32>,
    /// L3 VNI (label 2 of RT-2, symmetric IRB).
    #[serde(default)]
    pub l3vni: Option<u32>,
    /// RT-3 originating router IP; defaults to the next hop.
    #[serde(default)]
    pub originator: Option<IpAddr>,
    #[serde(default)]
    pub route_targets: Vec<String>,
    /// The VTEP (EVPN) or next hop (unicast); defaults to the router id.
    #[serde(default)]
    pub next_hop: Option<IpAddr>,
    #[serde(default)]
    pub mac_mobility_seq: Option<u32>,
    #[serde(default)]
    pub sticky: bool,
    #[serde(default)]
    pub router_mac: Option<String>,
    #[serde(default)]
    pub default_gateway: bool,
    #[serde(default)]
    pub local_pref: Option<u32>,
    #[serde(default)]
    pub med: Option<u32>,
    /// Extra AS_PATH (as an AS_SEQUENCE) for testing.
    #[serde(default)]
    pub as_path: Vec<u32>,
    /// Standard communities as `"65000:1"`.
    #[serde(default)]
    pub communities: Vec<String>,
}

/// Reply to `show-bgp-summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    pub peers: Vec<SummaryRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub peer: IpAddr,
    pub remote_as: u32,
    /// `idle`, `connect`, `active`, `open-sent`, `open-confirm`, `established`.
    pub state: String,
    /// Seconds since the session reached Established, or since it went down.
    pub uptime_secs: u64,
    pub families: Vec<FamilyCounts>,
    pub messages_in: u64,
    pub messages_out: u64,
}

/// Route counters of one family of one peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyCounts {
    pub family: ApiFamily,
    /// Paths in the Adj-RIB-In (treat-as-withdraw paths are not kept).
    pub received: u64,
    /// Received paths that are best in the Loc-RIB.
    pub accepted: u64,
    pub advertised: u64,
}

/// Reply to `show-bgp-neighbors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbors {
    pub neighbors: Vec<NeighborDetail>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighborDetail {
    pub peer: IpAddr,
    pub remote_as: u32,
    pub local_as: u32,
    /// `ibgp` or `ebgp`.
    pub kind: String,
    pub state: String,
    pub uptime_secs: u64,
    pub passive: bool,
    /// Created from a configured `range`.
    pub dynamic: bool,
    pub route_reflector_client: bool,
    pub remote_router_id: Option<Ipv4Addr>,
    pub local_address: Option<String>,
    pub remote_address: Option<String>,
    pub configured_hold_time: u16,
    pub negotiated: Option<NegotiatedInfo>,
    pub last_error: Option<LastError>,
    /// `none`, `helper-stale` (peer restarting, its routes kept stale),
    /// `restarting` (we restarted and wait for this peer's End-of-RIB).
    pub graceful_restart_state: String,
    pub families: Vec<FamilyCounts>,
    pub messages_in: u64,
    pub messages_out: u64,
    pub updates_in: u64,
    pub updates_out: u64,
    /// ROUTE-REFRESH messages (requests, BoRR, EoRR) received / sent.
    #[serde(default)]
    pub route_refresh_in: u64,
    #[serde(default)]
    pub route_refresh_out: u64,
    pub established_transitions: u64,
    pub connect_failures: u32,
    /// The update group the session shares its Adj-RIB-Out and UPDATEs
    /// with (peers of one export class), while established.
    #[serde(default)]
    pub update_group: Option<u32>,
}

/// What both sides agreed on in their OPENs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NegotiatedInfo {
    pub hold_time: u16,
    pub keepalive: u16,
    pub families: Vec<ApiFamily>,
    pub four_octet_as: bool,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    /// IPv4 families whose next hop may be IPv6 (RFC 8950).
    pub extended_next_hop: Vec<ApiFamily>,
    /// The peer's graceful-restart capability, when both sides sent one.
    pub graceful_restart: Option<PeerGr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerGr {
    pub restart_time: u16,
    /// The peer restarted (R bit).
    pub restarting: bool,
    /// Families the peer preserved forwarding for (F bit set).
    pub forwarding_preserved: Vec<ApiFamily>,
    pub families: Vec<ApiFamily>,
    /// Both sides set the N bit (RFC 8538): NOTIFICATIONs other than Hard
    /// Reset keep the routes stale.
    #[serde(default)]
    pub notification: bool,
}

/// The last NOTIFICATION sent or received, or why the session dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastError {
    /// `sent`, `received` or `local` (connection closed without a NOTIFICATION).
    pub direction: String,
    pub code: u8,
    pub subcode: u8,
    pub reason: String,
    /// Hex of the NOTIFICATION data.
    pub data: String,
}

/// Reply to `show-bgp-routes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routes {
    pub routes: Vec<RouteRow>,
    /// More rows matched than `limit`.
    pub truncated: bool,
}

/// One path with all its attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteRow {
    pub family: ApiFamily,
    /// The route key as text (`[2]:[rd]:[tag]:[mac]:[ip]`, or a prefix).
    pub key: String,
    pub route_type: Option<u8>,
    pub rd: Option<String>,
    pub mac: Option<String>,
    pub ip: Option<IpAddr>,
    pub prefix: Option<String>,
    pub esi: Option<String>,
    pub eth_tag: Option<u32>,
    pub labels: Vec<u32>,
    pub gateway_ip: Option<IpAddr>,
    /// `None` for locally originated routes.
    pub peer: Option<IpAddr>,
    pub best: bool,
    /// Why the best path won against the runner-up (only on the best path).
    pub reason: Option<Reason>,
    pub stale: bool,
    pub next_hop: Option<IpAddr>,
    pub origin: String,
    pub as_path: String,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    pub communities: Vec<String>,
    pub ext_communities: Vec<String>,
    pub route_targets: Vec<String>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub mac_mobility_seq: Option<u32>,
    pub sticky: bool,
    pub router_mac: Option<String>,
    pub default_gateway: bool,
}

/// Reply to `show-evpn-mac`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvpnMacs {
    pub macs: Vec<EvpnMacRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvpnMacRow {
    pub vni: u32,
    pub mac: String,
    /// `local`, `remote`, or `none` (known only from history).
    pub location: String,
    /// The local bridge port.
    pub port: Option<String>,
    /// The remote VTEP the kernel points at.
    pub vtep: Option<IpAddr>,
    /// Our sequence number when local, the winning route's when remote.
    pub seq: u32,
    pub sticky: bool,
    /// Local IPs (advertised as MAC+IP) or the remote MAC+IP routes' IPs.
    pub ips: Vec<IpAddr>,
    pub frozen: bool,
    pub moves: u64,
}

/// Reply to `show-evpn-vni`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvpnVnis {
    pub vnis: Vec<EvpnVniRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvpnVniRow {
    pub vni: u32,
    /// `l2` or `l3`.
    pub kind: String,
    pub bridge: String,
    pub vxlan: String,
    /// `up`, or `down` while its bridge or VXLAN device is down (IMET
    /// withdrawn).
    #[serde(default)]
    pub oper: String,
    pub vrf: Option<String>,
    pub l3vni: Option<u32>,
    pub rd: String,
    pub import_rts: Vec<String>,
    pub export_rts: Vec<String>,
    /// `ingress-replication` or `static` (L2).
    pub flooding: Option<String>,
    pub flood: Vec<IpAddr>,
    pub local_macs: usize,
    pub remote_macs: usize,
    pub remote_neighs: usize,
    pub gateway: Vec<String>,
    pub gateway_mac: Option<String>,
    pub router_mac: Option<String>,
    /// Routes in the IP-VRF table (L3).
    pub routes: usize,
}

/// Reply to `show-evpn-dad`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvpnDad {
    pub enabled: bool,
    pub max_moves: u32,
    pub window_secs: u64,
    /// `None`: frozen until `clear dad`.
    pub freeze_secs: Option<u64>,
    pub moves_total: u64,
    pub detected_total: u64,
    pub entries: Vec<DadRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DadRow {
    pub vni: u32,
    pub mac: String,
    pub frozen: bool,
    pub moves_in_window: usize,
    pub total_moves: u64,
    pub frozen_for_secs: Option<u64>,
    /// `None` when not frozen or frozen permanently.
    pub unfreeze_in_secs: Option<u64>,
}

/// Reply to `clear-dad`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClearDad {
    /// `VNI/MAC` of every unfrozen MAC.
    pub cleared: Vec<String>,
}

/// Reply to `trace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub target: String,
    pub hosts: Vec<TraceHost>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceHost {
    pub vni: u32,
    pub mac: String,
    pub ip: Option<IpAddr>,
    pub location: String,
    pub port: Option<String>,
    pub vtep: Option<IpAddr>,
    pub seq: u32,
    pub sticky: bool,
    pub frozen: bool,
    pub last_move_secs_ago: Option<u64>,
    /// `local-learn-over-remote` or `remote-won`.
    pub last_move_reason: Option<String>,
    /// Every RT-2 path for the MAC in the Loc-RIB.
    pub routes: Vec<RouteRow>,
}

/// Reply to `route-add` / `route-del`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub ok: bool,
    pub key: String,
}

/// Every error reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_parse_from_kebab_case_commands() {
        let r: Request = serde_json::from_value(json!({"command": "show-bgp-summary"})).unwrap();
        assert_eq!(r, Request::ShowBgpSummary);
        let r: Request = serde_json::from_value(
            json!({"command": "show-bgp-routes", "family": "evpn", "route_type": 2}),
        )
        .unwrap();
        assert_eq!(
            r,
            Request::ShowBgpRoutes(RouteQuery {
                family: Some(ApiFamily::Evpn),
                route_type: Some(2),
                ..Default::default()
            })
        );
        let r: Request = serde_json::from_value(json!({
            "command": "route-add", "family": "evpn", "route_type": 2,
            "rd": "10.0.0.1:100", "mac": "00:11:22:33:44:55", "vni": 100,
            "route_targets": ["65000:100"], "mac_mobility_seq": 3, "sticky": true
        }))
        .unwrap();
        let Request::RouteAdd(spec) = r else {
            panic!("not a route-add")
        };
        assert_eq!(spec.mac_mobility_seq, Some(3));
        assert!(spec.sticky);
        let r: Request =
            serde_json::from_value(json!({"command": "show-bgp-neighbors", "peer": "10.0.0.2"}))
                .unwrap();
        assert_eq!(
            r,
            Request::ShowBgpNeighbors {
                peer: Some("10.0.0.2".parse().unwrap())
            }
        );
    }
}
