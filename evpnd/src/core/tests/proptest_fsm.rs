//! The FSM never panics on any sequence of inputs, bytes and time steps.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use evpn_proto::capability::Capability;
use evpn_proto::message::{keepalive, Open};
use evpn_proto::Family;
use proptest::prelude::*;

use super::{config, leaf};
use crate::core::io::{ConnId, Input};
use crate::core::Core;

#[derive(Debug, Clone)]
enum Step {
    Accept(u8),
    Connected(u8),
    ConnectFailed(u8),
    Open(u8, u32, u16, [u8; 4]),
    Keepalive(u8),
    Bytes(u8, Vec<u8>),
    /// A valid header around random body bytes.
    Framed(u8, u8, Vec<u8>),
    Closed(u8),
    Stalled(u8),
    Api(u8),
    Time(u16),
}

fn conn(c: u8) -> ConnId {
    if c % 2 == 0 {
        ConnId(u64::from(c % 4) + 1)
    } else {
        ConnId((1 << 63) + u64::from(c % 4))
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        any::<u8>().prop_map(Step::Accept),
        any::<u8>().prop_map(Step::Connected),
        any::<u8>().prop_map(Step::ConnectFailed),
        (
            any::<u8>(),
            prop_oneof![Just(65000u32), Just(65001), any::<u32>()],
            prop_oneof![Just(90u16), Just(0), Just(3), any::<u16>()],
            any::<[u8; 4]>()
        )
            .prop_map(|(c, a, h, id)| Step::Open(c, a, h, id)),
        any::<u8>().prop_map(Step::Keepalive),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(c, b)| Step::Bytes(c, b)),
        (
            any::<u8>(),
            1u8..6,
            proptest::collection::vec(any::<u8>(), 0..120)
        )
            .prop_map(|(c, t, b)| Step::Framed(c, t, b)),
        any::<u8>().prop_map(Step::Closed),
        any::<u8>().prop_map(Step::Stalled),
        any::<u8>().prop_map(Step::Api),
        any::<u16>().prop_map(Step::Time),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]
    #[test]
    fn fsm_never_panics_on_any_input_sequence(steps in proptest::collection::vec(step(), 1..60)) {
        let cfg = config(&leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, ""), ("10.0.0.3", 65001, "passive = true\nmax_prefix = { limit = 1, restart = 5 }")]));
        let mut now = Instant::now();
        let mut core = Core::new(&cfg, now, 7);
        for s in steps {
            let peer = |c: u8| if c & 4 == 0 { "10.0.0.2" } else { "10.0.0.3" };
            let input = match s {
                Step::Accept(c) => Input::Accepted { conn: conn(c), local: "10.0.0.1:179".parse().unwrap(), remote: format!("{}:4000", peer(c)).parse().unwrap() },
                Step::Connected(c) => Input::Connected { conn: conn(c), local: "10.0.0.1:4000".parse().unwrap(), remote: format!("{}:179", peer(c)).parse().unwrap() },
                Step::ConnectFailed(c) => Input::ConnectFailed { conn: conn(c), error: "x".into() },
                Step::Open(c, asn, hold, id) => Input::Message { conn: conn(c), bytes: Open::new(asn, hold, Ipv4Addr::from(id), vec![Capability::multiprotocol(Family::Evpn), Capability::GracefulRestart { restart_state: true, notification: false, restart_time: 5, families: vec![(Family::Evpn.afi(), Family::Evpn.safi(), true)] }]).encode() },
                Step::Keepalive(c) => Input::Message { conn: conn(c), bytes: keepalive() },
                Step::Bytes(c, b) => Input::Message { conn: conn(c), bytes: b },
                Step::Framed(c, t, b) => {
                    let mut m = vec![0xff; 16];
                    m.extend_from_slice(&((19 + b.len()) as u16).to_be_bytes());
                    m.push(t);
                    m.extend_from_slice(&b);
                    Input::Message { conn: conn(c), bytes: m }
                }
                Step::Closed(c) => Input::Closed { conn: conn(c), error: None },
                Step::Stalled(c) => Input::SendStalled { conn: conn(c) },
                Step::Api(c) => Input::Api { id: crate::core::io::RequestId(1), request: match c % 4 {
                    0 => serde_json::json!({"command": "show-bgp-neighbors"}),
                    1 => serde_json::json!({"command": "show-bgp-routes", "family": "evpn"}),
                    2 => serde_json::json!({"command": "route-add", "family": "evpn", "route_type": 2, "rd": "1.1.1.1:1", "mac": format!("00:00:00:00:00:{c:02x}"), "vni": 10}),
                    _ => serde_json::json!({"command": "bogus"}),
                }},
                Step::Time(ms) => {
                    now += Duration::from_millis(u64::from(ms) * 50);
                    core.handle_timeout(now);
                    while core.poll_output().is_some() {}
                    continue;
                }
            };
            core.handle(now, input);
            while core.poll_output().is_some() {}
        }
    }
}
