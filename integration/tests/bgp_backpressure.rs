//! Write backpressure: a peer that stops reading must not make evpnd build
//! (and buffer) its whole Adj-RIB-Out. Two injector sessions (the
//! integration crate's fast BGP speaker) are route-reflector clients of
//! evpnd: one announces N RT-2 routes, the other does not read. evpnd must
//! keep both sessions up, take all N routes into its Loc-RIB, and have
//! advertised to the silent reader only about its write-buffer bound
//! (the kernel buffers are made small); once the reader reads, all N
//! arrive.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use integration::inject::{accept_within, listen_in, Session, SessionCfg, Workload};
use integration::topo::link;
use integration::*;
use serde_json::Value;

const N: u32 = 200_000;

fn family(summary: &Value, peer: &str, key: &str) -> u64 {
    summary["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["peer"] == peer)
        .flat_map(|p| p["families"].as_array().into_iter().flatten())
        .filter(|f| f["family"] == "evpn")
        .filter_map(|f| f[key].as_u64())
        .sum()
}

fn state(summary: &Value, peer: &str) -> String {
    summary["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["peer"] == peer)
        .and_then(|p| p["state"].as_str())
        .unwrap_or("none")
        .to_string()
}

#[test]
fn a_peer_that_stops_reading_gets_a_bounded_backlog_then_everything() {
    if skip_unless(true, &[]) {
        return;
    }
    let dir = TestDir::new("backpressure").unwrap();
    let inj = Netns::new().unwrap();
    let dut = Netns::new().unwrap();
    let (a, b) = link(0, &inj, "eth0", &dut, "eth0").unwrap();
    // Small socket buffers, so what is queued is mostly evpnd's own.
    for ns in [&inj, &dut] {
        ns.sysctl("net.ipv4.tcp_wmem", "4096 16384 65536").unwrap();
        ns.sysctl("net.ipv4.tcp_rmem", "4096 16384 65536").unwrap();
    }
    let (feeder, dut_ip): (Ipv4Addr, Ipv4Addr) = (a.v4.parse().unwrap(), b.v4.parse().unwrap());
    let slow = Ipv4Addr::new(10, 0, 0, 11);
    inj.addr("eth0", &format!("{slow}/24")).unwrap();
    let l_feed = listen_in(&inj, SocketAddr::new(feeder.into(), 179)).unwrap();
    let l_slow = listen_in(&inj, SocketAddr::new(slow.into(), 179)).unwrap();
    let mut toml = format!("router_id = \"{dut_ip}\"\nasn = 65000\nlisten = [\"{dut_ip}:179\"]\n");
    for peer in [feeder, slow] {
        toml.push_str(&format!(
            "\n[[neighbor]]\naddress = \"{peer}\"\nremote_as = 65000\nfamilies = [\"evpn\"]\n\
             hold_time = 9\nconnect_retry = 1\nroute_reflector_client = true\n"
        ));
    }
    let e = Evpnd::start_with_env(&dut, &dir, "evpnd", &toml, &[("RUST_LOG", "info")]).unwrap();
    let cfg = |id: Ipv4Addr, paused: bool| SessionCfg {
        asn: 65000,
        router_id: id,
        hold_time: 9,
        paused,
    };
    let up = Duration::from_secs(30);
    let mut s_slow = Session::establish(
        accept_within(&l_slow, up).unwrap(),
        &cfg(slow, true),
        None,
        u64::from(N),
        up,
    )
    .unwrap();
    let w = Workload::rt2(N, 65000, feeder, 100).unwrap();
    let mut s_feed = Session::establish(
        accept_within(&l_feed, up).unwrap(),
        &cfg(feeder, false),
        Some(w.bytes.clone()),
        0,
        up,
    )
    .unwrap();

    let (fs, ss) = (feeder.to_string(), slow.to_string());
    // All routes reach the Loc-RIB although one client does not read.
    let summary = poll_until(
        "evpnd has every route from the feeder",
        Duration::from_secs(90),
        Duration::from_millis(250),
        || {
            let s = e.ctl(&["show", "bgp", "summary"])?;
            Ok((family(&s, &fs, "accepted") == u64::from(N)).then_some(s))
        },
    )
    .unwrap();
    // A few keepalive intervals with the reader still stopped: the sessions
    // stay up and the backlog stays bounded.
    std::thread::sleep(Duration::from_secs(4));
    let summary2 = e.ctl(&["show", "bgp", "summary"]).unwrap();
    let advertised = family(&summary2, &ss, "advertised");
    assert_eq!(state(&summary2, &ss), "established", "{summary2}");
    assert_eq!(state(&summary2, &fs), "established", "{summary2}");
    // 2 MiB of write buffer + small kernel buffers ≈ 55k RT-2 of 39 octets.
    assert!(
        advertised < u64::from(N) / 2,
        "built {advertised} of {N} routes for a peer that does not read: {summary}"
    );
    assert!(s_slow.stats.routes() == 0);

    s_slow.resume();
    poll_until(
        "the slow client has every route once it reads",
        Duration::from_secs(90),
        Duration::from_millis(250),
        || Ok((s_slow.stats.routes() == u64::from(N)).then_some(())),
    )
    .unwrap();
    let s = e.ctl(&["show", "bgp", "summary"]).unwrap();
    assert_eq!(family(&s, &ss, "advertised"), u64::from(N), "{s}");
    assert_eq!(state(&s, &ss), "established", "{s}");
    s_slow.stop();
    s_feed.stop();
}
