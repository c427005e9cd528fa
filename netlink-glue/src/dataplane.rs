//! The `Dataplane` trait: what evpnd's shell calls, implemented by
//! [`crate::Netlink`] (the kernel) and [`crate::Fake`] (memory).

use std::future::Future;

use std::net::IpAddr;

use evpn_proto::{Mac, Vni};

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
    /// A single request (e.g. a probe) the kernel refused.
    #[error("{object}: {reason}")]
    Probe { object: String, reason: String },
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

    /// Bulk period on/off. While on, the caller is about to write many
    /// entries back to back (a full table from a peer, a mass move): the
    /// kernel monitor stops reading back the notifications of each write
    /// (local learns are not observed meanwhile); turning it off rejoins
    /// and sends a fresh [`crate::Observation::LocalState`] covering what
    /// was missed. Writes and their reports are unchanged. No-op by default.
    fn bulk(&mut self, on: bool) {
        let _ = on;
    }

    /// Ask the kernel to resolve `ip` on the SVI of `vni` now (ARP request
    /// or Neighbour Solicitation from the gateway address). The answer comes
    /// back as an [`crate::Observation::LocalNeigh`]. Used when a VM that
    /// resumed here announced only its MAC. With the MAC the host is
    /// expected at (`mac`: the one its routes carried), the entry is set to
    /// it in state PROBE: packets already waiting for the address go out at
    /// once and the kernel confirms with a unicast probe; without, the
    /// kernel asks by broadcast. Fails if the VNI has no SVI in the intent
    /// or the kernel refuses; an entry we own at `ip` (a remote neighbour)
    /// must be withdrawn first, or the kernel keeps it.
    fn probe(
        &mut self,
        vni: Vni,
        ip: IpAddr,
        mac: Option<Mac>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Remove what the kernel itself learned about a host that moved to
    /// another leaf (RFC 7432 §15: a remote route with a higher sequence
    /// number won over ours): the bridge FDB entry of `mac` in `vni` when it
    /// sits on a host port, and the ARP/ND entries of `ips` on the VNI's SVI.
    /// Entries we wrote, static/permanent entries of an operator, and
    /// entries that are already gone are left alone. Returns what was
    /// deleted, rendered for the log.
    fn purge_local(
        &mut self,
        vni: Vni,
        mac: Mac,
        ips: &[IpAddr],
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;

    /// Send a gratuitous ARP (IPv4) or an unsolicited Neighbour
    /// Advertisement (IPv6) for `ip` at `mac` on the SVI of `vni`.
    fn announce(
        &mut self,
        vni: Vni,
        ip: IpAddr,
        mac: Mac,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}
