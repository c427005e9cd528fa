//! Rendering decoded BGP messages for `evpnctl decode`: one JSON object per
//! message (the schema is documented in docs/decode.md), or a
//! human-readable block.
//!
//! Decoding itself is evpn-proto's; this module only names fields. A message
//! that fails to decode becomes `{"type": ..., "error": {action, code,
//! subcode, reason}}` and the caller carries on with the next message. Every
//! UPDATE carries its RFC 7606 `verdict`; NLRI received with ADD-PATH
//! (RFC 7911) carry their `path_id`.

use std::net::SocketAddr;

use evpn_proto::attr::{AsPath, MpNlri, NextHop, PathAttrs, SegmentType};
use evpn_proto::capability::{AddPathMode, Capability};
use evpn_proto::evpn::EvpnRoute;
use evpn_proto::ext_community::{ExtCommunity, TunnelType};
use evpn_proto::message::header::{Header, MessageType};
use evpn_proto::message::{
    decode_message, DecodeCxt, Decoded, Notification, RefreshSubtype, UpdateDecoded, Verdict,
};
use evpn_proto::pmsi::{PmsiTunnel, PmsiTunnelType};
use evpn_proto::{Afi, Error, Label, Safi};
use serde_json::{json, Map, Value};

/// Where a message came from, when known (pcap input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

/// Session facts `decode` cannot see in the bytes (the CLI's `--local-as`,
/// `--peer-as`, `--no-as4`, `--families`, `--add-path`), or that it took
/// from the OPENs of a capture (see [`super::session`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionView {
    pub cx: DecodeCxt,
    /// With `--peer-as`: an OPEN from another AS is a Bad Peer AS error.
    pub peer_as: Option<u32>,
    pub local_as: Option<u32>,
}

impl SessionView {
    /// `--local-as`/`--peer-as` decide iBGP vs eBGP (iBGP when equal or unset).
    pub fn new(
        local_as: Option<u32>,
        peer_as: Option<u32>,
        four_octet_as: bool,
        families: evpn_proto::message::FamilySet,
    ) -> SessionView {
        let ibgp = match (local_as, peer_as) {
            (Some(l), Some(p)) => l == p,
            _ => true,
        };
        SessionView {
            cx: DecodeCxt {
                four_octet_as,
                ibgp,
                peer_as: if ibgp { None } else { peer_as },
                families,
                add_path: evpn_proto::message::FamilySet::EMPTY,
            },
            peer_as,
            local_as,
        }
    }

    /// The same view with path ids (RFC 7911) read for `families`.
    pub fn with_add_path(mut self, families: evpn_proto::message::FamilySet) -> SessionView {
        self.cx.add_path = families;
        self
    }
}

/// The type name of a message from its header, even when the body is bad.
fn type_name(bytes: &[u8]) -> &'static str {
    match Header::parse(bytes) {
        Ok(h) => match h.msg_type {
            MessageType::Open => "OPEN",
            MessageType::Update => "UPDATE",
            MessageType::Notification => "NOTIFICATION",
            MessageType::Keepalive => "KEEPALIVE",
            MessageType::RouteRefresh => "ROUTE-REFRESH",
        },
        Err(_) => "UNKNOWN",
    }
}

fn error_json(e: &Error) -> Value {
    json!({
        "action": e.action.as_str(),
        "code": e.code,
        "subcode": e.subcode,
        "reason": e.reason,
    })
}

/// Decode one whole message (header included) and render it as JSON.
pub fn message_json(bytes: &[u8], ends: Option<Endpoints>, view: &SessionView) -> Value {
    let mut obj = Map::new();
    if let Some(e) = ends {
        obj.insert("src".into(), json!(e.src.to_string()));
        obj.insert("dst".into(), json!(e.dst.to_string()));
    }
    obj.insert("type".into(), json!(type_name(bytes)));
    obj.insert("length".into(), json!(bytes.len()));
    match decode_message(bytes, &view.cx) {
        Err(e) => {
            if obj.get("type").and_then(Value::as_str) == Some("UPDATE") {
                // The UPDATE resets the session: the verdict, and the
                // NOTIFICATION the receiver sends.
                obj.insert("verdict".into(), json!(e.action.as_str()));
                obj.insert(
                    "notification".into(),
                    json!({"code": e.code, "subcode": e.subcode, "data": hex(&e.data)}),
                );
            }
            obj.insert("error".into(), error_json(&e));
        }
        Ok(Decoded::Open(o)) => {
            // With --peer-as the OPEN is checked as the session would (RFC
            // 4271 §6.2), unless it comes from --local-as (our own OPEN).
            let expect = view.peer_as.filter(|_| view.local_as != Some(o.peer_as()));
            let check = o.validate(expect, std::net::Ipv4Addr::UNSPECIFIED, false);
            obj.insert("version".into(), json!(4));
            obj.insert("my_as".into(), json!(o.my_as));
            obj.insert("as".into(), json!(o.peer_as()));
            obj.insert("hold_time".into(), json!(o.hold_time));
            obj.insert("bgp_id".into(), json!(o.bgp_id.to_string()));
            obj.insert(
                "capabilities".into(),
                Value::Array(o.capabilities.iter().map(capability_json).collect()),
            );
            if !o.other_params.is_empty() {
                obj.insert(
                    "other_params".into(),
                    Value::Array(
                        o.other_params
                            .iter()
                            .map(|p| json!({"type": p.param_type, "value": hex(&p.value)}))
                            .collect(),
                    ),
                );
            }
            if let Err(e) = check {
                obj.insert("error".into(), error_json(&e));
            }
        }
        Ok(Decoded::Update(u)) => update_json(&u, &mut obj),
        Ok(Decoded::Notification(n)) => notification_json(&n, &mut obj),
        Ok(Decoded::Keepalive) => {}
        Ok(Decoded::RouteRefresh(r)) => {
            obj.insert("afi".into(), json!(u16::from(r.afi)));
            obj.insert("safi".into(), json!(u8::from(r.safi)));
            obj.insert(
                "subtype".into(),
                json!(match r.subtype {
                    RefreshSubtype::Request => "request".to_string(),
                    RefreshSubtype::BoRR => "borr".to_string(),
                    RefreshSubtype::EoRR => "eorr".to_string(),
                    RefreshSubtype::Unknown(v) => format!("unknown-{v}"),
                }),
            );
        }
    }
    Value::Object(obj)
}

fn capability_json(c: &Capability) -> Value {
    let fam = |afi: Afi, safi: Safi| json!({"afi": u16::from(afi), "safi": u8::from(safi)});
    match c {
        Capability::MultiProtocol(afi, safi) => {
            json!({"code": 1, "name": "multiprotocol", "afi": u16::from(*afi), "safi": u8::from(*safi)})
        }
        Capability::RouteRefresh => json!({"code": 2, "name": "route-refresh"}),
        Capability::EnhancedRouteRefresh => json!({"code": 70, "name": "enhanced-route-refresh"}),
        Capability::FourOctetAs(asn) => json!({"code": 65, "name": "4-octet-as", "as": asn}),
        Capability::GracefulRestart {
            restart_state,
            notification,
            restart_time,
            families,
        } => json!({
            "code": 64, "name": "graceful-restart",
            "restart_state": restart_state, "notification": notification,
            "restart_time": restart_time,
            "families": families.iter().map(|(a, s, f)| {
                let mut v = fam(*a, *s);
                v["forwarding"] = json!(f);
                v
            }).collect::<Vec<_>>(),
        }),
        Capability::AddPath(list) => json!({
            "code": 69, "name": "add-path",
            "families": list.iter().map(|(a, s, m)| {
                let mut v = fam(*a, *s);
                v["mode"] = json!(match m {
                    AddPathMode::Receive => "receive".to_string(),
                    AddPathMode::Send => "send".to_string(),
                    AddPathMode::Both => "both".to_string(),
                    AddPathMode::Unknown(x) => format!("unknown-{x}"),
                });
                v
            }).collect::<Vec<_>>(),
        }),
        Capability::ExtendedNextHop(list) => json!({
            "code": 5, "name": "extended-next-hop",
            "families": list.iter().map(|(a, s, nh)| {
                let mut v = fam(*a, *s);
                v["nexthop_afi"] = json!(u16::from(*nh));
                v
            }).collect::<Vec<_>>(),
        }),
        Capability::Unknown { code, value } => json!({"code": code, "value": hex(value)}),
    }
}

fn notification_json(n: &Notification, obj: &mut Map<String, Value>) {
    obj.insert("code".into(), json!(n.code));
    obj.insert("subcode".into(), json!(n.subcode));
    obj.insert("code_name".into(), json!(n.code_name()));
    if let Some(s) = n.subcode_name() {
        obj.insert("subcode_name".into(), json!(s));
    }
    if let Some(text) = n.shutdown_communication() {
        obj.insert("message".into(), json!(text));
    }
    obj.insert("data".into(), json!(hex(&n.data)));
}

/// The RFC 7606 verdict of a decoded UPDATE.
fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::TreatAsWithdraw => "treat-as-withdraw",
        Verdict::AttributeDiscard => "attribute-discard",
    }
}

/// A prefix as `"10.0.0.0/8"`, or `{"prefix": ..., "path_id": N}` when it
/// came with an ADD-PATH path id (`ids` parallel to `items`, or empty).
fn prefixes_json<T: std::fmt::Display>(items: &[T], ids: &[u32]) -> Value {
    Value::Array(
        items
            .iter()
            .enumerate()
            .map(|(i, p)| match ids.get(i) {
                Some(id) => json!({"prefix": p.to_string(), "path_id": id}),
                None => json!(p.to_string()),
            })
            .collect(),
    )
}

fn update_json(u: &UpdateDecoded, obj: &mut Map<String, Value>) {
    let up = &u.update;
    obj.insert("verdict".into(), json!(verdict_str(u.verdict)));
    obj.insert(
        "withdrawn".into(),
        prefixes_json(&up.withdrawn, &up.withdrawn_path_ids),
    );
    obj.insert("attributes".into(), attrs_json(&up.attrs));
    obj.insert("nlri".into(), prefixes_json(&up.nlri, &up.nlri_path_ids));
    if let Some(f) = u.end_of_rib() {
        obj.insert("end_of_rib".into(), json!(f.name()));
    }
    if u.verdict != Verdict::Ok {
        // The strongest rule that fired decides the verdict; list them all.
        if let Some(worst) = u.errors.iter().max_by_key(|e| match e.action {
            evpn_proto::Action::AttributeDiscard => 0,
            evpn_proto::Action::TreatAsWithdraw => 1,
            evpn_proto::Action::SessionReset => 2,
        }) {
            let mut e = error_json(worst);
            if u.verdict == Verdict::TreatAsWithdraw {
                e["action"] = json!("treat-as-withdraw");
            }
            obj.insert("error".into(), e);
        }
    }
    if !u.errors.is_empty() {
        obj.insert(
            "errors".into(),
            Value::Array(u.errors.iter().map(error_json).collect()),
        );
    }
}

fn attrs_json(a: &PathAttrs) -> Value {
    let mut m = Map::new();
    if let Some(o) = &a.origin {
        m.insert("origin".into(), json!(o.to_string()));
    }
    if let Some(p) = &a.as_path {
        m.insert("as_path".into(), as_path_json(p));
    }
    if let Some(nh) = a.next_hop {
        m.insert("next_hop".into(), json!(nh.to_string()));
    }
    if let Some(v) = a.med {
        m.insert("med".into(), json!(v));
    }
    if let Some(v) = a.local_pref {
        m.insert("local_pref".into(), json!(v));
    }
    if a.atomic_aggregate {
        m.insert("atomic_aggregate".into(), json!(true));
    }
    if let Some(ag) = &a.aggregator {
        m.insert(
            "aggregator".into(),
            json!({"as": ag.asn, "bgp_id": ag.bgp_id.to_string()}),
        );
    }
    if let Some(c) = &a.communities {
        m.insert(
            "communities".into(),
            Value::Array(c.iter().map(|c| json!(c.to_string())).collect()),
        );
    }
    if let Some(o) = a.originator_id {
        m.insert("originator_id".into(), json!(o.to_string()));
    }
    if let Some(cl) = &a.cluster_list {
        m.insert(
            "cluster_list".into(),
            Value::Array(cl.iter().map(|c| json!(c.to_string())).collect()),
        );
    }
    if let Some(r) = &a.mp_reach {
        m.insert(
            "mp_reach".into(),
            json!({
                "afi": u16::from(r.afi),
                "safi": u8::from(r.safi),
                "next_hop": next_hop_json(&r.next_hop),
                "nlri": mp_nlri_json(&r.nlri, &r.path_ids),
            }),
        );
    }
    if let Some(r) = &a.mp_unreach {
        m.insert(
            "mp_unreach".into(),
            json!({
                "afi": u16::from(r.afi),
                "safi": u8::from(r.safi),
                "nlri": mp_nlri_json(&r.withdrawn, &r.path_ids),
            }),
        );
    }
    if let Some(e) = &a.ext_communities {
        m.insert(
            "extended_communities".into(),
            Value::Array(e.iter().map(ext_community_json).collect()),
        );
    }
    if let Some(p) = &a.as4_path {
        m.insert("as4_path".into(), as_path_json(p));
    }
    if let Some(ag) = &a.as4_aggregator {
        m.insert(
            "as4_aggregator".into(),
            json!({"as": ag.asn, "bgp_id": ag.bgp_id.to_string()}),
        );
    }
    if let Some(p) = &a.pmsi_tunnel {
        m.insert("pmsi_tunnel".into(), pmsi_json(p));
    }
    if let Some(l) = &a.large_communities {
        m.insert(
            "large_communities".into(),
            Value::Array(l.iter().map(|c| json!(c.to_string())).collect()),
        );
    }
    if !a.unknown.is_empty() {
        m.insert(
            "unknown".into(),
            Value::Array(
                a.unknown
                    .iter()
                    .map(|r| json!({"type": r.type_code, "flags": r.flags, "value": hex(&r.value)}))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

fn as_path_json(p: &AsPath) -> Value {
    Value::Array(
        p.segments
            .iter()
            .map(|s| {
                json!({
                    "type": match s.kind {
                        SegmentType::Set => "set",
                        SegmentType::Sequence => "sequence",
                        SegmentType::ConfedSequence => "confed-sequence",
                        SegmentType::ConfedSet => "confed-set",
                    },
                    "asns": s.asns,
                })
            })
            .collect(),
    )
}

fn next_hop_json(nh: &NextHop) -> Value {
    match nh {
        NextHop::V4(a) => json!(a.to_string()),
        NextHop::V6(a) => json!(a.to_string()),
        NextHop::V6LinkLocal { global, link_local } => {
            json!([global.to_string(), link_local.to_string()])
        }
        NextHop::Raw(b) => json!(hex(b)),
    }
}

fn mp_nlri_json(n: &MpNlri, ids: &[u32]) -> Value {
    match n {
        MpNlri::Ipv4(v) => prefixes_json(v, ids),
        MpNlri::Ipv6(v) => prefixes_json(v, ids),
        MpNlri::Evpn(v) => Value::Array(
            v.iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut j = evpn_json(r);
                    if let (Some(id), Value::Object(m)) = (ids.get(i), &mut j) {
                        m.insert("path_id".into(), json!(id));
                    }
                    j
                })
                .collect(),
        ),
        MpNlri::Unknown(b) => json!({"raw": hex(b)}),
    }
}

fn labels(l: &[Label]) -> Value {
    Value::Array(l.iter().map(|l| json!(l.raw())).collect())
}

/// One EVPN NLRI with the fields its route type has (RFC 7432 §7, RFC 9136 §3).
pub fn evpn_json(r: &EvpnRoute) -> Value {
    match r {
        EvpnRoute::EthernetAd(x) => json!({
            "route_type": 1, "rd": x.rd.to_string(), "esi": x.esi.to_string(),
            "eth_tag": x.eth_tag, "labels": labels(&[x.label]),
        }),
        EvpnRoute::MacIp(x) => {
            let mut l = vec![x.label1];
            l.extend(x.label2);
            json!({
                "route_type": 2, "rd": x.rd.to_string(), "esi": x.esi.to_string(),
                "eth_tag": x.eth_tag, "mac": x.mac.to_string(),
                "ip": x.ip.map(|i| i.to_string()), "labels": labels(&l),
            })
        }
        EvpnRoute::Imet(x) => json!({
            "route_type": 3, "rd": x.rd.to_string(), "eth_tag": x.eth_tag,
            "ip": x.originator.to_string(),
        }),
        EvpnRoute::EthernetSegment(x) => json!({
            "route_type": 4, "rd": x.rd.to_string(), "esi": x.esi.to_string(),
            "ip": x.originator.to_string(),
        }),
        EvpnRoute::IpPrefix(x) => json!({
            "route_type": 5, "rd": x.rd.to_string(), "esi": x.esi.to_string(),
            "eth_tag": x.eth_tag, "prefix": x.prefix.to_string(),
            "gateway": x.gateway.to_string(), "labels": labels(&[x.label]),
        }),
        EvpnRoute::Unknown { route_type, body } => json!({
            "route_type": route_type, "unknown": true, "body": hex(body),
        }),
    }
}

/// One extended community, typed (RFC 4360, 7432, 8365, 9135, 9012).
pub fn ext_community_json(c: &ExtCommunity) -> Value {
    match c {
        ExtCommunity::RouteTarget(rt) => json!({"type": "route-target", "value": rt.to_string()}),
        ExtCommunity::Encapsulation(t) => json!({
            "type": "encapsulation",
            "tunnel": match t {
                TunnelType::Vxlan => "vxlan".to_string(),
                other => other.to_string().to_lowercase(),
            },
        }),
        ExtCommunity::MacMobility { seq, sticky } => {
            json!({"type": "mac-mobility", "seq": seq, "sticky": sticky})
        }
        ExtCommunity::EsiLabel {
            single_active,
            label,
        } => json!({"type": "esi-label", "single_active": single_active, "label": label.raw()}),
        ExtCommunity::EsImportRt(m) => json!({"type": "es-import-rt", "mac": m.to_string()}),
        ExtCommunity::RouterMac(m) => json!({"type": "router-mac", "mac": m.to_string()}),
        ExtCommunity::DefaultGateway => json!({"type": "default-gateway"}),
        ExtCommunity::Unknown(b) => json!({"type": "unknown", "value": hex(b)}),
    }
}

fn pmsi_json(p: &PmsiTunnel) -> Value {
    match &p.tunnel_type {
        PmsiTunnelType::IngressReplication(ip) => json!({
            "flags": p.flags, "tunnel_type": "ingress-replication",
            "label": p.label.raw(), "endpoint": ip.to_string(),
        }),
        PmsiTunnelType::Unknown { code, tunnel_id } => json!({
            "flags": p.flags, "tunnel_type": code,
            "label": p.label.raw(), "tunnel_id": hex(tunnel_id),
        }),
    }
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// [`message_json`] as one line, with `src`, `dst`, `type`, `length` and
/// `verdict` first (the rest in key order), for `evpnctl decode --json`.
pub fn message_json_line(bytes: &[u8], ends: Option<Endpoints>, view: &SessionView) -> String {
    const LEAD: [&str; 5] = ["src", "dst", "type", "length", "verdict"];
    let v = message_json(bytes, ends, view);
    let Value::Object(m) = &v else {
        return v.to_string();
    };
    let field = |k: &str, x: &Value| format!("{}:{x}", Value::from(k));
    let parts: Vec<String> = LEAD
        .iter()
        .filter_map(|k| m.get(*k).map(|x| field(k, x)))
        .chain(
            m.iter()
                .filter(|(k, _)| !LEAD.contains(&k.as_str()))
                .map(|(k, x)| field(k, x)),
        )
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Human-readable form: a heading line (endpoints, type, length, verdict),
/// the error if any, then the JSON fields as indented `key: value` lines,
/// with EVPN routes in FRR's bracket notation (`{route:#}`).
pub fn message_text(bytes: &[u8], ends: Option<Endpoints>, view: &SessionView) -> String {
    let mut v = message_json(bytes, ends, view);
    let mut out = String::new();
    let head = match ends {
        Some(e) => format!("{} -> {} ", e.src, e.dst),
        None => String::new(),
    };
    let verdict = match v.get("verdict").and_then(Value::as_str) {
        Some(s) => format!(", verdict {s}"),
        None => String::new(),
    };
    out.push_str(&format!(
        "{head}{} ({} octets{verdict})\n",
        v["type"].as_str().unwrap_or("?"),
        bytes.len()
    ));
    if let Some(e) = v.get("error") {
        out.push_str(&format!(
            "  ERROR {} [{}/{}]: {}\n",
            e["action"].as_str().unwrap_or("?"),
            e["code"],
            e["subcode"],
            e["reason"].as_str().unwrap_or("")
        ));
    }
    // EVPN routes in the FRR notation operators know, from the typed decode.
    if let Ok(Decoded::Update(u)) = decode_message(bytes, &view.cx) {
        let a = &u.update.attrs;
        for (key, n) in [
            (
                "mp_reach",
                a.mp_reach.as_ref().map(|r| (&r.nlri, &r.path_ids)),
            ),
            (
                "mp_unreach",
                a.mp_unreach.as_ref().map(|r| (&r.withdrawn, &r.path_ids)),
            ),
        ] {
            if let Some((MpNlri::Evpn(routes), ids)) = n {
                let lines = routes
                    .iter()
                    .enumerate()
                    .map(|(i, r)| match ids.get(i) {
                        Some(id) => json!(format!("{r:#} path-id {id}")),
                        None => json!(format!("{r:#}")),
                    })
                    .collect();
                v["attributes"][key]["nlri"] = Value::Array(lines);
            }
        }
    }
    if let Value::Object(m) = &v {
        for (k, val) in m {
            if matches!(
                k.as_str(),
                "type" | "src" | "dst" | "length" | "error" | "verdict"
            ) {
                continue;
            }
            text_field(&mut out, k, val, 1);
        }
    }
    out
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Object(m) => match (m.get("prefix"), m.get("path_id"), m.len()) {
            (Some(p), Some(id), 2) => format!("{} path-id {id}", scalar_text(p)),
            _ => {
                // `type` (of an extended community) first, then the rest.
                let first = m.get("type").map(|t| format!("type={}", scalar_text(t)));
                first
                    .into_iter()
                    .chain(
                        m.iter()
                            .filter(|(k, _)| *k != "type")
                            .map(|(k, v)| match v {
                                Value::Array(_) => format!("{k}=[{}]", scalar_text(v)),
                                v => format!("{k}={}", scalar_text(v)),
                            }),
                    )
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        },
        Value::Array(a) => a.iter().map(scalar_text).collect::<Vec<_>>().join(", "),
        v => v.to_string(),
    }
}

/// One field as `key: value`; objects nest, lists of more than a few or of
/// structured items get one line each (an object item as `k=v k=v`).
fn text_field(out: &mut String, key: &str, v: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(m) => {
            out.push_str(&format!("{pad}{key}:\n"));
            for (k, x) in m {
                text_field(out, k, x, depth + 1);
            }
        }
        Value::Array(a) if a.is_empty() => out.push_str(&format!("{pad}{key}: (none)\n")),
        Value::Array(a) if a.len() <= 4 && a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            out.push_str(&format!("{pad}{key}: {}\n", scalar_text(v)));
        }
        Value::Array(a) => {
            out.push_str(&format!("{pad}{key}:\n"));
            for x in a {
                out.push_str(&format!("{pad}  {}\n", scalar_text(x)));
            }
        }
        x => out.push_str(&format!("{pad}{key}: {}\n", scalar_text(x))),
    }
}
