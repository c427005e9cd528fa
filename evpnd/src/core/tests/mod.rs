//! Scenario tests with virtual time: several [`Core`]s wired back to back
//! (quinn's `Pair` pattern). Every `Output::Send` is split into messages
//! and fed to the other side as `Input::Message`; connects succeed at once
//! between known addresses.

mod evpn_scenarios;
mod fsm;
mod gr_notification;
mod proptest_fsm;
mod rib_scenarios;
mod route_refresh;
mod update_groups;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use evpn_proto::message::{frame_len, DecodeCxt, Decoded};
use serde_json::{json, Value};

use super::io::{ConnId, DataplaneEvent, DataplaneRequest, Input, Output, RequestId};
use super::{Core, CoreOptions};
use crate::config::Config;

pub(crate) fn config(toml: &str) -> Config {
    match Config::parse(Path::new("test.toml"), toml) {
        Ok(c) => c,
        Err(e) => panic!("test config: {e}"),
    }
}

/// A message seen on the wire, for assertions.
#[derive(Debug, Clone)]
pub(crate) struct Wire {
    pub from: usize,
    pub bytes: Vec<u8>,
}

impl Wire {
    pub fn decoded(&self) -> Option<Decoded> {
        evpn_proto::message::decode_message(&self.bytes, &DecodeCxt::default()).ok()
    }
    /// (code, subcode, data) if it is a NOTIFICATION.
    pub fn notification(&self) -> Option<(u8, u8, Vec<u8>)> {
        match self.decoded()? {
            Decoded::Notification(n) => Some((n.code, n.subcode, n.data)),
            _ => None,
        }
    }
}

pub(crate) struct Node {
    pub core: Core,
    pub addr: IpAddr,
    /// Drop everything this node sends (a silent peer).
    pub mute: bool,
    /// The node's kernel: every `Reconcile`/`Apply` is applied to it and
    /// its report fed back as `Input::Dataplane(Applied)`.
    pub dp: netlink_glue::Fake,
    /// Every dataplane request, in order.
    pub dp_log: Vec<DataplaneRequest>,
}

/// Several cores connected by a perfect virtual network.
pub(crate) struct Net {
    pub nodes: Vec<Node>,
    pub now: Instant,
    links: HashMap<(usize, ConnId), (usize, ConnId)>,
    next_accept: u64,
    next_port: u16,
    pub wire: Vec<Wire>,
    pub replies: VecDeque<(usize, Value)>,
    next_req: u64,
    /// Refuse connects to these node indexes.
    pub down: Vec<usize>,
}

impl Net {
    pub fn new(configs: &[(&str, &str)]) -> Net {
        let now = Instant::now();
        let nodes = configs
            .iter()
            .enumerate()
            .map(|(i, (addr, toml))| Node {
                core: Core::new(&config(toml), now, i as u64 + 1),
                addr: addr.parse().unwrap(),
                mute: false,
                dp: netlink_glue::Fake::new(),
                dp_log: Vec::new(),
            })
            .collect();
        Net {
            nodes,
            now,
            links: HashMap::new(),
            next_accept: 1 << 40,
            next_port: 40000,
            wire: Vec::new(),
            replies: VecDeque::new(),
            next_req: 1,
            down: Vec::new(),
        }
    }

    /// Replace node `i` with a fresh core (a restarted daemon).
    pub fn restart(&mut self, i: usize, toml: &str, options: CoreOptions) {
        self.nodes[i].core = Core::with_options(&config(toml), self.now, 99 + i as u64, options);
    }

    fn node_by_addr(&self, ip: IpAddr) -> Option<usize> {
        self.nodes.iter().position(|n| n.addr == ip)
    }

    /// Deliver outputs until nothing moves.
    pub fn pump(&mut self) {
        for _ in 0..100_000 {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                while let Some(o) = self.nodes[i].core.poll_output() {
                    moved = true;
                    self.deliver(i, o);
                }
            }
            if !moved {
                for n in &self.nodes {
                    n.core.check_counters();
                }
                return;
            }
        }
        panic!("network did not settle");
    }

    fn deliver(&mut self, i: usize, o: Output) {
        let now = self.now;
        match o {
            Output::Connect { conn, remote, .. } => {
                let target = self
                    .node_by_addr(remote.ip())
                    .filter(|j| !self.down.contains(j));
                let Some(j) = target else {
                    self.nodes[i].core.handle(
                        now,
                        Input::ConnectFailed {
                            conn,
                            error: "unreachable".into(),
                        },
                    );
                    return;
                };
                let other = ConnId(self.next_accept);
                self.next_accept += 1;
                self.next_port += 1;
                let local = SocketAddr::new(self.nodes[i].addr, self.next_port);
                self.links.insert((i, conn), (j, other));
                self.links.insert((j, other), (i, conn));
                self.nodes[j].core.handle(
                    now,
                    Input::Accepted {
                        conn: other,
                        local: remote,
                        remote: local,
                    },
                );
                self.nodes[i].core.handle(
                    now,
                    Input::Connected {
                        conn,
                        local,
                        remote,
                    },
                );
            }
            Output::Send { conn, bytes } => {
                if self.nodes[i].mute {
                    return;
                }
                let Some(&(j, other)) = self.links.get(&(i, conn)) else {
                    return;
                };
                let mut rest = &bytes[..];
                while let Ok(Some(n)) = frame_len(rest) {
                    let (msg, tail) = rest.split_at(n);
                    self.wire.push(Wire {
                        from: i,
                        bytes: msg.to_vec(),
                    });
                    self.nodes[j].core.handle(
                        now,
                        Input::Message {
                            conn: other,
                            bytes: msg.to_vec(),
                        },
                    );
                    rest = tail;
                }
            }
            Output::Close { conn } => {
                if let Some((j, other)) = self.links.remove(&(i, conn)) {
                    self.links.remove(&(j, other));
                    self.nodes[j].core.handle(
                        now,
                        Input::Closed {
                            conn: other,
                            error: None,
                        },
                    );
                }
            }
            Output::ListenOpts { .. } => {}
            Output::ApiReply { reply, .. } => self.replies.push_back((i, reply)),
            Output::Dataplane(r) => {
                use netlink_glue::Dataplane;
                self.nodes[i].dp_log.push(r.clone());
                let report = match &r {
                    DataplaneRequest::Reconcile(intent) => Some(futures::executor::block_on(
                        self.nodes[i].dp.reconcile(intent),
                    )),
                    DataplaneRequest::Apply {
                        generation,
                        changes,
                    } => Some(futures::executor::block_on(
                        self.nodes[i].dp.apply(*generation, changes),
                    )),
                    _ => None,
                };
                if let Some(report) = report {
                    self.nodes[i]
                        .core
                        .handle(now, Input::Dataplane(DataplaneEvent::Applied(report)));
                }
            }
        }
    }

    /// Kill node `i`'s connections without NOTIFICATION (TCP reset / crash).
    pub fn cut(&mut self, i: usize) {
        let mine: Vec<((usize, ConnId), (usize, ConnId))> = self
            .links
            .iter()
            .filter(|((a, _), _)| *a == i)
            .map(|(k, v)| (*k, *v))
            .collect();
        for ((a, c), (j, other)) in mine {
            self.links.remove(&(a, c));
            self.links.remove(&(j, other));
            self.nodes[j].core.handle(
                self.now,
                Input::Closed {
                    conn: other,
                    error: Some("reset".into()),
                },
            );
            self.nodes[a].core.handle(
                self.now,
                Input::Closed {
                    conn: c,
                    error: Some("reset".into()),
                },
            );
        }
        self.pump();
    }

    /// Advance virtual time, firing timers in order.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.pump();
            let next = self
                .nodes
                .iter()
                .filter_map(|n| n.core.poll_timeout())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    for n in &mut self.nodes {
                        n.core.handle_timeout(now);
                    }
                }
                _ => break,
            }
        }
        self.now = end;
        self.pump();
    }

    pub fn api(&mut self, i: usize, request: Value) -> Value {
        let id = RequestId(self.next_req);
        self.next_req += 1;
        self.nodes[i]
            .core
            .handle(self.now, Input::Api { id, request });
        self.pump();
        while let Some((n, reply)) = self.replies.pop_front() {
            if n == i {
                return reply;
            }
        }
        panic!("no API reply");
    }

    pub fn state(&self, i: usize, peer: &str) -> &'static str {
        self.nodes[i]
            .core
            .peer_state(peer.parse().unwrap())
            .unwrap_or("none")
    }

    pub fn routes(&mut self, i: usize, family: &str) -> Vec<Value> {
        let r = self.api(i, json!({"command": "show-bgp-routes", "family": family}));
        r["routes"].as_array().cloned().unwrap_or_default()
    }

    /// Node `i`'s connection to node `j`, if one is up.
    pub fn conn(&self, i: usize, j: usize) -> Option<ConnId> {
        let mut c: Vec<ConnId> = self
            .links
            .iter()
            .filter(|((a, _), (b, _))| *a == i && *b == j)
            .map(|((_, c), _)| *c)
            .collect();
        c.sort_by_key(|c| c.0);
        c.pop()
    }

    /// NOTIFICATIONs sent from `from`, as (code, subcode, data).
    pub fn notifications_from(&self, from: usize) -> Vec<(u8, u8, Vec<u8>)> {
        self.wire
            .iter()
            .filter(|w| w.from == from)
            .filter_map(|w| w.notification())
            .collect()
    }
}

/// An iBGP/eBGP leaf config.
pub(crate) fn leaf(router_id: &str, asn: u32, neighbors: &[(&str, u32, &str)]) -> String {
    let mut s = format!("router_id = \"{router_id}\"\nasn = {asn}\n");
    for (addr, ras, extra) in neighbors {
        s.push_str(&format!(
            "[[neighbor]]\naddress = \"{addr}\"\nremote_as = {ras}\nfamilies = [\"evpn\", \"ipv4\", \"ipv6\"]\n{extra}\n"
        ));
    }
    s
}

/// Two iBGP speakers in AS 65000, 10.0.0.2 passive.
pub fn ibgp_pair() -> Net {
    Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, "")]),
        ),
        (
            "10.0.0.2",
            &leaf("10.0.0.2", 65000, &[("10.0.0.1", 65000, "passive = true")]),
        ),
    ])
}
