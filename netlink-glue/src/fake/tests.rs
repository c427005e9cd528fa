use std::net::IpAddr;

use evpn_proto::{Mac, Vni};

use super::*;
use crate::model::{L2Vni, RemoteMac};
use crate::observe::{Dev, LocalMac};

fn vni(v: u32) -> Vni {
    Vni::new(v).unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
const M1: Mac = Mac([2, 0, 0, 0, 0, 1]);

fn intent() -> Intent {
    let mut i = Intent {
        generation: 1,
        ..Intent::default()
    };
    i.l2vnis
        .insert(vni(100), L2Vni::new(vni(100), ip("10.0.0.1")));
    i.remote_macs.insert(
        (vni(100), M1),
        RemoteMac {
            vtep: ip("10.0.0.2"),
            sticky: false,
        },
    );
    i.flood.insert((vni(100), ip("10.0.0.2")));
    i
}

#[tokio::test]
async fn reconcile_creates_devices_and_entries_then_is_idempotent() {
    let mut f = Fake::new();
    let r = f.reconcile(&intent()).await;
    assert!(r.ok(), "{r}");
    assert_eq!(r.generation, 1);
    assert_eq!(r.applied, 3);
    assert_eq!(
        f.devices.iter().cloned().collect::<Vec<_>>(),
        vec!["br100".to_string(), "vxlan100".to_string()]
    );
    let again = f.reconcile(&intent()).await;
    assert_eq!(again.applied, 0);
    assert!(again.devices.is_empty());
    assert_eq!(again.plan.kept, 3);
}

#[tokio::test]
async fn failed_dump_writes_and_deletes_nothing() {
    let mut f = Fake::new();
    f.reconcile(&intent()).await;
    f.dump_fails = true;
    let mut empty = intent();
    empty.remote_macs.clear();
    empty.flood.clear();
    let r = f.reconcile(&empty).await;
    assert!(r.unknown.is_some());
    assert_eq!(r.applied, 0);
    assert_eq!(f.owned().len(), 3, "a failed dump must not read as empty");
}

#[tokio::test]
async fn keep_stale_reconcile_adds_but_deletes_nothing_until_the_sweep() {
    // A restart: the kernel holds what the last run wrote; the first intent
    // has the devices but no remote state yet.
    let mut f = Fake::new();
    f.reconcile(&intent()).await;
    let mut restarting = intent();
    restarting.remote_macs.clear();
    restarting.flood.clear();
    restarting.keep_stale = true;
    let r = f.reconcile(&restarting).await;
    assert!(r.ok(), "{r}");
    assert_eq!((r.applied, r.plan.kept), (0, 3), "{r}");
    assert_eq!(f.owned().len(), 3, "stale entries kept");
    // The routes come back (one of the two), then the sweep.
    let mut back = intent();
    back.flood.clear();
    let r = f.reconcile(&back).await;
    assert_eq!(r.plan.count("delete"), 1, "{r}");
    assert_eq!(f.owned().len(), 2);
}

#[tokio::test]
async fn injected_kernel_error_is_reported_against_its_object() {
    let mut f = Fake::new();
    f.fail.insert(
        Key::VxlanFdb {
            vni: vni(100),
            mac: M1,
        },
        KernelError::new(libc::EINVAL),
    );
    let r = f.reconcile(&intent()).await;
    assert_eq!(r.failed.len(), 1);
    let text = r.failed[0].to_string();
    assert!(
        text.starts_with(
            "add fdb 02:00:00:00:00:01 dst 10.0.0.2 self extern_learn on vxlan100: EINVAL"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn incremental_move_replaces_one_entry_without_touching_others() {
    let mut f = Fake::new();
    f.reconcile(&intent()).await;
    let before = f.history.len();
    let r = f
        .apply(
            2,
            &[Change::RemoteMac {
                vni: vni(100),
                mac: M1,
                to: Some(RemoteMac {
                    vtep: ip("10.0.0.3"),
                    sticky: false,
                }),
            }],
        )
        .await;
    assert!(r.ok());
    assert_eq!(r.generation, 2);
    assert_eq!(f.history.len() - before, 1);
    assert!(matches!(
        &f.history[before],
        Op::Replace {
            key: Key::VxlanFdb { .. },
            ..
        }
    ));
    // Withdraw: both entries go, flood stays.
    let r = f
        .apply(
            3,
            &[Change::RemoteMac {
                vni: vni(100),
                mac: M1,
                to: None,
            }],
        )
        .await;
    assert_eq!(r.applied, 2);
    assert_eq!(f.owned().len(), 1);
}

#[tokio::test]
async fn operator_entries_survive_reconcile() {
    let mut f = Fake::new();
    let k = Key::BridgeFdb {
        vni: vni(100),
        mac: Mac([2, 0, 0, 0, 0, 9]),
    };
    f.put_foreign(k.clone(), None, Owner::Foreign);
    f.reconcile(&intent()).await;
    assert!(f.kernel.entries.contains_key(&k));
}

#[tokio::test]
async fn observations_are_delivered_once() {
    let mut f = Fake::new();
    let mut obs = f.observe().await.unwrap();
    assert!(matches!(f.observe().await, Err(Error::AlreadySubscribed)));
    let lm = LocalMac {
        bridge: Dev {
            ifindex: 2,
            name: "br100".into(),
        },
        port: Dev {
            ifindex: 4,
            name: "eth1".into(),
        },
        mac: M1,
        vlan: None,
        is_static: false,
    };
    assert!(f.inject(Observation::LocalMacLearned(lm.clone())));
    assert_eq!(obs.recv().await, Some(Observation::LocalMacLearned(lm)));
}
