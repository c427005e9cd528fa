//! The dataplane task: owns a [`netlink_glue::Dataplane`] (the kernel, or
//! the fake in tests), carries out the core's [`DataplaneRequest`]s strictly
//! in order, and turns kernel observations and write reports into
//! [`Input::Dataplane`] events for the core task.
//!
//! ```text
//! core task ── DataplaneRequest (unbounded, in order) ──> dataplane task ── netlink ──> kernel
//!     ^                                                        │
//!     └──── Event::Input(Input::Dataplane(Applied(report))) ───┘
//!     └──── Event::Input(Input::Dataplane(Observed(obs))) ──── observation forwarder
//! ```
//!
//! The request queue is unbounded on purpose: the core coalesces changes per
//! output round, and dropping a request would leave the kernel wrong with
//! nobody knowing. The events back to the core go through the shell's
//! bounded channel, which pushes back on the kernel monitor (its socket
//! buffer overflows into an `Overrun` and a resync, never a silent loss).

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use netlink_glue::Dataplane;

use super::Event;
use crate::core::io::{DataplaneEvent, DataplaneRequest, Input};

/// The core task's end of the dataplane task.
#[derive(Debug)]
pub struct Handle {
    tx: mpsc::UnboundedSender<DataplaneRequest>,
    task: JoinHandle<()>,
    observer: Option<JoinHandle<()>>,
}

impl Handle {
    /// Queue a request; false when the dataplane task has ended.
    pub fn send(&self, req: DataplaneRequest) -> bool {
        self.tx.send(req).is_ok()
    }

    /// Finish the queued requests (bounded by the caller) and stop.
    pub async fn stop(self) {
        if let Some(o) = self.observer {
            o.abort();
        }
        drop(self.tx);
        let _ = self.task.await;
    }
}

/// Start the dataplane task and the observation forwarder.
pub async fn spawn<D: Dataplane + 'static>(mut dp: D, events: mpsc::Sender<Event>) -> Handle {
    let observer = match dp.observe().await {
        Ok(mut obs) => {
            let events = events.clone();
            Some(tokio::spawn(async move {
                while let Some(o) = obs.recv().await {
                    let ev = Event::Input(Input::Dataplane(DataplaneEvent::Observed(o)));
                    if events.send(ev).await.is_err() {
                        return;
                    }
                }
                warn!("kernel monitor ended");
            }))
        }
        Err(e) => {
            warn!(error = %e, "no kernel monitor: local learning is off");
            None
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(dp, rx, events));
    Handle { tx, task, observer }
}

async fn run<D: Dataplane>(
    mut dp: D,
    mut rx: mpsc::UnboundedReceiver<DataplaneRequest>,
    events: mpsc::Sender<Event>,
) {
    while let Some(req) = rx.recv().await {
        let report = match req {
            DataplaneRequest::Reconcile(intent) => {
                let r = dp.reconcile(&intent).await;
                info!(
                    generation = r.generation,
                    applied = r.applied,
                    failed = r.failed.len(),
                    unknown = ?r.unknown,
                    "dataplane reconcile"
                );
                for w in &r.warnings {
                    warn!("dataplane: {w}");
                }
                Some(r)
            }
            DataplaneRequest::Apply {
                generation,
                changes,
            } => {
                let r = dp.apply(generation, &changes).await;
                debug!(
                    generation,
                    changes = changes.len(),
                    applied = r.applied,
                    failed = r.failed.len(),
                    "dataplane apply"
                );
                Some(r)
            }
            DataplaneRequest::PurgeLocal { vni, mac, ips, .. } => {
                match dp.purge_local(vni, mac, &ips).await {
                    Ok(gone) if gone.is_empty() => {}
                    Ok(gone) => info!(%vni, %mac, ?gone, "purged local entries of a moved host"),
                    Err(e) => warn!(%vni, %mac, error = %e, "purge of local entries failed"),
                }
                None
            }
            DataplaneRequest::Probe { vni, ip, .. } => {
                if let Err(e) = dp.probe(vni, ip).await {
                    warn!(%vni, %ip, error = %e, "probe failed");
                }
                None
            }
            DataplaneRequest::Announce { vni, ip, mac, .. } => {
                if let Err(e) = dp.announce(vni, ip, mac).await {
                    warn!(%vni, %ip, error = %e, "announce failed");
                }
                None
            }
        };
        if let Some(r) = report {
            for f in &r.failed {
                warn!(object = %f.object, reason = %f.reason, "dataplane write failed");
            }
            let ev = Event::Input(Input::Dataplane(DataplaneEvent::Applied(r)));
            if events.send(ev).await.is_err() {
                return;
            }
        }
    }
}
