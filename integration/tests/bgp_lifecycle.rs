//! The daemon's lifecycle against FRR: SIGHUP reloads the config (new
//! neighbor comes up, the diff is printed), SIGTERM stops gracefully with
//! Cease / Administrative Shutdown to the peer and exit status 0.

use std::time::Duration;

use integration::topo::*;
use integration::*;

#[test]
fn sighup_adds_a_neighbor_and_prints_the_diff() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let p = Pair::new("sighup").unwrap();
    let (ev, fr) = (&p.a_addr, &p.b_addr);
    let frr = Frr::start(
        &p.b,
        &p.dir,
        &frr_config(65002, &fr.v4, &[(&ev.v4, 65001)], &["evpn"], ""),
    )
    .unwrap();
    // No neighbors at first.
    let mut e = Evpnd::start(&p.a, &p.dir, "evpnd", &evpnd_config(&ev.v4, 65001, "", "")).unwrap();
    std::fs::write(
        &e.config,
        evpnd_config(
            &ev.v4,
            65001,
            "",
            &evpnd_neighbor(&fr.v4, 65002, &["evpn"], ""),
        ),
    )
    .unwrap();
    e.daemon().signal(libc::SIGHUP).unwrap();
    evpnd_established(&e, &fr.v4).unwrap();
    frr_established(&frr, &ev.v4).unwrap();
    let wanted = format!("+ neighbor {}", fr.v4);
    poll_until("the diff is printed", CONVERGE, POLL, || {
        Ok(e.log().contains(&wanted).then_some(()))
    })
    .unwrap();
}

#[test]
fn sigterm_sends_cease_administrative_shutdown_and_exits_0() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let p = Pair::new("sigterm").unwrap();
    let (ev, fr) = (&p.a_addr, &p.b_addr);
    let frr = Frr::start(
        &p.b,
        &p.dir,
        &frr_config(65002, &fr.v4, &[(&ev.v4, 65001)], &["evpn"], ""),
    )
    .unwrap();
    let mut e = evpnd_to_b(&p, 65002, &["evpn"]).unwrap();
    frr_established(&frr, &ev.v4).unwrap();
    let status = e
        .daemon()
        .stop_with(libc::SIGTERM, Duration::from_secs(5))
        .expect("evpnd did not exit within 5 s of SIGTERM");
    assert!(status.success(), "exit status {status}");
    // bgpd logs every NOTIFICATION it receives with code/subcode; its
    // `show bgp neighbors json` only keeps the last reset reason, which a
    // reconnect attempt to the stopped evpnd may overwrite (seen in CI).
    let wanted = format!(
        "received from neighbor {} 6/2 (Cease/Administrative Shutdown)",
        ev.v4
    );
    poll_until("FRR received Cease/2", CONVERGE, POLL, || {
        Ok(frr.bgpd_log().contains(&wanted).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n--- bgpd log ---\n{}", frr.bgpd_log()));
}
