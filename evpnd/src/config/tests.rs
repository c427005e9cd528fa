use super::*;

fn parse(src: &str) -> Result<Config, ConfigErrors> {
    Config::parse(Path::new("leaf1.toml"), src)
}

fn errors(src: &str) -> Vec<String> {
    match parse(src) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

const MINIMAL: &str = r#"
router_id = "10.0.0.11"
asn = 65000
"#;

#[test]
fn minimal_config_gets_documented_defaults() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.global.router_id.0, Ipv4Addr::new(10, 0, 0, 11));
    assert_eq!(c.global.hold_time, 90);
    assert_eq!(c.global.connect_retry, 30);
    assert_eq!(c.global.vxlan_port, 4789);
    assert_eq!(c.global.api.socket, PathBuf::from("/run/evpnd/evpnd.sock"));
    assert_eq!(c.global.duplicate_detection.max_moves, 5);
    assert_eq!(c.global.duplicate_detection.window, 180);
    assert!(c.global.graceful_restart.enabled);
    assert!(c.neighbors.is_empty());
}

#[test]
fn design_example_parses() {
    let c = parse(
        r#"
router_id = "10.0.0.11"
asn = 65000

[[neighbor]]                 # spine / route reflector
address = "10.255.0.0"
remote_as = 65000
families = ["evpn"]

[[neighbor]]                 # DC core: receives host /32s
address = "192.0.2.1"
remote_as = 65100
families = ["ipv4", "ipv6"]
max_prefix = { limit = 1000, restart = 30 }

[[vni]]
vni = 100
bridge = "br100"
vxlan = "vxlan100"
vrf = "tenant1"
anycast_gateway = { ipv4 = "10.1.0.1/24", ipv6 = "fd00:1::1/64", mac = "00:00:5e:00:01:01" }

[[vrf]]
name = "tenant1"
l3vni = 5000
export_host_routes = { peers = ["192.0.2.1"], prefixes = ["10.1.0.0/16"] }

[duplicate_detection]
max_moves = 10
window = 60
freeze = "permanent"
"#,
    )
    .unwrap();
    assert_eq!(c.neighbors.len(), 2);
    assert_eq!(
        c.neighbors[1].families,
        vec![Str(Family::Ipv4Unicast), Str(Family::Ipv6Unicast)]
    );
    assert_eq!(
        c.neighbors[1].max_prefix.as_ref().unwrap().restart,
        Some(30)
    );
    assert_eq!(
        c.vnis[0]
            .anycast_gateway
            .as_ref()
            .unwrap()
            .mac
            .0
            .to_string(),
        "00:00:5e:00:01:01"
    );
    assert_eq!(c.vrfs[0].l3vni, 5000);
    assert_eq!(c.global.duplicate_detection.freeze, Freeze::Permanent);
}

#[test]
fn unknown_key_names_file_line_column_and_key() {
    let e = errors("router_id = \"10.0.0.1\"\nasn = 65000\n\n[[neighbor]]\naddress = \"10.0.0.2\"\nremote_as = 1\nremote_ass = 2\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("leaf1.toml:7:1: neighbor[0].remote_ass: unknown field `remote_ass`"),
        "{}",
        e[0]
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let e = errors(
        r#"router_id = "10.0.0.x"
asn = 65000

[[neighbor]]
address = "10.0.0.2"
remote_as = "sixty"

[[neighbor]]
address = "10.0.0.3"
remote_as = 65000
families = ["evpn", "mpls"]
"#,
    );
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(e[0].starts_with("leaf1.toml:1:13: router_id:"), "{}", e[0]);
    assert!(
        e[1].starts_with("leaf1.toml:6:13: neighbor[0].remote_as:"),
        "{}",
        e[1]
    );
    assert!(e[2].contains("neighbor[1].families"), "{}", e[2]);
    assert!(e[2].contains("unknown address family \"mpls\""), "{}", e[2]);
}

#[test]
fn syntax_error_is_located() {
    let e = errors("router_id = \"10.0.0.1\"\nasn = = 5\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("leaf1.toml:2:"), "{}", e[0]);
}

#[test]
fn cross_field_rules_point_at_the_key() {
    let e = errors(
        r#"router_id = "10.0.0.1"
asn = 65000
hold_time = 2

[[neighbor]]
address = "10.0.0.2"
remote_as = 65000

[[neighbor]]
address = "10.0.0.2"
remote_as = 65001
hold_time = 9
keepalive = 9

[[vni]]
vni = 100
bridge = "br100"
vrf = "nope"
"#,
    );
    let joined = e.join("\n");
    assert!(
        joined.contains("leaf1.toml:3:13: hold_time: hold time must be 0 or ≥ 3"),
        "{joined}"
    );
    assert!(
        joined.contains(
            "leaf1.toml:10:11: neighbor[1].address: neighbor 10.0.0.2 is configured twice"
        ),
        "{joined}"
    );
    assert!(
        joined.contains(
            "leaf1.toml:13:13: neighbor[1].keepalive: keepalive 9 must be below the hold time 9"
        ),
        "{joined}"
    );
    assert!(
        joined.contains("leaf1.toml:18:7: vni[0].vrf: no [[vrf]] named \"nope\""),
        "{joined}"
    );
}

#[test]
fn neighbor_needs_address_or_range() {
    let e = errors("router_id = \"10.0.0.1\"\nasn = 1\n[[neighbor]]\nremote_as = 2\n");
    assert!(e[0].contains("neighbor[0]: needs `address`"), "{}", e[0]);
    let c = parse(
        "router_id = \"10.0.0.1\"\nasn = 1\n[[neighbor]]\nrange = \"10.0.0.0/24\"\nremote_as = 2\n",
    )
    .unwrap();
    assert_eq!(
        c.neighbors[0].range.as_ref().unwrap().0.to_string(),
        "10.0.0.0/24"
    );
}

#[test]
fn host_route_export_peers_must_be_neighbors() {
    let e = errors(
        "router_id = \"10.0.0.1\"\nasn = 1\n[[vrf]]\nname = \"t\"\nl3vni = 5000\nexport_host_routes = { peers = [\"192.0.2.9\"] }\n",
    );
    assert!(
        e[0].contains("192.0.2.9 is not a configured neighbor"),
        "{}",
        e[0]
    );
}

#[test]
fn bad_route_target_is_reported() {
    let e = errors("router_id = \"10.0.0.1\"\nasn = 1\n[[vni]]\nvni = 100\nbridge = \"br\"\nimport_rt = [\"65000\"]\n");
    assert!(e[0].contains("vni[0].import_rt"), "{}", e[0]);
}

#[test]
fn line_col_counts_characters() {
    assert_eq!(line_col("ab\ncd", 4), (2, 2));
    assert_eq!(line_col("é = 1", 3), (1, 3));
}

#[test]
fn evpn_settings_parse_with_their_defaults() {
    let c = parse(
        r#"router_id = "10.0.0.11"
asn = 65000
auto_rt = "rfc8365"
svd = { bridge = "br0", vxlan = "vxlan0" }

[[vni]]
vni = 100
bridge = "br100"
flooding = "static"
static_vteps = ["10.0.0.12"]

[[vni]]
vni = 200
bridge = "br0"
vlan = 20

[[vrf]]
name = "t1"
l3vni = 5000
advertise_connected = true
"#,
    )
    .unwrap();
    assert_eq!(c.global.auto_rt, AutoRt::Rfc8365);
    assert_eq!(c.global.svd.as_ref().unwrap().vxlan, "vxlan0");
    assert_eq!(c.vnis[0].flooding, Flooding::Static);
    assert_eq!(c.vnis[1].flooding, Flooding::IngressReplication);
    assert_eq!(c.vnis[1].vlan, Some(20));
    assert!(c.vnis[1].arp_suppress);
    assert!(c.vrfs[0].advertise_connected);
    assert_eq!(parse(MINIMAL).unwrap().global.auto_rt, AutoRt::AsnVni);
}

#[test]
fn flooding_and_static_vteps_must_agree() {
    let e = errors(
        "router_id = \"10.0.0.1\"\nasn = 1\n[[vni]]\nvni = 100\nbridge = \"a\"\nflooding = \"static\"\n[[vni]]\nvni = 200\nbridge = \"b\"\nstatic_vteps = [\"10.0.0.2\"]\n",
    );
    assert_eq!(e.len(), 2, "{e:#?}");
    assert_eq!(
        e[0],
        "leaf1.toml:6:12: vni[0].flooding: flooding = \"static\" needs at least one address in static_vteps"
    );
    assert_eq!(
        e[1],
        "leaf1.toml:10:16: vni[1].static_vteps: static_vteps is only used with flooding = \"static\""
    );
    let e = errors("router_id = \"10.0.0.1\"\nasn = 1\n[[vni]]\nvni = 100\nbridge = \"a\"\nflooding = \"multicast\"\n");
    assert!(
        e[0].starts_with("leaf1.toml:6:12: vni[0].flooding: unknown variant `multicast`"),
        "{}",
        e[0]
    );
}

#[test]
fn anycast_gateway_addresses_and_mac_are_checked() {
    let e = errors(
        r#"router_id = "10.0.0.1"
asn = 1
[[vni]]
vni = 100
bridge = "br100"
anycast_gateway = { ipv4 = "fd00::1/64", ipv6 = "10.1.0.1/24", mac = "01:00:5e:00:00:01" }
[[vni]]
vni = 200
bridge = "br200"
anycast_gateway = { mac = "00:00:5e:00:01:01" }
"#,
    );
    let joined = e.join("\n");
    assert!(
        joined.contains(
            "leaf1.toml:6:28: vni[0].anycast_gateway.ipv4: fd00::1/64 is not an IPv4 prefix"
        ),
        "{joined}"
    );
    assert!(
        joined.contains(
            "leaf1.toml:6:49: vni[0].anycast_gateway.ipv6: 10.1.0.1/24 is not an IPv6 prefix"
        ),
        "{joined}"
    );
    assert!(joined.contains("vni[0].anycast_gateway.mac: gateway MAC 01:00:5e:00:00:01 must be unicast and non-zero"), "{joined}");
    assert!(
        joined.contains("leaf1.toml:10:19: vni[1].anycast_gateway: needs ipv4 or ipv6"),
        "{joined}"
    );
    assert_eq!(e.len(), 4, "{joined}");
}

#[test]
fn single_device_mode_bridges_and_vlans_are_checked() {
    let e = errors(
        r#"router_id = "10.0.0.1"
asn = 1
[[vni]]
vni = 100
bridge = "br0"
vlan = 4095
[[vni]]
vni = 200
bridge = "br2"
[[vni]]
vni = 300
bridge = "br2"
"#,
    );
    let joined = e.join("\n");
    assert!(
        joined.contains(
            "leaf1.toml:6:8: vni[0].vlan: single VXLAN device mode needs an [svd] section"
        ),
        "{joined}"
    );
    assert!(
        joined.contains("leaf1.toml:6:8: vni[0].vlan: VLAN must be 1..=4094"),
        "{joined}"
    );
    assert!(
        joined
            .contains("leaf1.toml:12:10: vni[2].bridge: bridge \"br2\" is already used by vni[1]"),
        "{joined}"
    );
    assert_eq!(e.len(), 3, "{joined}");
}

#[test]
fn vrf_names_rts_router_mac_and_dad_window_are_checked() {
    let e = errors(
        r#"router_id = "10.0.0.1"
asn = 1
[duplicate_detection]
window = 0
[[vrf]]
name = "t"
l3vni = 5000
router_mac = "ff:ff:ff:ff:ff:ff"
export_rt = ["x:1"]
[[vrf]]
name = "t"
l3vni = 5001
"#,
    );
    let joined = e.join("\n");
    assert!(
        joined.contains("leaf1.toml:4:10: duplicate_detection.window: must be ≥ 1 second"),
        "{joined}"
    );
    assert!(joined.contains("leaf1.toml:8:14: vrf[0].router_mac: router MAC ff:ff:ff:ff:ff:ff must be unicast and non-zero"), "{joined}");
    assert!(
        joined.contains("leaf1.toml:9:13: vrf[0].export_rt: bad route target"),
        "{joined}"
    );
    assert!(
        joined.contains("leaf1.toml:11:8: vrf[1].name: VRF \"t\" is configured twice"),
        "{joined}"
    );
    assert_eq!(e.len(), 4, "{joined}");
}

#[test]
fn the_commented_example_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/leaf.toml");
    let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.vnis.len(), 2);
    assert_eq!(c.vnis[1].flooding, Flooding::Static);
    assert!(c.vrfs[0].advertise_connected);
    assert_eq!(c.global.duplicate_detection.max_moves, 5);
}
