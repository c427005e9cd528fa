//! Transport security against FRR: TCP-MD5 (RFC 2385) and GTSM (RFC 5082).

use std::time::Duration;

use integration::topo::*;
use integration::*;

/// FRR with key "s3cret" for evpnd; evpnd with `evpnd_key` (None = no key).
fn md5_pair(label: &str, evpnd_key: Option<&str>) -> anyhow::Result<(Pair, Frr, Evpnd)> {
    let p = Pair::new(label)?;
    let (ev, fr) = (p.a_addr.clone(), p.b_addr.clone());
    let conf = frr_config(
        65002,
        &fr.v4,
        &[(&ev.v4, 65001)],
        &["evpn"],
        &format!(" neighbor {} password s3cret", ev.v4),
    );
    let frr = Frr::start(&p.b, &p.dir, &conf)?;
    let extra = evpnd_key
        .map(|k| format!("password = \"{k}\""))
        .unwrap_or_default();
    let e = Evpnd::start(
        &p.a,
        &p.dir,
        "evpnd",
        &evpnd_config(
            &ev.v4,
            65001,
            "",
            &evpnd_neighbor(&fr.v4, 65002, &["evpn"], &extra),
        ),
    )?;
    Ok((p, frr, e))
}

#[test]
fn md5_with_the_same_key_establishes() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let (p, frr, e) = md5_pair("md5-ok", Some("s3cret")).unwrap();
    evpnd_established(&e, &p.b_addr.v4).unwrap();
    frr_established(&frr, &p.a_addr.v4).unwrap();
}

#[test]
fn md5_with_a_wrong_key_never_establishes_and_the_kernel_drops_segments() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let (p, _frr, e) = md5_pair("md5-bad", Some("wrong")).unwrap();
    evpnd_stays_down(&e, &p.b_addr.v4, Duration::from_secs(8)).unwrap();
    // Both kernels saw signed segments with a key that does not verify.
    let failures = tcpext(&p.a, "TCPMD5Failure").unwrap() + tcpext(&p.b, "TCPMD5Failure").unwrap();
    assert!(failures > 0, "no TCPMD5Failure counted on either side");
}

#[test]
fn md5_key_missing_on_our_side_never_establishes() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let (p, _frr, e) = md5_pair("md5-none", None).unwrap();
    evpnd_stays_down(&e, &p.b_addr.v4, Duration::from_secs(8)).unwrap();
    let unexpected =
        tcpext(&p.a, "TCPMD5Unexpected").unwrap() + tcpext(&p.b, "TCPMD5NotFound").unwrap();
    assert!(
        unexpected > 0,
        "no TCPMD5Unexpected / TCPMD5NotFound counted"
    );
}

/// evpnd ── router ── FRR. With `ttl_security = 1` evpnd only accepts
/// segments that arrive with TTL 255, but FRR's (sent with 255) arrive with
/// 254 after the router: no session. With `ttl_security = 2`: session.
#[test]
fn gtsm_refuses_a_peer_two_hops_away_and_accepts_it_with_hops_2() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let dir = TestDir::new("gtsm").unwrap();
    let (leaf, router, peer) = (
        Netns::new().unwrap(),
        Netns::new().unwrap(),
        Netns::new().unwrap(),
    );
    let (l, r1) = link(1, &leaf, "eth0", &router, "eth1").unwrap();
    let (r2, f) = link(2, &router, "eth2", &peer, "eth0").unwrap();
    router.enable_forwarding().unwrap();
    leaf.route("10.0.2.0/24", &r1.v4).unwrap();
    peer.route("10.0.1.0/24", &r2.v4).unwrap();
    // FRR: GTSM with 2 hops (sends TTL 255, accepts ≥ 254).
    let conf = frr_config(
        65002,
        &f.v4,
        &[(&l.v4, 65001)],
        &["evpn"],
        &format!(" neighbor {} ttl-security hops 2", l.v4),
    );
    let frr = Frr::start(&peer, &dir, &conf).unwrap();
    let config = |hops: u8| {
        evpnd_config(
            &l.v4,
            65001,
            "",
            &evpnd_neighbor(&f.v4, 65002, &["evpn"], &format!("ttl_security = {hops}")),
        )
    };
    let mut e = Evpnd::start(&leaf, &dir, "evpnd", &config(1)).unwrap();
    evpnd_stays_down(&e, &f.v4, Duration::from_secs(8)).unwrap();

    std::fs::write(&e.config, config(2)).unwrap();
    e.restart_after_kill().unwrap();
    evpnd_established(&e, &f.v4).unwrap();
    frr_established(&frr, &l.v4).unwrap();
}
