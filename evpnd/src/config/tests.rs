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
