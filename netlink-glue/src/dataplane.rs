//! The `Dataplane` trait: what evpnd's shell calls, implemented by
//! [`crate::Netlink`] (the kernel) and [`crate::Fake`] (memory).

use std::future::Future;

use crate::model::{Change, Intent};
use crate::observe::Observations;
use crate::plan::Plan;
use crate::report::Report;

/// Errors that are not per-object (those go into a [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    /// A dump did not complete: the kernel state is unknown, not empty.
    #[error("dump of {what} failed: {reason}")]
    Dump { what: String, reason: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("ownership file {path}: {reason}")]
    StateFile { path: String, reason: String },
    #[error("observations were already taken")]
    AlreadySubscribed,
}

/// The Linux EVPN dataplane, level-triggered.
///
/// - [`Dataplane::reconcile`] makes the kernel match the whole intent: create
///   or adopt devices, dump, diff against what we own, apply in batches.
/// - [`Dataplane::apply`] is the fast path for single changes (one MAC moved):
///   it diffs only the touched keys against what was last applied, with no
///   dump, so a change reaches the kernel within a round trip.
/// - [`Dataplane::observe`] hands out the stream of local learns and link
///   events (once).
///
/// Every write reports per object; nothing is assumed to have succeeded.
pub trait Dataplane: Send {
    fn reconcile(&mut self, intent: &Intent) -> impl Future<Output = Report> + Send;

    fn apply(&mut self, generation: u64, changes: &[Change])
        -> impl Future<Output = Report> + Send;

    /// The plan a reconcile would execute now, without writing (dry run).
    fn plan(&mut self, intent: &Intent) -> impl Future<Output = Result<Plan, Error>> + Send;

    fn observe(&mut self) -> impl Future<Output = Result<Observations, Error>> + Send;
}
