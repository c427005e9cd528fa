//! UPDATE codec throughput: UPDATEs packed with RT-2 MAC+IP routes (as many
//! as fit in 4096 octets), decoded and encoded repeatedly for a bounded
//! time on one thread. Prints NLRI per second and the ratio to the target.
//!
//!     cargo bench -p evpn-proto --bench codec
//!
//! Target: 50 M NLRI/s decode (a full 1 M-route EVPN table in 20 ms).

#![expect(
    clippy::expect_used,
    reason = "test fixtures are known-valid values; a failure is a test failure"
)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use evpn_proto::attr::{AsPath, NextHop, Origin, PathAttrs};
use evpn_proto::evpn::{EvpnRoute, MacIp};
use evpn_proto::message::pack::pack_evpn_reach;
use evpn_proto::message::{decode_message, DecodeCxt, Decoded, Update, Verdict};
use evpn_proto::{Esi, ExtCommunity, Label, Mac, Rd, RouteTarget, TunnelType};

const TARGET_DECODE: f64 = 50e6;
const RUN_FOR: Duration = Duration::from_secs(2);
const ROUTES: u32 = 20_000;

fn route(i: u32) -> EvpnRoute {
    let b = i.to_be_bytes();
    EvpnRoute::MacIp(MacIp {
        rd: Rd::Ip {
            ip: Ipv4Addr::new(10, 0, 0, 11),
            number: 100,
        },
        esi: Esi::ZERO,
        eth_tag: 0,
        mac: Mac([0x52, 0x54, b[0], b[1], b[2], b[3]]),
        ip: Some(IpAddr::V4(Ipv4Addr::new(10, b[1], b[2], b[3]))),
        label1: Label::from_raw(100),
        label2: None,
    })
}

fn attrs() -> PathAttrs {
    PathAttrs {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([65001])),
        local_pref: Some(100),
        ext_communities: Some(vec![
            ExtCommunity::RouteTarget(RouteTarget::As2 {
                asn: 65000,
                local: 100,
            }),
            ExtCommunity::Encapsulation(TunnelType::from(8)),
        ]),
        ..PathAttrs::default()
    }
}

/// Nanoseconds this thread has been on a CPU (first field of
/// /proc/thread-self/schedstat); `None` where the kernel does not say.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// NLRI per second, from `SLICES` slices of the run: the median slice on
/// a CPU (what one core does; time spent waiting for a core on this shared
/// machine is not counted), the best slice on a CPU, and wall clock over the
/// whole run.
#[derive(Clone, Copy)]
struct Rate {
    cpu: f64,
    best: f64,
    wall: f64,
}

const SLICES: u32 = 10;

/// Run `f` (which handles `per_call` NLRI) repeatedly for about `RUN_FOR`.
fn rate(per_call: usize, f: &mut dyn FnMut()) -> Rate {
    // Warm up caches and the allocator.
    for _ in 0..3 {
        f();
    }
    let slice = RUN_FOR / SLICES;
    let start = Instant::now();
    let mut total = 0f64;
    let mut rates = Vec::new();
    for _ in 0..SLICES {
        let t0 = Instant::now();
        let c0 = cpu_ns();
        let mut calls = 0u64;
        while t0.elapsed() < slice {
            f();
            calls += 1;
        }
        let nlri = calls as f64 * per_call as f64;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = match (c0, cpu_ns()) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
            _ => wall,
        };
        total += nlri;
        rates.push(nlri / cpu);
    }
    rates.sort_by(f64::total_cmp);
    Rate {
        cpu: rates[rates.len() / 2],
        best: rates[rates.len() - 1],
        wall: total / start.elapsed().as_secs_f64(),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `CODEC_BENCH=decode,nlri` runs only those phases (for profiling).
fn wanted(phase: &str) -> bool {
    std::env::var("CODEC_BENCH").map_or(true, |v| v.split(',').any(|p| p == phase))
}

const SKIPPED: Rate = Rate {
    cpu: f64::NAN,
    best: f64::NAN,
    wall: f64::NAN,
};

fn main() {
    let cx = DecodeCxt::default();
    let routes: Vec<EvpnRoute> = (0..ROUTES).map(route).collect();
    let next_hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 11));
    let msgs = pack_evpn_reach(&attrs(), &next_hop, &routes, &cx).expect("attributes fit");
    let per_msg = routes.len() as f64 / msgs.len() as f64;
    let bytes: usize = msgs.iter().map(Vec::len).sum();

    // Sanity: every message decodes cleanly with all its routes.
    let updates: Vec<Update> = msgs
        .iter()
        .map(|m| match decode_message(m, &cx) {
            Ok(Decoded::Update(d)) if d.verdict == Verdict::Ok => d.update,
            other => panic!("bench message does not decode: {other:?}"),
        })
        .collect();
    let n: usize = updates.iter().map(Update::reach_count).sum();
    assert_eq!(n, routes.len());

    println!(
        "codec: {} RT-2 MAC+IPv4 routes in {} UPDATEs ({per_msg:.1} NLRI/msg, {bytes} octets), load average {}",
        routes.len(),
        msgs.len(),
        loadavg()
    );

    let run = |phase: &str, f: &mut dyn FnMut()| {
        if wanted(phase) {
            rate(routes.len(), f)
        } else {
            SKIPPED
        }
    };
    let decode = run("decode", &mut || {
        for m in &msgs {
            black_box(decode_message(black_box(m), &cx).is_ok());
        }
    });
    // The same NLRI fields through read_evpn_routes alone: the floor for
    // the message decode, and what is left for header + attributes.
    let fields: Vec<Vec<u8>> = updates
        .iter()
        .map(|u| {
            let mut f = Vec::new();
            if let Some(r) = &u.attrs.mp_reach {
                r.nlri.write(&mut f);
            }
            f
        })
        .collect();
    let nlri_only = run("nlri", &mut || {
        for f in &fields {
            black_box(evpn_proto::read_evpn_routes(black_box(f)).is_ok());
        }
    });
    let mut buf = Vec::with_capacity(4096);
    let encode = run("encode", &mut || {
        for u in &updates {
            buf.clear();
            u.encode_into(&cx, &mut buf);
            black_box(&buf);
        }
    });
    let pack = run("pack", &mut || {
        black_box(pack_evpn_reach(&attrs(), &next_hop, black_box(&routes), &cx).is_ok());
    });

    let mb = |r: f64| r * bytes as f64 / routes.len() as f64 / 1e6;
    let show = |name: &str, r: Rate| {
        println!(
            "{name}: {:.0} NLRI/s on one core ({:.0} MB/s; best slice {:.0}); {:.0} NLRI/s wall clock",
            r.cpu,
            mb(r.cpu),
            r.best,
            r.wall
        )
    };
    show("decode", decode);
    println!(
        "  of which EVPN NLRI parsing (read_evpn_routes alone): {:.0} NLRI/s on one core; \
         header + attributes + checks add {:.1} ns per NLRI",
        nlri_only.cpu,
        1e9 / decode.cpu - 1e9 / nlri_only.cpu
    );
    show("encode", encode);
    show("pack", pack);
    println!(
        "decode vs target {:.0} M NLRI/s: {:.2}x on one core (best slice {:.2}x, wall {:.2}x); {:.1} ns per NLRI, {:.2} us per UPDATE",
        TARGET_DECODE / 1e6,
        decode.cpu / TARGET_DECODE,
        decode.best / TARGET_DECODE,
        decode.wall / TARGET_DECODE,
        1e9 / decode.cpu,
        1e6 * per_msg / decode.cpu
    );
}
