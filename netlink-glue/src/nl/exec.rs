//! Executing ops: each [`Op`] becomes one or two rtnetlink requests, sent
//! in batches with an ack per request; every error is mapped back to its op.

use evpn_proto::Mac;
use rtnetlink::packet_route::RouteNetlinkMessage;

use super::link::Links;
use super::msg::{self, FdbVia, APPEND, CREATE_EXCL, UPSERT};
use super::nexthop::FdbNexthops;
use super::snapshot::DevMap;
use super::socket::{encode, Encoded, NlSocket};
use crate::entry::{Key, RouteVia, Value};
use crate::model::ProtocolId;
use crate::plan::Op;
use crate::report::FailReason;

/// One request of an op, with the errnos that mean "already done".
#[derive(Debug)]
pub struct Req {
    pub msg: RouteNetlinkMessage,
    pub flags: u16,
    pub tolerate: &'static [i32],
}

const GONE: &[i32] = &[libc::ENOENT, libc::ESRCH, libc::EADDRNOTAVAIL];
const EXISTS: &[i32] = &[libc::EEXIST];

fn req(msg: RouteNetlinkMessage, flags: u16) -> Req {
    Req {
        msg,
        flags,
        tolerate: &[],
    }
}

fn del(msg: RouteNetlinkMessage) -> Req {
    Req {
        msg,
        flags: 0,
        tolerate: GONE,
    }
}

/// The requests for one op, or why it cannot be sent.
pub fn requests(
    op: &Op,
    devs: &DevMap,
    links: &Links,
    proto: ProtocolId,
    nh: &FdbNexthops,
) -> Result<Vec<Req>, FailReason> {
    let key = op.key();
    let vni = key.vni();
    let no_dev = || FailReason::NoDevice(format!("of VNI {vni}"));
    let (bridge, vxlan) = match key {
        Key::Route { .. } | Key::Unreachable { .. } | Key::Rule { .. } => {
            devs.by_vni.get(&vni).copied().unwrap_or((0, 0))
        }
        _ => devs.by_vni.get(&vni).copied().ok_or_else(no_dev)?,
    };
    let table = || devs.table_of.get(&vni).copied().ok_or_else(no_dev);
    let write = !matches!(op, Op::Delete { .. });
    // Single-VXLAN-device mode: VLAN on bridge entries, VNI on VXLAN ones.
    let vlan = devs.svd_vlan.get(&vni).copied();
    let src_vni = vlan.map(|_| vni.get());
    let on_vx = |m| msg::svd(m, None, src_vni);
    let on_br = |m| msg::svd(m, vlan, None);
    let out = match (key, op.value()) {
        (Key::Flood { vtep, .. }, _) if write => {
            vec![req(msg::new_neigh(on_vx(msg::flood(vxlan, *vtep))), APPEND)]
        }
        (Key::Flood { vtep, .. }, _) => {
            vec![del(msg::del_neigh(on_vx(msg::flood_del(vxlan, *vtep))))]
        }
        (
            Key::VxlanFdb { mac, .. },
            Value::VxlanFdb {
                vtep,
                sticky,
                nexthop,
            },
        ) if write => {
            let via = if *nexthop {
                let g = nh
                    .group(vtep)
                    .ok_or_else(|| FailReason::NoDevice(format!("FDB nexthop group for {vtep}")))?;
                FdbVia::Group(g)
            } else {
                FdbVia::Dst(*vtep)
            };
            let add = req(
                msg::new_neigh(on_vx(msg::vxlan_fdb(vxlan, *mac, via, *sticky))),
                UPSERT,
            );
            // The kernel replaces neither a `dst` entry by an `nhid` one nor
            // the reverse: a change of mode (or taking over a data-plane
            // learned entry, which has a `dst`) is a delete and an add.
            let mode_change = match op {
                Op::Replace {
                    from: Some(Value::VxlanFdb { nexthop: was, .. }),
                    ..
                } => was != nexthop,
                Op::Replace { from: None, .. } => *nexthop,
                _ => false,
            };
            if mode_change {
                vec![
                    del(msg::del_neigh(on_vx(msg::vxlan_fdb_del(vxlan, *mac)))),
                    add,
                ]
            } else {
                vec![add]
            }
        }
        (Key::VxlanFdb { mac, .. }, _) => {
            vec![del(msg::del_neigh(on_vx(msg::vxlan_fdb_del(vxlan, *mac))))]
        }
        (Key::BridgeFdb { mac, .. }, Value::BridgeFdb { sticky }) if write => {
            bridge_write(op, vxlan, *mac, *sticky, vlan)
        }
        (Key::BridgeFdb { mac, .. }, _) => {
            vec![del(msg::del_neigh(on_br(msg::bridge_fdb_del(vxlan, *mac))))]
        }
        (Key::Neigh { ip, .. }, Value::Neigh { mac }) if write => {
            vec![req(
                msg::new_neigh(msg::neigh(bridge, *ip, *mac, proto)),
                UPSERT,
            )]
        }
        (Key::Neigh { ip, .. }, _) => vec![del(msg::del_neigh(msg::neigh_del(bridge, *ip)))],
        (Key::Route { prefix, .. }, Value::Route(via)) => {
            let t = table()?;
            let m = match via {
                RouteVia::Vtep(gw) => {
                    if bridge == 0 {
                        return Err(no_dev());
                    }
                    msg::route_via(t, prefix, *gw, bridge, proto)
                }
                RouteVia::Connected(dev) => {
                    let idx = links
                        .index(dev)
                        .ok_or_else(|| FailReason::NoDevice(dev.clone()))?;
                    msg::route_connected(t, prefix, idx, proto)
                }
            };
            if write {
                vec![req(RouteNetlinkMessage::NewRoute(m), UPSERT)]
            } else {
                vec![del(RouteNetlinkMessage::DelRoute(msg::route_del(m)))]
            }
        }
        (Key::Unreachable { v6, .. }, _) => {
            let m = msg::route_unreachable(table()?, *v6, proto);
            if write {
                vec![req(RouteNetlinkMessage::NewRoute(m), UPSERT)]
            } else {
                vec![del(RouteNetlinkMessage::DelRoute(m))]
            }
        }
        (Key::Rule { iif, v6, .. }, Value::Rule { table, priority }) => {
            let new = msg::rule(*v6, iif, *table, *priority, proto);
            match op {
                Op::Add { .. } => vec![Req {
                    msg: RouteNetlinkMessage::NewRule(new),
                    flags: CREATE_EXCL,
                    tolerate: EXISTS,
                }],
                // Rules have no in-place replace: remove the old one first.
                Op::Replace { from, .. } => {
                    let mut v = Vec::new();
                    if let Some(Value::Rule { table, priority }) = from {
                        let old = msg::rule(*v6, iif, *table, *priority, proto);
                        v.push(del(RouteNetlinkMessage::DelRule(old)));
                    }
                    v.push(Req {
                        msg: RouteNetlinkMessage::NewRule(new),
                        flags: CREATE_EXCL,
                        tolerate: EXISTS,
                    });
                    v
                }
                Op::Delete { .. } => vec![del(RouteNetlinkMessage::DelRule(new))],
            }
        }
        (k, v) => {
            return Err(FailReason::Io(format!("inconsistent op {k:?} = {v:?}")));
        }
    };
    Ok(out)
}

/// The bridge entry of a remote MAC. A change between sticky and
/// extern_learn is a delete and an add: an extern_learn add over a static
/// sticky entry would leave its STATIC and STICKY bits set.
fn bridge_write(op: &Op, vxlan: u32, mac: Mac, sticky: bool, vlan: Option<u16>) -> Vec<Req> {
    let add = req(
        msg::new_neigh(msg::svd(msg::bridge_fdb(vxlan, mac, sticky), vlan, None)),
        UPSERT,
    );
    match op {
        Op::Replace {
            from: Some(Value::BridgeFdb { sticky: was }),
            ..
        } if *was != sticky => vec![
            del(msg::del_neigh(msg::svd(
                msg::bridge_fdb_del(vxlan, mac),
                vlan,
                None,
            ))),
            add,
        ],
        _ => vec![add],
    }
}

/// Ops per batch call: bounds the memory of requests built ahead.
pub const CHUNK: usize = 4096;
/// Most requests one op becomes (a replace that must delete first).
const MAX_REQS_PER_OP: usize = 2;

/// One chunk of ops turned into encoded requests.
struct Prepared {
    /// Per request: the errnos that mean "already done", and its op (and
    /// the second op of a request that carries two, see [`combined`]).
    tolerate: Vec<&'static [i32]>,
    owner: Vec<(usize, Option<usize>)>,
    /// Ops that could not become requests.
    failed: Vec<(usize, FailReason)>,
    enc: Encoded,
}

/// What building requests needs, owned, so it can move to another thread.
#[derive(Clone)]
struct Ctx {
    devs: DevMap,
    links: Links,
    proto: ProtocolId,
    nh: FdbNexthops,
}

/// Builds and encodes the requests of `ops` (which start at op index
/// `first_op`), numbered from `seq` (at most [`MAX_REQS_PER_OP`] per op
/// reserved).
fn prepare(ops: &[Op], first_op: usize, seq: u32, cx: &Ctx) -> Prepared {
    let mut msgs: Vec<Option<(RouteNetlinkMessage, u16)>> = Vec::with_capacity(ops.len() + 8);
    let mut tolerate = Vec::with_capacity(ops.len() + 8);
    let mut owner = Vec::with_capacity(ops.len() + 8);
    let mut failed = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        if let Some(r) = ops.get(i + 1).and_then(|next| combined(&ops[i], next, cx)) {
            msgs.push(Some((r.msg, r.flags)));
            tolerate.push(r.tolerate);
            owner.push((first_op + i, Some(first_op + i + 1)));
            i += 2;
            continue;
        }
        match requests(&ops[i], &cx.devs, &cx.links, cx.proto, &cx.nh) {
            Ok(rs) => {
                for r in rs {
                    msgs.push(Some((r.msg, r.flags)));
                    tolerate.push(r.tolerate);
                    owner.push((first_op + i, None));
                }
            }
            Err(e) => failed.push((first_op + i, e)),
        }
        i += 1;
    }
    let enc = encode(seq, msgs.len(), |i| {
        msgs[i]
            .take()
            .unwrap_or((RouteNetlinkMessage::GetLink(Default::default()), 0))
    });
    Prepared {
        tolerate,
        owner,
        failed,
        enc,
    }
}

/// One request for two ops that add a new remote MAC: the VXLAN entry and
/// the bridge entry of the same MAC, next to each other (as an incremental
/// apply orders them), neither sticky, not in single-VXLAN-device mode
/// (`msg::vxlan_and_bridge_fdb`). A failure of it fails both ops.
fn combined(a: &Op, b: &Op, cx: &Ctx) -> Option<Req> {
    let (Op::Add { key: ka, value: va }, Op::Add { key: kb, value: vb }) = (a, b) else {
        return None;
    };
    let ((vni, mac, vtep, nexthop), bridge_sticky) = match (ka, va, kb, vb) {
        (
            Key::VxlanFdb { vni, mac },
            Value::VxlanFdb {
                vtep,
                sticky: false,
                nexthop,
            },
            Key::BridgeFdb { vni: v2, mac: m2 },
            Value::BridgeFdb { sticky },
        )
        | (
            Key::BridgeFdb { vni: v2, mac: m2 },
            Value::BridgeFdb { sticky },
            Key::VxlanFdb { vni, mac },
            Value::VxlanFdb {
                vtep,
                sticky: false,
                nexthop,
            },
        ) if vni == v2 && mac == m2 => ((vni, mac, vtep, nexthop), *sticky),
        _ => return None,
    };
    if bridge_sticky || cx.devs.svd_vlan.contains_key(vni) {
        return None;
    }
    let (_, vxlan) = cx.devs.by_vni.get(vni).copied()?;
    let via = if *nexthop {
        FdbVia::Group(cx.nh.group(vtep)?)
    } else {
        FdbVia::Dst(*vtep)
    };
    Some(req(
        msg::new_neigh(msg::vxlan_and_bridge_fdb(vxlan, *mac, via)),
        UPSERT,
    ))
}

/// Sends one prepared chunk; its failures by op index go to `failed`.
async fn send(sock: &mut NlSocket, p: Prepared, failed: &mut Vec<(usize, FailReason)>) {
    failed.extend(p.failed);
    let fails = sock.send_encoded(p.enc).await;
    let mut last = None;
    for (i, reason) in fails {
        if let FailReason::Kernel(e) = &reason {
            if p.tolerate[i].contains(&e.errno) {
                continue;
            }
        }
        let (op_index, second) = p.owner[i];
        if let Some(second) = second {
            failed.push((second, reason.clone()));
        }
        // One failure per op: the first request's error explains it.
        if last != Some(op_index) {
            failed.push((op_index, reason));
            last = Some(op_index);
        }
    }
}

/// Sends the ops in order; returns the failure of each failed op by index.
///
/// More than one [`CHUNK`] of ops is pipelined: the next chunk's requests
/// are built and encoded on a blocking-pool thread while the socket sends
/// the current one (the kernel's work happens inside our `sendmsg`, so
/// the two overlap on two CPUs). A single chunk (a MAC move) is built
/// inline: no thread hand-off on the latency path.
pub async fn run(
    sock: &mut NlSocket,
    ops: &std::sync::Arc<Vec<Op>>,
    devs: &DevMap,
    links: &Links,
    proto: ProtocolId,
    nh: &FdbNexthops,
) -> Vec<(usize, FailReason)> {
    let mut failed = Vec::new();
    let cx = Ctx {
        devs: devs.clone(),
        links: links.clone(),
        proto,
        nh: nh.clone(),
    };
    if ops.len() <= CHUNK {
        let seq = sock.reserve(ops.len() * MAX_REQS_PER_OP);
        send(sock, prepare(ops, 0, seq, &cx), &mut failed).await;
    } else {
        let cx = std::sync::Arc::new(cx);
        let all = std::sync::Arc::clone(ops);
        let spawn = |sock: &mut NlSocket, first: usize| {
            let len = CHUNK.min(all.len() - first);
            let seq = sock.reserve(len * MAX_REQS_PER_OP);
            let (cx, all) = (std::sync::Arc::clone(&cx), std::sync::Arc::clone(&all));
            tokio::task::spawn_blocking(move || prepare(&all[first..first + len], first, seq, &cx))
        };
        let mut next = Some(spawn(sock, 0));
        let mut first = 0;
        while let Some(h) = next.take() {
            let len = CHUNK.min(ops.len() - first);
            let prepared = h.await;
            if first + len < ops.len() {
                next = Some(spawn(sock, first + len));
            }
            match prepared {
                Ok(p) => send(sock, p, &mut failed).await,
                Err(e) => failed.extend(
                    (first..first + len)
                        .map(|i| (i, FailReason::Io(format!("request encoder failed: {e}")))),
                ),
            }
            first += len;
        }
    }
    failed.sort_by_key(|(i, _)| *i);
    failed.dedup_by_key(|(i, _)| *i);
    failed
}

#[cfg(test)]
mod tests {
    use evpn_proto::Vni;

    use super::*;

    fn vni() -> Vni {
        Vni::new(100).unwrap_or_else(|| unreachable!())
    }

    fn ctx() -> Ctx {
        let mut devs = DevMap::default();
        devs.by_vni.insert(vni(), (10, 11));
        Ctx {
            devs,
            links: Links::default(),
            proto: ProtocolId(201),
            nh: FdbNexthops::default(),
        }
    }

    fn vx(mac: u8, sticky: bool) -> Op {
        Op::Add {
            key: Key::VxlanFdb {
                vni: vni(),
                mac: Mac([2, 0, 0, 0, 0, mac]),
            },
            value: Value::VxlanFdb {
                vtep: "10.0.0.2".parse().unwrap_or_else(|_| unreachable!()),
                sticky,
                nexthop: false,
            },
        }
    }

    fn br(mac: u8, sticky: bool) -> Op {
        Op::Add {
            key: Key::BridgeFdb {
                vni: vni(),
                mac: Mac([2, 0, 0, 0, 0, mac]),
            },
            value: Value::BridgeFdb { sticky },
        }
    }

    #[test]
    fn a_new_remote_macs_two_entries_become_one_request() {
        let cx = ctx();
        assert!(combined(&vx(1, false), &br(1, false), &cx).is_some());
        assert!(combined(&br(1, false), &vx(1, false), &cx).is_some());
        // Not: another MAC, a sticky side, a VNI on the single VXLAN
        // device, an nhid entry whose group does not exist yet.
        assert!(combined(&vx(1, false), &br(2, false), &cx).is_none());
        assert!(combined(&vx(1, true), &br(1, true), &cx).is_none());
        assert!(combined(&vx(1, false), &br(1, true), &cx).is_none());
        let mut svd = ctx();
        svd.devs.svd_vlan.insert(vni(), 10);
        assert!(combined(&vx(1, false), &br(1, false), &svd).is_none());
        let nh = Op::Add {
            key: vx(1, false).key().clone(),
            value: Value::VxlanFdb {
                vtep: "10.0.0.2".parse().unwrap_or_else(|_| unreachable!()),
                sticky: false,
                nexthop: true,
            },
        };
        assert!(combined(&nh, &br(1, false), &cx).is_none());
        // Three ops, one pair: two requests; both ops of the pair own the
        // combined one.
        let p = prepare(&[vx(1, false), br(1, false), vx(2, false)], 0, 1, &cx);
        assert_eq!(p.owner, vec![(0, Some(1)), (2, None)]);
    }
}
