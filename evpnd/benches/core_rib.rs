//! Baseline for the bench: feed N EVPN RT-2 routes (default 1,000,000) as
//! UPDATE bytes through `Core::handle` and print the time and RSS.
//!
//! Part of `make bench` (`cargo bench -p evpnd --bench core_rib`);
//! `EVPND_PERF_ROUTES=100000` for a smaller run. It fails if any route is
//! missing from the Loc-RIB.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "bench harness: a failure is a bench failure"
)]

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Instant;

use evpn_proto::attr::{AsPath, NextHop, Origin};
use evpn_proto::capability::Capability;
use evpn_proto::evpn::MacIp;
use evpn_proto::message::pack::pack_evpn_reach;
use evpn_proto::message::{keepalive, DecodeCxt, Open};
use evpn_proto::{Esi, EvpnRoute, ExtCommunity, Family, Label, Mac, PathAttrs, TunnelType, Vni};
use evpnd::config::Config;
use evpnd::core::io::{ConnId, Input, Output, RequestId};
use evpnd::core::Core;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let n: u32 = std::env::var("EVPND_PERF_ROUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let toml = "router_id = \"10.0.0.1\"\nasn = 65000\n[[neighbor]]\naddress = \"10.0.0.2\"\nremote_as = 65000\npassive = true\n";
    let config = Config::parse(Path::new("perf.toml"), toml).unwrap();
    let now = Instant::now();
    let mut core = Core::new(&config, now, 1);
    let conn = ConnId(1 << 63);
    core.handle(
        now,
        Input::Accepted {
            conn,
            local: "10.0.0.1:179".parse().unwrap(),
            remote: "10.0.0.2:5000".parse().unwrap(),
        },
    );
    let open = Open::new(
        65000,
        90,
        Ipv4Addr::new(10, 0, 0, 2),
        vec![Capability::multiprotocol(Family::Evpn)],
    );
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: open.encode(),
        },
    );
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: keepalive(),
        },
    );
    while core.poll_output().is_some() {}

    // Build the UPDATEs: one VNI, one VTEP, distinct MAC+IP per route.
    let attrs = PathAttrs {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        local_pref: Some(100),
        ext_communities: Some(vec![
            ExtCommunity::RouteTarget("65000:100".parse().unwrap()),
            ExtCommunity::Encapsulation(TunnelType::Vxlan),
        ]),
        ..PathAttrs::default()
    };
    let label = Label::from_vni(Vni::new(100).unwrap());
    let routes: Vec<EvpnRoute> = (0..n)
        .map(|i| {
            let b = i.to_be_bytes();
            EvpnRoute::MacIp(MacIp {
                rd: "10.0.0.2:100".parse().unwrap(),
                esi: Esi::ZERO,
                eth_tag: 0,
                mac: Mac([0x02, 0, b[0], b[1], b[2], b[3]]),
                ip: Some(Ipv4Addr::from(0x0a00_0000 | (i & 0x00ff_ffff)).into()),
                label1: label,
                label2: None,
            })
        })
        .collect();
    let cx = DecodeCxt::default();
    let msgs = pack_evpn_reach(
        &attrs,
        &NextHop::V4(Ipv4Addr::new(10, 0, 0, 2)),
        &routes,
        &cx,
    )
    .unwrap();
    drop(routes);
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let before = rss_kib("VmRSS:");

    let t = Instant::now();
    for m in msgs {
        core.handle(now, Input::Message { conn, bytes: m });
        while core.poll_output().is_some() {}
    }
    let elapsed = t.elapsed();
    let after = rss_kib("VmRSS:");
    let hwm = rss_kib("VmHWM:");
    core.handle(
        now,
        Input::Api {
            id: RequestId(1),
            request: serde_json::json!({"command": "show-bgp-summary"}),
        },
    );
    let summary = std::iter::from_fn(|| core.poll_output())
        .find_map(|o| match o {
            Output::ApiReply { reply, .. } => Some(reply),
            _ => None,
        })
        .unwrap();
    println!(
        "core_perf: {n} RT-2 routes, {} UPDATE bytes: {:.2} s ({:.0} routes/s); RSS before {} MiB, after {} MiB (+{} MiB for the RIB), peak {} MiB; Loc-RIB {} routes, {} attribute sets",
        bytes,
        elapsed.as_secs_f64(),
        f64::from(n) / elapsed.as_secs_f64(),
        before / 1024,
        after / 1024,
        after.saturating_sub(before) / 1024,
        hwm / 1024,
        core.loc_rib_len(),
        core.attr_sets()
    );
    assert_eq!(core.loc_rib_len(), n as usize);
    assert_eq!(summary["peers"][0]["families"][0]["received"], u64::from(n));
}
