//! `evpnctl decode` end to end, on the built binary.
//!
//! The captures of real FRR/GoBGP sessions (evpn-proto/tests/fixtures) are
//! decoded with `evpnctl decode --pcap FILE --json` and compared, UPDATE by
//! UPDATE and field by field, with tshark's own dissection of the same file
//! (`tshark -T json --no-duplicate-keys`): every EVPN NLRI (route type, RD,
//! ESI, Ethernet tag, MAC, IP, labels, RT-5 prefix and gateway), every
//! extended community, the next hops, and the IPv4 unicast NLRI and
//! withdrawn routes with their ADD-PATH path ids. The RD and extended
//! community encodings tshark prints raw are read here from RFC 4364 /
//! RFC 4360 directly; the label fields of RT-1/RT-2 are also compared on
//! the NLRI octets tshark shows (`-x`), since its MPLS-label view drops the
//! low 4 bits of a VNI. A test changes each field of each NLRI in turn and
//! checks the comparison reports it. Without tshark the comparisons print
//! `SKIPPED: tshark not installed`, except under `make test`
//! (`EVPND_REQUIRE_DEPS=1`), where that is a failure.
//!
//! The `--hex` tests feed messages built with evpn-proto's encoder (bytes
//! whose contents the test chose), from a file and from stdin, and the error
//! paths check the exit status and that stderr names the file and line or
//! frame.

#![expect(
    clippy::unwrap_used,
    reason = "test fixtures are known-valid values; a failure is a test failure"
)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use evpn_proto::attr::{AsPath, MpNlri, MpReach, NextHop, Origin, PathAttrs};
use evpn_proto::error::code;
use evpn_proto::evpn::{EvpnRoute, MacIp};
use evpn_proto::message::{keepalive, DecodeCxt, FamilySet, Open, Update};
use evpn_proto::prefix::Ipv4Prefix;
use evpn_proto::{Afi, Esi, ExtCommunity, Family, Label, Mac, Rd, RouteTarget, Safi, TunnelType};
use serde_json::Value;

const EVPNCTL: &str = env!("CARGO_BIN_EXE_evpnctl");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../evpn-proto/tests/fixtures")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("decode-{}-{name}", std::process::id()))
}

fn evpnctl(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(EVPNCTL)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// stdout as one JSON value per line; the command must have succeeded.
fn json_lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "evpnctl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---------------------------------------------------------------------------
// tshark's view.

fn tshark_installed() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every value under `key` anywhere in `v` (tshark nests fields in trees,
/// and a repeated field becomes an array).
fn find_all<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == key {
                    match x {
                        Value::Array(a) => out.extend(a.iter()),
                        x => out.push(x),
                    }
                } else {
                    find_all(x, key, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| find_all(x, key, out)),
        _ => {}
    }
}

fn find_one<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let mut out = Vec::new();
    find_all(v, key, &mut out);
    out.first().copied()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    find_one(v, key).and_then(Value::as_str)
}

fn num_of(v: &Value, key: &str) -> Option<u64> {
    str_of(v, key).map(|s| {
        s.strip_prefix("0x")
            .map(|h| u64::from_str_radix(h, 16).unwrap())
            .unwrap_or_else(|| s.parse().unwrap())
    })
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    }
}

type Direction = (String, String);

/// `-x` adds a `<field>_raw` array (hex first) next to every field. Keep
/// only the octets of each EVPN NLRI, as `nlri_hex` inside the NLRI's own
/// object (tshark's MPLS-label view of a label field drops its low 4 bits,
/// so the labels are compared on these octets), and drop the rest so the
/// JSON reads as without `-x`.
fn fold_raw(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(raw) = m.remove("bgp.evpn.nlri_raw") {
                let hexes: Vec<Value> = match &raw {
                    Value::Array(a) if a.first().is_some_and(Value::is_array) => {
                        a.iter().map(|r| r[0].clone()).collect()
                    }
                    _ => vec![raw[0].clone()],
                };
                match m.get_mut("bgp.evpn.nlri") {
                    Some(Value::Array(nlri)) => {
                        assert_eq!(nlri.len(), hexes.len(), "bgp.evpn.nlri_raw count");
                        for (n, h) in nlri.iter_mut().zip(hexes) {
                            n["nlri_hex"] = h;
                        }
                    }
                    Some(n @ Value::Object(_)) => n["nlri_hex"] = hexes[0].clone(),
                    other => panic!("bgp.evpn.nlri_raw without its NLRI: {other:?}"),
                }
            }
            // `-x` companions only: tshark also has fields whose own name
            // ends in `_raw` (`bgp.ext_com.value_raw`), without a sibling.
            let companions: Vec<String> = m
                .keys()
                .filter(|k| k.strip_suffix("_raw").is_some_and(|b| m.contains_key(b)))
                .cloned()
                .collect();
            companions.iter().for_each(|k| {
                m.remove(k);
            });
            m.values_mut().for_each(fold_raw);
        }
        Value::Array(a) => a.iter_mut().for_each(fold_raw),
        _ => {}
    }
}

/// The 3-octet label fields of an RT-1 or RT-2 from the NLRI's octets
/// (type, length, body; RFC 7432 §7.1, §7.2): after RD 8, ESI 10, tag 4
/// for RT-1; after the MAC and the IP (length in bits at body offset 29)
/// for RT-2.
fn label_fields(nlri_hex: &str) -> Option<Vec<u64>> {
    let b: Vec<u8> = (0..nlri_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(nlri_hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    let start = match b.first()? {
        1 => 2 + 22,
        2 => 2 + 22 + 1 + 6 + 1 + usize::from(*b.get(31)?) / 8,
        _ => return None,
    };
    let rest = b.get(start..)?;
    (rest.len() % 3 == 0).then(|| {
        rest.chunks(3)
            .map(|c| c.iter().fold(0u64, |a, x| a << 8 | u64::from(*x)))
            .collect()
    })
}

/// The UPDATEs of each direction, in order, as tshark dissects them.
fn tshark_updates(pcap: &Path) -> BTreeMap<Direction, Vec<Value>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args([
            "-d",
            "tcp.port==179,bgp",
            "-Y",
            "bgp",
            "-T",
            "json",
            "--no-duplicate-keys",
            "-x",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut frames: Value = serde_json::from_slice(&out.stdout).unwrap();
    fold_raw(&mut frames);
    let mut by_dir: BTreeMap<Direction, Vec<Value>> = BTreeMap::new();
    for f in frames.as_array().unwrap() {
        let l = &f["_source"]["layers"];
        let (src_ip, dst_ip) = match (l.get("ip"), l.get("ipv6")) {
            (Some(ip), _) => (ip["ip.src"].as_str(), ip["ip.dst"].as_str()),
            (_, Some(ip)) => (ip["ipv6.src"].as_str(), ip["ipv6.dst"].as_str()),
            _ => panic!("frame without IP: {l}"),
        };
        let addr = |ip: Option<&str>, port: &Value| {
            let ip: IpAddr = ip.unwrap().parse().unwrap();
            SocketAddr::new(ip, port.as_str().unwrap().parse().unwrap()).to_string()
        };
        let dir = (
            addr(src_ip, &l["tcp"]["tcp.srcport"]),
            addr(dst_ip, &l["tcp"]["tcp.dstport"]),
        );
        for m in as_list(&l["bgp"]) {
            if m["bgp.type"] == "2" {
                by_dir.entry(dir.clone()).or_default().push(m.clone());
            }
        }
    }
    by_dir
}

/// Our UPDATEs of each direction, in order.
fn our_updates(lines: &[Value]) -> BTreeMap<Direction, Vec<Value>> {
    let mut by_dir: BTreeMap<Direction, Vec<Value>> = BTreeMap::new();
    for l in lines.iter().filter(|l| l["type"] == "UPDATE") {
        let dir = (
            l["src"].as_str().unwrap().to_string(),
            l["dst"].as_str().unwrap().to_string(),
        );
        by_dir.entry(dir).or_default().push(l.clone());
    }
    by_dir
}

/// An RD from its 8 raw octets (RFC 4364 §4.2): type 0 `AS2:N4`, type 1
/// `IPv4:N2`, type 2 `AS4:N2`.
fn rd_text(raw: &str) -> String {
    let b: Vec<u8> = raw
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    let be = |s: &[u8]| s.iter().fold(0u64, |a, x| a << 8 | u64::from(*x));
    match be(&b[..2]) {
        0 => format!("{}:{}", be(&b[2..4]), be(&b[4..8])),
        1 => format!("{}.{}.{}.{}:{}", b[2], b[3], b[4], b[5], be(&b[6..8])),
        2 => format!("{}:{}", be(&b[2..6]), be(&b[6..8])),
        t => panic!("RD type {t}"),
    }
}

/// Counts of what was compared, so that a test cannot pass on nothing.
#[derive(Default)]
struct Compared {
    updates: usize,
    evpn_nlri: usize,
    ext_communities: usize,
    next_hops: usize,
    ipv4_nlri: usize,
    path_ids: usize,
    /// EVPN NLRI compared per route type.
    evpn_by_type: BTreeMap<u64, usize>,
    /// Every (ours, tshark) EVPN NLRI pair that agreed, for the test that
    /// proves the comparison catches a wrong field.
    evpn_pairs: Vec<(Value, Value)>,
}

impl std::fmt::Debug for Compared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compared")
            .field("updates", &self.updates)
            .field("evpn_nlri", &self.evpn_nlri)
            .field("evpn_by_type", &self.evpn_by_type)
            .field("ext_communities", &self.ext_communities)
            .field("next_hops", &self.next_hops)
            .field("ipv4_nlri", &self.ipv4_nlri)
            .field("path_ids", &self.path_ids)
            .finish_non_exhaustive()
    }
}

/// One EVPN NLRI, field by field: every mismatch, empty when they agree.
/// A key of ours that tshark has no field for (e.g. `mac` on an RT-5) is a
/// mismatch too, so every key we print is checked against something.
fn evpn_mismatches(ours: &Value, t: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |what: &str, o: Option<&Value>, want: Option<Value>| {
        if o != want.as_ref() {
            bad.push(format!("{what}: ours {o:?}, tshark {want:?}"));
        }
    };
    let o = |k: &str| ours.get(k);
    let Some(rt) = num_of(t, "bgp.evpn.nlri.rt") else {
        return vec![format!("tshark has no route type: {t}")];
    };
    check("route_type", o("route_type"), Some(rt.into()));
    let rd = str_of(t, "bgp.evpn.nlri.rd").map(rd_text);
    check("rd", o("rd"), rd.map(Value::from));
    // RT-3 has no ESI, RT-3/RT-4 no Ethernet tag on the wire (RFC 7432 §7).
    check(
        "esi",
        o("esi"),
        str_of(t, "bgp.evpn.nlri.esi").map(Value::from),
    );
    check(
        "eth_tag",
        o("eth_tag"),
        num_of(t, "bgp.evpn.nlri.etag").map(Value::from),
    );
    check(
        "mac",
        o("mac"),
        str_of(t, "bgp.evpn.nlri.mac_addr").map(Value::from),
    );
    let t_ip = str_of(t, "bgp.evpn.nlri.ip.addr").or(str_of(t, "bgp.evpn.nlri.ipv6.addr"));
    let (ip, prefix, gateway) = match rt {
        // RT-2 with IP length 0: `ip` is null.
        2 => match num_of(t, "bgp.evpn.nlri.iplen") {
            Some(0) => (Some(Value::Null), None, None),
            _ => (t_ip.map(Value::from), None, None),
        },
        3 | 4 => (t_ip.map(Value::from), None, None),
        5 => {
            let len = num_of(t, "bgp.evpn.nlri.prefix_len");
            let prefix = t_ip.zip(len).map(|(p, l)| Value::from(format!("{p}/{l}")));
            let gw = str_of(t, "bgp.evpn.nlri.ipv4.gtw_addr")
                .or(str_of(t, "bgp.evpn.nlri.ipv6.gtw_addr"))
                .map(Value::from);
            (None, prefix, gw)
        }
        _ => (None, None, None),
    };
    check("ip", o("ip"), ip);
    check("prefix", o("prefix"), prefix);
    check("gateway", o("gateway"), gateway);
    // Labels: the 24-bit field. tshark shows it as `vni` (24 bits) after a
    // VXLAN encapsulation ext-comm earlier in the frame, as MPLS label
    // `mpls_ls1/2` (field >> 4) otherwise; RT-5's is always 24 bits.
    let labels: Vec<u64> = o("labels")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let want_labels = match rt {
        1 | 2 => {
            // tshark's own view first: `vni` (all 24 bits) or MPLS label
            // (the top 20), then every bit from the NLRI octets.
            let mut vnis = Vec::new();
            find_all(t, "bgp.evpn.nlri.vni", &mut vnis);
            let (what, t_view, ours_view): (_, Vec<u64>, Vec<u64>) = if vnis.is_empty() {
                let ls = ["bgp.evpn.nlri.mpls_ls1", "bgp.evpn.nlri.mpls_ls2"]
                    .iter()
                    .filter_map(|k| num_of(t, k))
                    .collect();
                (
                    "labels (MPLS view)",
                    ls,
                    labels.iter().map(|l| l >> 4).collect(),
                )
            } else {
                let v = vnis
                    .iter()
                    .filter_map(|v| v.as_str()?.parse().ok())
                    .collect();
                ("labels (VNI view)", v, labels.clone())
            };
            check(what, Some(&Value::from(ours_view)), Some(t_view.into()));
            str_of(t, "nlri_hex").and_then(label_fields)
        }
        5 => num_of(t, "bgp.update.path_attribute.mpls_label_value").map(|l| vec![l]),
        _ => None,
    };
    check("labels", o("labels"), want_labels.map(Value::from));
    // Nothing else may be in our object (path_id only under ADD-PATH,
    // which no EVPN fixture family negotiates).
    if let Value::Object(m) = ours {
        let known = [
            "route_type",
            "rd",
            "esi",
            "eth_tag",
            "mac",
            "ip",
            "prefix",
            "gateway",
            "labels",
        ];
        for k in m.keys().filter(|k| !known.contains(&k.as_str())) {
            bad.push(format!("unexpected key {k} in {ours}"));
        }
    }
    bad
}

fn compare_evpn(ours: &Value, t: &Value, at: &str) {
    let bad = evpn_mismatches(ours, t);
    assert!(bad.is_empty(), "{at}: {bad:#?}\nours {ours}\ntshark {t}");
}

/// One extended community (RFC 4360 type/sub-type from tshark's raw
/// octets, values from its fields).
fn compare_ext_community(ours: &Value, t: &Value, at: &str) {
    let typ = num_of(t, "bgp.ext_com.type").unwrap();
    let mut stypes = Vec::new();
    if let Value::Object(m) = t {
        for (k, v) in m {
            if k.starts_with("bgp.ext_com.stype") {
                stypes.push(v);
            }
        }
    }
    let stype = stypes
        .first()
        .and_then(|v| v.as_str())
        .map(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap())
        .unwrap();
    let s = |k: &str| str_of(t, k).unwrap().to_string();
    let want = match (typ, stype) {
        (0x00, 0x02) => serde_json::json!({"type": "route-target",
            "value": format!("{}:{}", s("bgp.ext_com.value_as2"), s("bgp.ext_com.value_an4"))}),
        (0x01, 0x02) => serde_json::json!({"type": "route-target",
            "value": format!("{}:{}", s("bgp.ext_com.value_IP4"), s("bgp.ext_com.value_an2"))}),
        (0x02, 0x02) => serde_json::json!({"type": "route-target",
            "value": format!("{}:{}", s("bgp.ext_com.value_as4"), s("bgp.ext_com.value_an2"))}),
        (0x03, 0x0c) => {
            assert_eq!(
                num_of(t, "bgp.ext_com.tunnel_type"),
                Some(8),
                "{at}: tunnel"
            );
            serde_json::json!({"type": "encapsulation", "tunnel": "vxlan"})
        }
        (0x03, 0x0d) => serde_json::json!({"type": "default-gateway"}),
        (0x06, 0x00) => serde_json::json!({"type": "mac-mobility",
            "seq": num_of(t, "bgp.ext_com_evpn.mmac.seq").unwrap(),
            "sticky": num_of(t, "bgp.ext_com_evpn.mmac.flags.sticky") == Some(1)}),
        (0x06, 0x01) => serde_json::json!({"type": "esi-label",
            "single_active": num_of(t, "bgp.ext_com_l2.esi_label_flag").unwrap() & 1 == 1,
            "label": num_of(t, "bgp.update.path_attribute.mpls_label_value").unwrap()}),
        (0x06, 0x02) => serde_json::json!({"type": "es-import-rt",
            "mac": s("bgp.ext_com_evpn.esi.rt")}),
        (0x06, 0x03) => serde_json::json!({"type": "router-mac",
            "mac": s("bgp.ext_com_evpn.esi.router_mac")}),
        (typ, stype) => {
            // Not one we type (e.g. EVPN ND, 0x06/0x08): kept as its 8 raw
            // octets; tshark shows the 6-octet value as a number.
            let hex = ours["value"].as_str().unwrap();
            assert_eq!(ours["type"], "unknown", "{at}");
            assert_eq!(&hex[..4], format!("{typ:02x}{stype:02x}"), "{at}");
            let raw = num_of(t, "bgp.ext_com.value_raw").unwrap();
            assert_eq!(u64::from_str_radix(&hex[4..], 16).unwrap(), raw, "{at}");
            return;
        }
    };
    assert_eq!(ours, &want, "{at}: extended community");
}

/// The path attributes of a tshark UPDATE.
fn t_attrs(t: &Value) -> Vec<&Value> {
    let mut v = Vec::new();
    find_all(t, "bgp.update.path_attribute", &mut v);
    v
}

/// The IPv4 prefixes of tshark's `bgp.update.nlri` / withdrawn routes as
/// our JSON shows them (with `path_id` when ADD-PATH is on).
fn t_ipv4(t: &Value, field: &str, prefix_key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(Value::Object(m)) = find_one(t, field) else {
        return out;
    };
    for p in m.values() {
        let text = format!(
            "{}/{}",
            str_of(p, prefix_key).unwrap(),
            str_of(p, "bgp.prefix_length").unwrap()
        );
        out.push(match num_of(p, "bgp.nlri_path_id") {
            Some(id) => serde_json::json!({"prefix": text, "path_id": id}),
            None => Value::from(text),
        });
    }
    out
}

fn compare_update(ours: &Value, t: &Value, at: &str, n: &mut Compared) {
    n.updates += 1;
    let attrs = &ours["attributes"];
    // IPv4 unicast NLRI and withdrawn routes (with path ids).
    let nlri = t_ipv4(t, "bgp.update.nlri", "bgp.nlri_prefix");
    let withdrawn = t_ipv4(t, "bgp.update.withdrawn_routes", "bgp.withdrawn_prefix");
    assert_eq!(ours["nlri"].as_array().unwrap(), &nlri, "{at}: NLRI");
    assert_eq!(
        ours["withdrawn"].as_array().unwrap(),
        &withdrawn,
        "{at}: withdrawn"
    );
    n.ipv4_nlri += nlri.len() + withdrawn.len();
    n.path_ids += nlri
        .iter()
        .chain(&withdrawn)
        .filter(|p| p.get("path_id").is_some())
        .count();
    for a in t_attrs(t) {
        match num_of(a, "bgp.update.path_attribute.type_code").unwrap() {
            3 => {
                assert_eq!(
                    attrs["next_hop"],
                    str_of(a, "bgp.update.path_attribute.next_hop").unwrap(),
                    "{at}: NEXT_HOP"
                );
                n.next_hops += 1;
            }
            14 | 15 => {
                let reach = num_of(a, "bgp.update.path_attribute.type_code") == Some(14);
                let (key, ours_mp) = if reach {
                    ("mp_reach_nlri", &attrs["mp_reach"])
                } else {
                    ("mp_unreach_nlri", &attrs["mp_unreach"])
                };
                let afi = num_of(a, &format!("bgp.update.path_attribute.{key}.afi")).unwrap();
                let safi = num_of(a, &format!("bgp.update.path_attribute.{key}.safi")).unwrap();
                assert_eq!(
                    (&ours_mp["afi"], &ours_mp["safi"]),
                    (&afi.into(), &safi.into())
                );
                if reach {
                    let nh = |k: &str| {
                        str_of(
                            a,
                            &format!("bgp.update.path_attribute.mp_reach_nlri.next_hop.{k}"),
                        )
                    };
                    let want = match (nh("ipv4"), nh("ipv6"), nh("ipv6.link_local")) {
                        (Some(v4), _, _) => Value::from(v4),
                        (_, Some(g), Some(ll)) => serde_json::json!([g, ll]),
                        (_, Some(g), None) => Value::from(g),
                        _ => panic!("{at}: next hop not dissected"),
                    };
                    assert_eq!(ours_mp["next_hop"], want, "{at}: MP_REACH next hop");
                    n.next_hops += 1;
                }
                if afi == 25 {
                    let mut t_nlri = Vec::new();
                    find_all(a, "bgp.evpn.nlri", &mut t_nlri);
                    let o_nlri = ours_mp["nlri"].as_array().unwrap();
                    assert_eq!(o_nlri.len(), t_nlri.len(), "{at}: EVPN NLRI count");
                    for (i, (o, tn)) in o_nlri.iter().zip(t_nlri).enumerate() {
                        compare_evpn(o, tn, &format!("{at} {key}[{i}]"));
                        n.evpn_nlri += 1;
                        let rt = o["route_type"].as_u64().unwrap();
                        *n.evpn_by_type.entry(rt).or_default() += 1;
                        n.evpn_pairs.push((o.clone(), tn.clone()));
                    }
                }
            }
            16 => {
                let mut t_ec = Vec::new();
                find_all(a, "bgp.ext_community", &mut t_ec);
                let o_ec = attrs["extended_communities"].as_array().unwrap();
                assert_eq!(o_ec.len(), t_ec.len(), "{at}: ext-comm count");
                for (i, (o, te)) in o_ec.iter().zip(t_ec).enumerate() {
                    compare_ext_community(o, te, &format!("{at} ext-comm[{i}]"));
                    n.ext_communities += 1;
                }
            }
            _ => {}
        }
    }
}

/// Decode `pcap` with evpnctl and compare every UPDATE with tshark's.
fn compare_with_tshark(pcap: &Path, extra: &[&str]) -> Compared {
    let p = pcap.to_str().unwrap();
    let mut args = vec!["decode", "--pcap", p, "--json"];
    args.extend_from_slice(extra);
    let ours = our_updates(&json_lines(&evpnctl(&args, None)));
    let theirs = tshark_updates(pcap);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "directions"
    );
    let mut n = Compared::default();
    for (dir, t_list) in &theirs {
        let o_list = &ours[dir];
        assert_eq!(o_list.len(), t_list.len(), "{dir:?}: UPDATE count");
        for (i, (o, t)) in o_list.iter().zip(t_list).enumerate() {
            assert_eq!(o["verdict"], "ok", "{dir:?} UPDATE {i}: {o}");
            compare_update(o, t, &format!("{} -> {} UPDATE {i}", dir.0, dir.1), &mut n);
        }
    }
    n
}

/// Without tshark the comparisons print `SKIPPED` and pass, except under
/// `make test` (EVPND_REQUIRE_DEPS=1, after it installed the dependencies),
/// where a missing tshark fails them: the tshark agreement must not pass
/// silently there.
macro_rules! require_tshark {
    () => {
        if !tshark_installed() {
            assert!(
                std::env::var_os("EVPND_REQUIRE_DEPS").is_none(),
                "tshark not installed (scripts/install-test-deps.sh)"
            );
            netlink_glue::netns::skipped("tshark not installed");
            return;
        }
    };
}

#[test]
fn frr_gobgp_capture_agrees_with_tshark_field_by_field() {
    require_tshark!();
    let n = compare_with_tshark(&fixture("frr-gobgp-evpn.pcap"), &[]);
    println!("{n:?}");
    // 43 UPDATEs (fixtures/README.md). EVPN NLRI, announced + withdrawn:
    // RT-1 3+1, RT-2 13+3, RT-3 2, RT-4 2+1, RT-5 4+1.
    assert_eq!(n.updates, 43, "{n:?}");
    assert_eq!(
        n.evpn_by_type,
        BTreeMap::from([(1, 4), (2, 16), (3, 2), (4, 3), (5, 5)]),
        "{n:?}"
    );
    assert_eq!(n.evpn_nlri, 30, "{n:?}");
    assert_eq!(n.ext_communities, 54, "{n:?}");
    assert_eq!(n.next_hops, 26, "{n:?}");
    // IPv4 unicast under ADD-PATH: FRR's 192.0.2.0/24 and 203.0.113.0/24
    // (path ids 2, 3) and their withdrawal, gobgp's 198.51.100.0/24 (path
    // id 1) twice and its withdrawal, all with path ids.
    assert!(n.ipv4_nlri >= 6, "{n:?}");
    assert_eq!(n.path_ids, n.ipv4_nlri, "{n:?}");
}

/// One value that differs from `v` (same JSON type where it matters).
fn changed(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::from(n.as_u64().unwrap() ^ 1),
        Value::String(x) => {
            // Flip the last hex digit or decimal digit: still well formed.
            let mut c: Vec<char> = x.chars().collect();
            let last = c.iter().rposition(|c| c.is_ascii_hexdigit()).unwrap();
            c[last] = if c[last] == '1' { '2' } else { '1' };
            Value::from(c.into_iter().collect::<String>())
        }
        Value::Array(a) => {
            let mut a = a.clone();
            match a.last_mut() {
                Some(l) => *l = changed(l),
                None => a.push(Value::from(1)),
            }
            Value::from(a)
        }
        Value::Null => Value::from("10.1.0.1"),
        other => panic!("no change for {other}"),
    }
}

#[test]
fn a_wrong_or_missing_nlri_field_fails_the_tshark_comparison() {
    require_tshark!();
    // The field-by-field comparison is not vacuous: in every EVPN NLRI of
    // the FRR-GoBGP capture (all five route types), changing any one field
    // of ours, or leaving it out, is reported as exactly that field.
    let n = compare_with_tshark(&fixture("frr-gobgp-evpn.pcap"), &[]);
    let mut tried = BTreeMap::<String, usize>::new();
    for (ours, t) in &n.evpn_pairs {
        assert_eq!(evpn_mismatches(ours, t), Vec::<String>::new());
        for k in ours.as_object().unwrap().keys() {
            let mut wrong = ours.clone();
            wrong[k] = changed(&ours[k]);
            let bad = evpn_mismatches(&wrong, t);
            assert!(
                bad.iter().any(|b| b.starts_with(k.as_str())),
                "{k} changed to {} in {ours}: {bad:?}",
                wrong[k]
            );
            let mut missing = ours.clone();
            missing.as_object_mut().unwrap().remove(k);
            let bad = evpn_mismatches(&missing, t);
            assert!(
                bad.iter().any(|b| b.starts_with(k.as_str())),
                "{k} left out: {bad:?}"
            );
            *tried.entry(k.clone()).or_default() += 1;
        }
        // A key tshark has nothing for is reported too.
        let mut extra = ours.clone();
        extra["vni"] = Value::from(100);
        assert!(evpn_mismatches(&extra, t).iter().any(|b| b.contains("vni")));
    }
    let keys: Vec<&str> = tried.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "esi",
            "eth_tag",
            "gateway",
            "ip",
            "labels",
            "mac",
            "prefix",
            "rd",
            "route_type"
        ]
    );
}

#[test]
fn frr_frr_capture_over_ipv6_agrees_with_tshark_field_by_field() {
    require_tshark!();
    let n = compare_with_tshark(&fixture("frr-frr-evpn.pcap"), &[]);
    println!("{n:?}");
    assert_eq!(n.updates, 19, "{n:?}");
    assert_eq!(n.evpn_by_type, BTreeMap::from([(2, 24), (3, 5)]), "{n:?}");
    assert_eq!(n.ext_communities, 39, "{n:?}");
}

#[test]
fn two_octet_ebgp_capture_agrees_with_tshark() {
    require_tshark!();
    // No capabilities on FRR's side: 2-octet AS, IPv4 only, eBGP — all
    // taken from the OPENs.
    let n = compare_with_tshark(&fixture("gobgp-ebgp-2byte.pcap"), &[]);
    assert_eq!(n.updates, 9, "{n:?}");
    assert!(n.ipv4_nlri >= 7 && n.path_ids == 0, "{n:?}");
}

#[test]
fn add_path_context_comes_from_the_opens() {
    require_tshark!();
    // Forcing ADD-PATH off mis-reads the IPv4 NLRI of the add-path capture:
    // the OPEN-derived context is what makes the comparison above pass.
    let pcap = fixture("frr-gobgp-evpn.pcap");
    let out = evpnctl(
        &[
            "decode",
            "--pcap",
            pcap.to_str().unwrap(),
            "--json",
            "--add-path",
            "none",
        ],
        None,
    );
    let ours = our_updates(&json_lines(&out));
    let theirs = tshark_updates(&pcap);
    let mut differ = 0;
    for (dir, t_list) in &theirs {
        for (o, t) in ours[dir].iter().zip(t_list) {
            let nlri = t_ipv4(t, "bgp.update.nlri", "bgp.nlri_prefix");
            if !nlri.is_empty() && o["nlri"].as_array() != Some(&nlri) {
                differ += 1;
            }
        }
    }
    assert!(differ >= 2, "IPv4 NLRI decoded the same without ADD-PATH");
}

// ---------------------------------------------------------------------------
// --hex, text output, errors: messages built with evpn-proto.

fn rt2() -> MacIp {
    MacIp {
        rd: Rd::Ip {
            ip: Ipv4Addr::new(10, 0, 0, 1),
            number: 100,
        },
        esi: Esi::ZERO,
        eth_tag: 0,
        mac: Mac([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]),
        ip: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 5))),
        label1: Label::from_raw(100),
        label2: None,
    }
}

/// An EVPN RT-2 UPDATE with RT 65000:100, VXLAN, MAC mobility seq 3; path
/// id 7 when `cx` has ADD-PATH for EVPN.
fn evpn_update(cx: &DecodeCxt) -> Vec<u8> {
    Update {
        attrs: PathAttrs {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([])),
            local_pref: Some(100),
            mp_reach: Some(MpReach {
                afi: Afi::L2vpn,
                safi: Safi::Evpn,
                next_hop: NextHop::V4(Ipv4Addr::new(10, 0, 0, 1)),
                nlri: MpNlri::Evpn(vec![EvpnRoute::MacIp(rt2())]),
                path_ids: vec![7],
            }),
            ext_communities: Some(vec![
                ExtCommunity::RouteTarget(RouteTarget::As2 {
                    asn: 65000,
                    local: 100,
                }),
                ExtCommunity::Encapsulation(TunnelType::Vxlan),
                ExtCommunity::MacMobility {
                    seq: 3,
                    sticky: false,
                },
            ]),
            ..PathAttrs::default()
        },
        ..Update::default()
    }
    .encode(cx)
}

/// Hex with a space between octets.
fn spaced_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn hex_dump() -> String {
    format!(
        "# a keepalive and an EVPN UPDATE\n{}\n\n   {}   # trailing comment\n",
        spaced_hex(&keepalive()),
        spaced_hex(&evpn_update(&DecodeCxt::default()))
    )
}

fn check_hex_lines(lines: &[Value]) {
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["type"], "KEEPALIVE");
    let u = &lines[1];
    assert_eq!(
        (u["type"].as_str(), u["verdict"].as_str()),
        (Some("UPDATE"), Some("ok"))
    );
    let mp = &u["attributes"]["mp_reach"];
    assert_eq!(
        (&mp["afi"], &mp["safi"], &mp["next_hop"]),
        (&25.into(), &70.into(), &"10.0.0.1".into())
    );
    let r = rt2();
    assert_eq!(
        mp["nlri"][0],
        serde_json::json!({"route_type": 2, "rd": "10.0.0.1:100",
            "esi": "00:00:00:00:00:00:00:00:00:00", "eth_tag": 0,
            "mac": "aa:bb:cc:dd:ee:ff", "ip": "10.1.0.5", "labels": [r.label1.raw()]})
    );
    assert_eq!(
        u["attributes"]["extended_communities"],
        serde_json::json!([{"type": "route-target", "value": "65000:100"},
            {"type": "encapsulation", "tunnel": "vxlan"},
            {"type": "mac-mobility", "seq": 3, "sticky": false}])
    );
}

#[test]
fn hex_from_a_file_decodes_every_message() {
    let path = scratch("msgs.hex");
    std::fs::write(&path, hex_dump()).unwrap();
    let out = evpnctl(&["decode", "--hex", path.to_str().unwrap(), "--json"], None);
    check_hex_lines(&json_lines(&out));
}

#[test]
fn hex_from_stdin_decodes_every_message() {
    let out = evpnctl(&["decode", "--json", "--hex", "-"], Some(&hex_dump()));
    check_hex_lines(&json_lines(&out));
}

#[test]
fn hex_with_add_path_shows_path_ids() {
    let cx = DecodeCxt {
        add_path: [Family::Evpn].into_iter().collect::<FamilySet>(),
        ..DecodeCxt::default()
    };
    let text = spaced_hex(&evpn_update(&cx));
    let out = evpnctl(
        &["decode", "--hex", "-", "--json", "--add-path", "evpn"],
        Some(&text),
    );
    let lines = json_lines(&out);
    let nlri = &lines[0]["attributes"]["mp_reach"]["nlri"][0];
    assert_eq!(
        (&nlri["path_id"], &nlri["mac"]),
        (&7.into(), &"aa:bb:cc:dd:ee:ff".into())
    );
    // Without --add-path the path id is read as a route type: session reset.
    let out = evpnctl(&["decode", "--hex", "-", "--json"], Some(&text));
    let l = &json_lines(&out)[0];
    assert_eq!(l["verdict"], "session-reset");
    assert_eq!(l["notification"]["code"], code::UPDATE);
}

#[test]
fn human_readable_output_names_the_fields() {
    let out = evpnctl(&["decode", "--hex", "-"], Some(&hex_dump()));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("KEEPALIVE (19 octets)"), "{text}");
    let len = evpn_update(&DecodeCxt::default()).len();
    assert!(
        text.contains(&format!("UPDATE ({len} octets, verdict ok)")),
        "{text}"
    );
    // The route in FRR's notation, as evpn-proto formats it.
    let route = format!("{:#}", EvpnRoute::MacIp(rt2()));
    assert!(text.contains(&route), "{text}");
    assert!(text.contains("type=route-target value=65000:100"), "{text}");
    assert!(
        text.contains("type=mac-mobility seq=3 sticky=false"),
        "{text}"
    );
}

#[test]
fn malformed_updates_carry_their_verdict_and_decoding_goes_on() {
    let p = |a: [u8; 4], l: u8| Ipv4Prefix::new(Ipv4Addr::from(a), l).unwrap();
    // IPv4 NLRI without ORIGIN/AS_PATH/NEXT_HOP: treat-as-withdraw [3,3].
    let taw = Update {
        nlri: vec![p([192, 0, 2, 0], 24)],
        ..Update::default()
    }
    .encode(&DecodeCxt::default());
    // A withdrawn-routes length past the message: session reset [3,1].
    let mut reset = Update::default().encode(&DecodeCxt::default());
    reset[20] = 9;
    let text = [&taw, &reset, &keepalive()]
        .map(|m| spaced_hex(m))
        .join("\n");
    let lines = json_lines(&evpnctl(&["decode", "--hex", "-", "--json"], Some(&text)));
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["verdict"], "treat-as-withdraw");
    assert_eq!(lines[0]["error"]["code"], code::UPDATE);
    assert_eq!(
        lines[0]["error"]["subcode"],
        code::update::MISSING_WELL_KNOWN
    );
    assert_eq!(lines[0]["nlri"], serde_json::json!(["192.0.2.0/24"]));
    assert_eq!(lines[1]["verdict"], "session-reset");
    assert_eq!(
        (
            &lines[1]["notification"]["code"],
            &lines[1]["notification"]["subcode"]
        ),
        (
            &code::UPDATE.into(),
            &code::update::MALFORMED_ATTRIBUTE_LIST.into()
        )
    );
    assert_eq!(lines[1]["error"]["action"], "session-reset");
    assert_eq!(lines[2]["type"], "KEEPALIVE");
}

#[test]
fn peer_as_checks_the_open() {
    let open = Open::new(65001, 90, Ipv4Addr::new(10, 0, 0, 2), vec![]).encode();
    let text = spaced_hex(&open);
    let ok = json_lines(&evpnctl(
        &["decode", "--hex", "-", "--json", "--peer-as", "65001"],
        Some(&text),
    ));
    assert!(ok[0].get("error").is_none(), "{}", ok[0]);
    let bad = json_lines(&evpnctl(
        &["decode", "--hex", "-", "--json", "--peer-as", "65002"],
        Some(&text),
    ));
    assert_eq!(
        (&bad[0]["error"]["code"], &bad[0]["error"]["subcode"]),
        (&2.into(), &2.into())
    );
}

/// An IPv4 unicast UPDATE for 192.0.2.0/24 with AS_PATH `path`, encoded
/// under `cx` (2- or 4-octet AS numbers), with LOCAL_PREF.
fn ipv4_update(path: &[u32], cx: &DecodeCxt) -> Vec<u8> {
    Update {
        attrs: PathAttrs {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(path.iter().copied())),
            next_hop: Some(Ipv4Addr::new(10, 0, 0, 2)),
            local_pref: Some(100),
            ..PathAttrs::default()
        },
        nlri: vec![Ipv4Prefix::new(Ipv4Addr::new(192, 0, 2, 0), 24).unwrap()],
        ..Update::default()
    }
    .encode(cx)
}

fn decode_one(msg: &[u8], opts: &[&str]) -> Value {
    let mut args = vec!["decode", "--hex", "-", "--json"];
    args.extend_from_slice(opts);
    let lines = json_lines(&evpnctl(&args, Some(&spaced_hex(msg))));
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.into_iter().next().unwrap()
}

#[test]
fn no_as4_reads_two_octet_as_paths() {
    let two = DecodeCxt {
        four_octet_as: false,
        ..DecodeCxt::default()
    };
    let m = ipv4_update(&[65001, 65002], &two);
    let ok = decode_one(&m, &["--no-as4"]);
    assert_eq!(ok["verdict"], "ok", "{ok}");
    assert_eq!(
        ok["attributes"]["as_path"],
        serde_json::json!([{"type": "sequence", "asns": [65001, 65002]}])
    );
    // The same octets read as 4-octet AS numbers (the default): one AS
    // 65001 << 16 | 65002, which is not what was sent.
    let four = decode_one(&m, &[]);
    assert_ne!(four["attributes"]["as_path"], ok["attributes"]["as_path"]);
}

#[test]
fn families_limits_the_negotiated_address_families() {
    let m = evpn_update(&DecodeCxt::default());
    let all = decode_one(&m, &[]);
    assert_eq!(all["verdict"], "ok");
    assert_eq!(
        all["attributes"]["mp_reach"]["nlri"][0]["mac"],
        "aa:bb:cc:dd:ee:ff"
    );
    // EVPN not negotiated: its NLRI are kept raw and ignored, with the
    // attribute-discard note.
    let v4 = decode_one(&m, &["--families", "ipv4,ipv6"]);
    assert_eq!(v4["verdict"], "attribute-discard", "{v4}");
    assert_eq!(v4["error"]["action"], "attribute-discard");
    let raw = v4["attributes"]["mp_reach"]["nlri"]["raw"]
        .as_str()
        .unwrap();
    assert!(raw.ends_with("30aabbccddeeff200a010005000064"), "{v4}");
    // IPv4 unicast not negotiated: the classic NLRI field is ignored.
    let m = ipv4_update(&[], &DecodeCxt::default());
    let evpn = decode_one(&m, &["--families", "evpn"]);
    assert_eq!(evpn["verdict"], "attribute-discard", "{evpn}");
    assert_eq!(evpn["nlri"], serde_json::json!([]));
    assert_eq!(
        decode_one(&m, &["--families", "evpn,ipv4"])["nlri"][0],
        "192.0.2.0/24"
    );
}

#[test]
fn local_and_peer_as_make_the_session_ebgp() {
    let cx = DecodeCxt::default();
    // Default iBGP: the empty AS_PATH and LOCAL_PREF are fine.
    assert_eq!(decode_one(&ipv4_update(&[], &cx), &[])["verdict"], "ok");
    let ebgp = ["--local-as", "65000", "--peer-as", "65001"];
    // eBGP: the leftmost AS must be the peer's (RFC 4271 §6.3), and
    // LOCAL_PREF from an external peer is discarded (RFC 7606 §7.5).
    let good = decode_one(&ipv4_update(&[65001, 65100], &cx), &ebgp);
    assert_eq!(good["verdict"], "attribute-discard", "{good}");
    assert_eq!(good["error"]["code"], 3);
    assert!(good["attributes"].get("local_pref").is_none(), "{good}");
    let bad = decode_one(&ipv4_update(&[65100], &cx), &ebgp);
    assert_eq!(bad["verdict"], "treat-as-withdraw", "{bad}");
    assert_eq!(
        (&bad["error"]["code"], &bad["error"]["subcode"]),
        (&3.into(), &11.into()),
        "Malformed AS_PATH"
    );
    // Same AS on both sides: iBGP again, LOCAL_PREF kept.
    let ibgp = decode_one(
        &ipv4_update(&[], &cx),
        &["--local-as", "65000", "--peer-as", "65000"],
    );
    assert_eq!(ibgp["verdict"], "ok", "{ibgp}");
    assert_eq!(ibgp["attributes"]["local_pref"], 100);
}

#[test]
fn bad_hex_names_the_file_and_line_and_fails_after_decoding_the_rest() {
    let path = scratch("bad.hex");
    std::fs::write(
        &path,
        format!("# ok\n{}\nzz 00\n", spaced_hex(&keepalive())),
    )
    .unwrap();
    let out = evpnctl(&["decode", "--hex", path.to_str().unwrap(), "--json"], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}: line 3:", path.display())),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // The good line was still decoded.
    assert!(String::from_utf8_lossy(&out.stdout).contains("KEEPALIVE"));
}

#[test]
fn unreadable_files_are_errors_naming_the_file() {
    for flag in ["--hex", "--pcap"] {
        let out = evpnctl(&["decode", flag, "/nonexistent/evpnd-test"], None);
        assert!(!out.status.success(), "{flag}");
        let err = stderr(&out);
        assert!(err.contains("/nonexistent/evpnd-test"), "{flag}: {err}");
        assert!(!err.contains("panicked"), "{flag}: {err}");
    }
    // Not a capture at all.
    let path = scratch("not.pcap");
    std::fs::write(&path, "hello, not a pcap file\n").unwrap();
    let out = evpnctl(&["decode", "--pcap", path.to_str().unwrap()], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Neither input given: a usage error.
    let out = evpnctl(&["decode", "--json"], None);
    assert!(!out.status.success());
}

#[test]
fn truncated_capture_names_the_frame_and_fails_after_decoding_the_rest() {
    let full = std::fs::read(fixture("gobgp-ebgp-2byte.pcap")).unwrap();
    let path = scratch("cut.pcap");
    std::fs::write(&path, &full[..full.len() - 10]).unwrap();
    let out = evpnctl(
        &["decode", "--pcap", path.to_str().unwrap(), "--json"],
        None,
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    // 39 frames (fixtures/README.md): the file ends inside the last one.
    assert!(
        err.contains(&format!("{}: frame 39:", path.display())),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // Everything before the cut is still decoded (the last frame held the
    // closing NOTIFICATION, or a FIN).
    let n = String::from_utf8_lossy(&out.stdout).lines().count();
    let all = json_lines(&evpnctl(
        &[
            "decode",
            "--pcap",
            fixture("gobgp-ebgp-2byte.pcap").to_str().unwrap(),
            "--json",
        ],
        None,
    ));
    assert!(
        n + 1 >= all.len() && n < all.len() + 1,
        "{n} of {}",
        all.len()
    );
}
