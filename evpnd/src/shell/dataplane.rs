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
//! nobody knowing. `Apply` requests that are queued back to back (a peer
//! sending a full table produces one per UPDATE) are merged into one apply
//! of up to [`MERGE_MAX`] changes: the intent is level-triggered, so only
//! the final state of each item matters, and the kernel gets full batches.
//! A merged apply of [`BULK_MIN`] changes or more starts a bulk period
//! ([`netlink_glue::Dataplane::bulk`]: the monitor stops reading back the
//! notification of every entry we write); it ends when the queue has been
//! empty for [`BULK_IDLE`] or before any other request (a probe's answer
//! must be observed). The events back to the core go through the shell's
//! bounded channel, which pushes back on the kernel monitor (its socket
//! buffer overflows into an `Overrun` and a resync, never a silent loss).

use std::time::Duration;

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

/// Most changes merged into one apply.
pub const MERGE_MAX: usize = 8192;
/// A merged apply this large starts a bulk period.
pub const BULK_MIN: usize = 4096;
/// A bulk period ends after this long without a request.
pub const BULK_IDLE: Duration = Duration::from_millis(50);

/// The next request to execute: `Apply`s queued back to back merged into
/// one (up to [`MERGE_MAX`] changes); a request that cannot be merged is
/// kept in `next`.
fn merge(
    first: DataplaneRequest,
    rx: &mut mpsc::UnboundedReceiver<DataplaneRequest>,
    next: &mut Option<DataplaneRequest>,
) -> DataplaneRequest {
    let DataplaneRequest::Apply {
        mut generation,
        mut changes,
    } = first
    else {
        return first;
    };
    while changes.len() < MERGE_MAX {
        match rx.try_recv() {
            Ok(DataplaneRequest::Apply {
                generation: g,
                changes: c,
            }) => {
                generation = g;
                changes.extend(c);
            }
            Ok(other) => {
                *next = Some(other);
                break;
            }
            Err(_) => break,
        }
    }
    DataplaneRequest::Apply {
        generation,
        changes,
    }
}

async fn run<D: Dataplane>(
    mut dp: D,
    mut rx: mpsc::UnboundedReceiver<DataplaneRequest>,
    events: mpsc::Sender<Event>,
) {
    let mut next: Option<DataplaneRequest> = None;
    let mut bulk = false;
    loop {
        let req = match next.take() {
            Some(r) => r,
            None if bulk => match tokio::time::timeout(BULK_IDLE, rx.recv()).await {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(_) => {
                    dp.bulk(false);
                    bulk = false;
                    continue;
                }
            },
            None => match rx.recv().await {
                Some(r) => r,
                None => break,
            },
        };
        let req = merge(req, &mut rx, &mut next);
        let big =
            matches!(&req, DataplaneRequest::Apply { changes, .. } if changes.len() >= BULK_MIN);
        let apply = matches!(req, DataplaneRequest::Apply { .. });
        if big && !bulk {
            debug!("dataplane: bulk period starts");
            dp.bulk(true);
            bulk = true;
        } else if bulk && !apply {
            dp.bulk(false);
            bulk = false;
        }
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
            DataplaneRequest::Probe { vni, ip, mac, .. } => {
                if let Err(e) = dp.probe(vni, ip, Some(mac)).await {
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
                break;
            }
        }
    }
    if bulk {
        dp.bulk(false);
    }
}
