use std::net::{IpAddr, Ipv4Addr};

use evpn_proto::{Mac, Vni};
use ipnetwork::IpNetwork;

use super::*;
use crate::entry::{project, RouteVia};
use crate::model::{AnycastGateway, Intent, L2Vni, L3Backend, L3Vni, RemoteMac, SviMode};

fn vni(v: u32) -> Vni {
    Vni::new(v).unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
fn mac(last: u8) -> Mac {
    Mac([2, 0, 0, 0, 0, last])
}
const VTEP_A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const VTEP_B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));

fn intent() -> Intent {
    let mut i = Intent::default();
    i.l2vnis
        .insert(vni(100), L2Vni::new(vni(100), ip("10.0.0.1")));
    i
}

fn remote(vtep: IpAddr) -> RemoteMac {
    RemoteMac {
        vtep,
        sticky: false,
    }
}

#[test]
fn remote_mac_projects_to_bridge_and_vxlan_entries_like_zebra() {
    let mut i = intent();
    i.remote_macs.insert((vni(100), mac(1)), remote(VTEP_A));
    let e = project(&i, L3Backend::TableRule);
    assert_eq!(
        e,
        [
            (
                Key::VxlanFdb {
                    vni: vni(100),
                    mac: mac(1)
                },
                Value::VxlanFdb {
                    vtep: VTEP_A,
                    sticky: false,
                    nexthop: false
                }
            ),
            (
                Key::BridgeFdb {
                    vni: vni(100),
                    mac: mac(1)
                },
                Value::BridgeFdb { sticky: false }
            ),
        ]
        .into_iter()
        .collect()
    );
}

#[test]
fn entries_of_unknown_vnis_are_not_projected() {
    let mut i = intent();
    i.remote_macs.insert((vni(999), mac(1)), remote(VTEP_A));
    i.flood.insert((vni(999), VTEP_A));
    assert!(project(&i, L3Backend::TableRule).is_empty());
}

#[test]
fn empty_kernel_gives_adds_in_stage_order() {
    let mut i = intent();
    i.remote_neighs.insert((vni(100), ip("10.1.0.20")), mac(1));
    i.remote_macs.insert((vni(100), mac(1)), remote(VTEP_A));
    i.flood.insert((vni(100), VTEP_A));
    let plan = diff(&project(&i, L3Backend::TableRule), &Snapshot::default());
    let order: Vec<u8> = plan.ops.iter().map(|o| o.key().stage()).collect();
    assert_eq!(order, vec![0, 1, 2, 3]);
    assert!(plan.ops.iter().all(|o| matches!(o, Op::Add { .. })));
    assert_eq!(plan.kept, 0);
}

#[test]
fn matching_entries_are_kept_and_nothing_is_written() {
    let mut i = intent();
    i.remote_macs.insert((vni(100), mac(1)), remote(VTEP_A));
    let desired = project(&i, L3Backend::TableRule);
    let mut snap = Snapshot::default();
    for (k, v) in &desired {
        snap.insert(k.clone(), Some(v.clone()), Owner::Ours);
    }
    let plan = diff(&desired, &snap);
    assert!(plan.is_empty());
    assert_eq!(plan.kept, 2);
}

#[test]
fn mac_move_is_a_replace_in_place_not_delete_then_add() {
    let mut i = intent();
    i.remote_macs.insert((vni(100), mac(1)), remote(VTEP_A));
    let mut snap = Snapshot::default();
    for (k, v) in project(&i, L3Backend::TableRule) {
        snap.insert(k, Some(v), Owner::Ours);
    }
    i.remote_macs.insert((vni(100), mac(1)), remote(VTEP_B));
    let plan = diff(&project(&i, L3Backend::TableRule), &snap);
    assert_eq!(
        plan.ops,
        vec![Op::Replace {
            key: Key::VxlanFdb {
                vni: vni(100),
                mac: mac(1)
            },
            from: Some(Value::VxlanFdb {
                vtep: VTEP_A,
                sticky: false,
                nexthop: false
            }),
            to: Value::VxlanFdb {
                vtep: VTEP_B,
                sticky: false,
                nexthop: false
            },
        }]
    );
    assert_eq!(plan.kept, 1);
}

#[test]
fn stale_entries_we_own_are_deleted_in_reverse_stage_order() {
    let i = intent();
    let mut snap = Snapshot::default();
    let k_fdb = Key::VxlanFdb {
        vni: vni(100),
        mac: mac(1),
    };
    let k_br = Key::BridgeFdb {
        vni: vni(100),
        mac: mac(1),
    };
    let k_neigh = Key::Neigh {
        vni: vni(100),
        ip: ip("10.1.0.20"),
    };
    snap.insert(
        k_fdb.clone(),
        Some(Value::VxlanFdb {
            vtep: VTEP_A,
            sticky: false,
            nexthop: false,
        }),
        Owner::Ours,
    );
    snap.insert(
        k_br.clone(),
        Some(Value::BridgeFdb { sticky: false }),
        Owner::Ours,
    );
    snap.insert(
        k_neigh.clone(),
        Some(Value::Neigh { mac: mac(1) }),
        Owner::Ours,
    );
    let plan = diff(&project(&i, L3Backend::TableRule), &snap);
    let keys: Vec<&Key> = plan.ops.iter().map(|o| o.key()).collect();
    assert_eq!(keys, vec![&k_neigh, &k_br, &k_fdb]);
    assert!(plan.ops.iter().all(|o| matches!(o, Op::Delete { .. })));
}

#[test]
fn foreign_entries_are_never_deleted_or_replaced() {
    let mut i = intent();
    // The intent wants mac(1) remote, but an operator has a static entry.
    i.remote_macs.insert((vni(100), mac(1)), remote(VTEP_A));
    let mut snap = Snapshot::default();
    let k_br = Key::BridgeFdb {
        vni: vni(100),
        mac: mac(1),
    };
    snap.insert(k_br.clone(), None, Owner::Foreign);
    // And an operator neighbour nobody wants: must survive.
    snap.insert(
        Key::Neigh {
            vni: vni(100),
            ip: ip("10.1.0.99"),
        },
        Some(Value::Neigh { mac: mac(9) }),
        Owner::Foreign,
    );
    let plan = diff(&project(&i, L3Backend::TableRule), &snap);
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].key, k_br);
    // Only the VXLAN entry is written; nothing is deleted.
    assert_eq!(plan.ops.len(), 1);
    assert!(matches!(
        &plan.ops[0],
        Op::Add {
            key: Key::VxlanFdb { .. },
            ..
        }
    ));
}

#[test]
fn locally_learned_entry_is_taken_over_when_the_remote_route_wins() {
    let mut i = intent();
    i.remote_macs.insert((vni(100), mac(1)), remote(VTEP_A));
    i.remote_neighs.insert((vni(100), ip("10.1.0.20")), mac(1));
    let mut snap = Snapshot::default();
    let k_br = Key::BridgeFdb {
        vni: vni(100),
        mac: mac(1),
    };
    let k_n = Key::Neigh {
        vni: vni(100),
        ip: ip("10.1.0.20"),
    };
    snap.insert(k_br.clone(), None, Owner::Learned);
    snap.insert(
        k_n.clone(),
        Some(Value::Neigh { mac: mac(1) }),
        Owner::Learned,
    );
    let plan = diff(&project(&i, L3Backend::TableRule), &snap);
    let replaced: Vec<&Key> = plan
        .ops
        .iter()
        .filter(|o| matches!(o, Op::Replace { .. }))
        .map(|o| o.key())
        .collect();
    assert_eq!(replaced, vec![&k_br, &k_n]);
    assert!(plan.conflicts.is_empty());
}

#[test]
fn learned_entries_nobody_wants_are_left_alone() {
    let i = intent();
    let mut snap = Snapshot::default();
    snap.insert(
        Key::BridgeFdb {
            vni: vni(100),
            mac: mac(1),
        },
        None,
        Owner::Learned,
    );
    assert!(diff(&project(&i, L3Backend::TableRule), &snap).is_empty());
}

#[test]
fn sticky_change_is_a_replace_with_the_sticky_value() {
    let mut i = intent();
    i.remote_macs.insert((vni(100), mac(1)), remote(VTEP_A));
    let mut snap = Snapshot::default();
    for (k, v) in project(&i, L3Backend::TableRule) {
        snap.insert(k, Some(v), Owner::Ours);
    }
    i.remote_macs.insert(
        (vni(100), mac(1)),
        RemoteMac {
            vtep: VTEP_A,
            sticky: true,
        },
    );
    let plan = diff(&project(&i, L3Backend::TableRule), &snap);
    assert_eq!(plan.count("replace"), 2);
    assert!(plan
        .ops
        .iter()
        .any(|o| o.value() == &Value::BridgeFdb { sticky: true }));
}

fn l3_intent() -> Intent {
    let mut i = intent();
    let l3 = L3Vni::new(vni(5000), "tenant1", 1000, ip("10.0.0.1"), mac(0xaa));
    i.l3vnis.insert(vni(5000), l3);
    let l2 = i.l2vnis.get_mut(&vni(100)).unwrap();
    l2.l3vni = Some(vni(5000));
    l2.gateway = Some(AnycastGateway {
        mac: crate::model::DEFAULT_GATEWAY_MAC,
        addrs: vec![
            "10.1.0.1/24".parse().unwrap(),
            "fd00:1::1/64".parse().unwrap(),
        ],
        svi: SviMode::Bridge,
    });
    i
}

#[test]
fn backend_b_projects_rules_connected_copies_and_unreachable_defaults() {
    let mut i = l3_intent();
    i.router_macs.insert((vni(5000), VTEP_A), mac(0xbb));
    i.routes
        .insert((vni(5000), "10.2.0.0/24".parse().unwrap()), VTEP_A);
    i.routes
        .insert((vni(5000), "fd00:2::/64".parse().unwrap()), VTEP_A);
    let e = project(&i, L3Backend::TableRule);
    let rules: Vec<(&str, bool)> = e
        .keys()
        .filter_map(|k| match k {
            Key::Rule { iif, v6, .. } => Some((iif.as_str(), *v6)),
            _ => None,
        })
        .collect();
    assert_eq!(
        rules,
        vec![
            ("br100", false),
            ("br100", true),
            ("br5000", false),
            ("br5000", true)
        ]
    );
    let net: IpNetwork = "10.1.0.0/24".parse().unwrap();
    assert_eq!(
        e[&Key::Route {
            l3vni: vni(5000),
            prefix: net
        }],
        Value::Route(RouteVia::Connected("br100".into()))
    );
    // IPv6 prefix over an IPv4 VTEP uses the v4-mapped gateway, and the
    // router MAC is installed for both forms of the VTEP address.
    let v6net: IpNetwork = "fd00:2::/64".parse().unwrap();
    assert_eq!(
        e[&Key::Route {
            l3vni: vni(5000),
            prefix: v6net
        }],
        Value::Route(RouteVia::Vtep(ip("::ffff:10.0.0.2")))
    );
    for n in ["10.0.0.2", "::ffff:10.0.0.2"] {
        assert_eq!(
            e[&Key::Neigh {
                vni: vni(5000),
                ip: ip(n)
            }],
            Value::Neigh { mac: mac(0xbb) }
        );
    }
    assert!(e.contains_key(&Key::Unreachable {
        l3vni: vni(5000),
        v6: false
    }));
    assert_eq!(
        e[&Key::VxlanFdb {
            vni: vni(5000),
            mac: mac(0xbb)
        }],
        Value::VxlanFdb {
            vtep: VTEP_A,
            sticky: false,
            nexthop: false
        }
    );
}

#[test]
fn backend_a_has_no_rules_and_no_connected_copies() {
    let i = l3_intent();
    let e = project(&i, L3Backend::VrfDevice);
    assert!(!e
        .keys()
        .any(|k| matches!(k, Key::Rule { .. } | Key::Route { .. })));
    assert_eq!(e.len(), 2, "only the two unreachable defaults: {e:?}");
}

#[test]
fn macvlan_gateway_rules_use_the_macvlan_as_iif() {
    let mut i = l3_intent();
    i.l2vnis
        .get_mut(&vni(100))
        .unwrap()
        .gateway
        .as_mut()
        .unwrap()
        .svi = SviMode::Macvlan {
        name: "agw100".into(),
    };
    let e = project(&i, L3Backend::TableRule);
    assert!(e.contains_key(&Key::Rule {
        l3vni: vni(5000),
        iif: "agw100".into(),
        v6: false
    }));
    assert!(!e.contains_key(&Key::Rule {
        l3vni: vni(5000),
        iif: "br100".into(),
        v6: false
    }));
}

#[test]
fn a_remote_route_for_a_member_subnet_never_replaces_the_connected_route() {
    // Every leaf advertises the shared anycast subnet (advertise_connected):
    // the remote RT-5 for 10.1.0.0/24 must leave the connected copy alone.
    let mut i = l3_intent();
    let own: IpNetwork = "10.1.0.0/24".parse().unwrap();
    let more_specific: IpNetwork = "10.1.0.128/25".parse().unwrap();
    i.routes.insert((vni(5000), own), VTEP_A);
    i.routes.insert((vni(5000), more_specific), VTEP_A);
    let e = project(&i, L3Backend::TableRule);
    let key = |prefix| Key::Route {
        l3vni: vni(5000),
        prefix,
    };
    assert_eq!(
        e.get(&key(own)),
        Some(&Value::Route(RouteVia::Connected("br100".into())))
    );
    assert_eq!(
        e.get(&key(more_specific)),
        Some(&Value::Route(RouteVia::Vtep(VTEP_A)))
    );
    // The incremental path projects the item alone: nothing to write, so
    // neither its arrival nor its withdrawal touches the connected copy.
    let mut item = Entries::new();
    crate::entry::project_item(&i, &crate::entry::Item::Route(vni(5000), own), &mut item);
    assert!(item.is_empty(), "{item:?}");
    // With backend A the kernel's own connected route is left alone too.
    let e = project(&i, L3Backend::VrfDevice);
    assert!(!e.contains_key(&key(own)));
}

#[test]
fn incremental_diff_touches_only_the_given_keys() {
    let k = Key::VxlanFdb {
        vni: vni(100),
        mac: mac(1),
    };
    let other = Key::VxlanFdb {
        vni: vni(100),
        mac: mac(2),
    };
    let mut applied = Entries::new();
    applied.insert(
        k.clone(),
        Value::VxlanFdb {
            vtep: VTEP_A,
            sticky: false,
            nexthop: false,
        },
    );
    applied.insert(
        other.clone(),
        Value::VxlanFdb {
            vtep: VTEP_A,
            sticky: false,
            nexthop: false,
        },
    );
    let mut desired = Entries::new();
    desired.insert(
        k.clone(),
        Value::VxlanFdb {
            vtep: VTEP_B,
            sticky: false,
            nexthop: false,
        },
    );
    // `other` is not desired but not touched either: no delete.
    let ops = diff_keys([&k], &desired, &applied);
    assert_eq!(ops.len(), 1);
    assert!(matches!(&ops[0], Op::Replace { key, .. } if key == &k));
    let ops = diff_keys([&other], &desired, &applied);
    assert!(matches!(&ops[..], [Op::Delete { key, .. }] if key == &other));
}

#[test]
fn plan_and_ops_render_for_operators() {
    let op = Op::Add {
        key: Key::VxlanFdb {
            vni: vni(100),
            mac: Mac([0xaa, 0xbb, 0xcc, 0, 0, 1]),
        },
        value: Value::VxlanFdb {
            vtep: VTEP_A,
            sticky: false,
            nexthop: false,
        },
    };
    assert_eq!(
        op.describe(&|_| "vxlan100".into()),
        "add fdb aa:bb:cc:00:00:01 dst 10.0.0.2 self extern_learn on vxlan100"
    );
    let plan = Plan {
        ops: vec![op],
        kept: 3,
        conflicts: vec![],
    };
    let text = plan.to_string();
    assert!(
        text.starts_with("plan: 1 add, 0 replace, 0 delete, 3 kept, 0 conflicts"),
        "{text}"
    );
}

/// The item-by-item diff of the incremental path gives exactly the ops of
/// the diff over the union of keys (same ops, same order).
#[test]
fn diff_items_equals_diff_keys() {
    use crate::entry::{project_item, Item};
    use crate::model::Change;
    let mut i = intent();
    let mut l3 = L3Vni::new(vni(5000), "t1", 5000, ip("10.0.0.1"), mac(0x50));
    l3.table = 5000;
    i.l3vnis.insert(vni(5000), l3);
    for k in 1..=6 {
        i.remote_macs.insert((vni(100), mac(k)), remote(VTEP_A));
    }
    i.flood.insert((vni(100), VTEP_A));
    i.remote_neighs.insert((vni(100), ip("10.1.0.5")), mac(5));
    i.routes
        .insert((vni(5000), "10.9.0.0/24".parse().unwrap()), VTEP_A);
    let changes = vec![
        // Moves, a sticky change, a delete, an add, a neighbour moving to
        // another MAC, a flood entry gone and one new, a route moved and
        // one withdrawn, an item touched twice.
        Change::RemoteMac {
            vni: vni(100),
            mac: mac(1),
            to: Some(remote(VTEP_B)),
        },
        Change::RemoteMac {
            vni: vni(100),
            mac: mac(2),
            to: Some(RemoteMac {
                vtep: VTEP_A,
                sticky: true,
            }),
        },
        Change::RemoteMac {
            vni: vni(100),
            mac: mac(3),
            to: None,
        },
        Change::RemoteMac {
            vni: vni(100),
            mac: mac(9),
            to: Some(remote(VTEP_B)),
        },
        Change::RemoteMac {
            vni: vni(100),
            mac: mac(4),
            to: Some(remote(VTEP_B)),
        },
        Change::RemoteMac {
            vni: vni(100),
            mac: mac(4),
            to: Some(remote(VTEP_A)),
        },
        Change::RemoteNeigh {
            vni: vni(100),
            ip: ip("10.1.0.5"),
            mac: Some(mac(6)),
        },
        Change::Flood {
            vni: vni(100),
            vtep: VTEP_A,
            present: false,
        },
        Change::Flood {
            vni: vni(100),
            vtep: VTEP_B,
            present: true,
        },
        Change::Route {
            l3vni: vni(5000),
            prefix: "10.9.0.0/24".parse().unwrap(),
            vtep: Some(VTEP_B),
        },
        Change::Route {
            l3vni: vni(5000),
            prefix: "10.8.0.0/24".parse().unwrap(),
            vtep: None,
        },
    ];
    let mut items: Vec<Item> = changes.iter().map(Item::of).collect();
    items.sort_unstable();
    items.dedup();
    let mut after_i = i.clone();
    for c in &changes {
        after_i.apply(c);
    }
    let (mut bm, mut am) = (Entries::new(), Entries::new());
    let (mut bl, mut al) = (Vec::new(), Vec::new());
    let (mut bat, mut aat) = (Vec::new(), Vec::new());
    for it in &items {
        project_item(&i, it, &mut bm);
        project_item(&after_i, it, &mut am);
        bat.push(bl.len());
        aat.push(al.len());
        project_item(&i, it, &mut bl);
        project_item(&after_i, it, &mut al);
    }
    bat.push(bl.len());
    aat.push(al.len());
    let mut keys: Vec<&Key> = bm.keys().chain(am.keys()).collect();
    keys.sort();
    keys.dedup();
    let by_keys = diff_keys(keys, &am, &bm);
    let by_items =
        diff_items((0..items.len()).map(|j| (&bl[bat[j]..bat[j + 1]], &al[aat[j]..aat[j + 1]])));
    assert_eq!(by_items, by_keys);
    assert!(by_keys.iter().any(|o| o.verb() == "delete"));
    assert!(by_keys.iter().any(|o| o.verb() == "replace"));
    assert!(by_keys.iter().any(|o| o.verb() == "add"));
}
