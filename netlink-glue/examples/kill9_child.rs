//! The programming process of `tests/resync.rs`
//! (`reconcile_after_kill_9_keeps_replaces_and_deletes_only_ours`): the test
//! starts it inside a namespace, SIGKILLs it mid-way through programming,
//! and checks that a fresh reconcile repairs exactly what it owns.
#![allow(
    clippy::unwrap_used,
    reason = "test helper process: a panic is a test failure"
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::*;
use netlink_glue::{Config, Dataplane, Netlink};

/// The programming process of the kill -9 test: only runs when the parent
/// re-executes this binary with the namespace in the environment. It
/// programs intent A, then 20k remote MACs in slices, then waits to be
/// killed.
fn main() {
    let (Ok(path), Ok(state)) = (std::env::var(CHILD_NS), std::env::var(CHILD_STATE)) else {
        eprintln!("kill9_child: run by tests/resync.rs with {CHILD_NS} and {CHILD_STATE} set");
        std::process::exit(2);
    };
    netlink_glue::netns::enter(&path).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut dp = Netlink::new(Config::new(state)).unwrap();
        assert!(dp.reconcile(&intent_a()).await.ok());
        for slice in 0..N_MACS / 500 {
            let changes: Vec<_> = (slice * 500..(slice + 1) * 500)
                .map(|k| netlink_glue::Change::RemoteMac {
                    vni: vni(100),
                    mac: nth_mac(k),
                    to: Some(remote("10.0.0.2", false)),
                })
                .collect();
            dp.apply(u64::from(slice) + 2, &changes).await;
            // Slow enough that the parent kills it mid-way.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}
