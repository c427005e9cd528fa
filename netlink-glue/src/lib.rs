//! # netlink-glue — the Linux EVPN dataplane
//!
//! Owns: every kernel object evpnd creates, adopts, reads or deletes (bridges,
//! VXLAN devices, FDB entries, neighbours, routes, rules, sysctls), through the
//! `Dataplane` trait with a netlink implementation and an in-memory fake.
//!
//! Does not own: protocol decisions (evpnd's core) or the wire format (evpn-proto).
//!
//! ## Shape
//! The core publishes an [`Intent`] (desired state with a generation). This
//! crate projects it onto kernel entries ([`entry::project`]), computes a pure
//! [`Plan`] against a [`Snapshot`] of what the kernel holds and who owns it
//! ([`plan::diff`]), applies the plan in batches and returns a [`Report`] with
//! the result per object. Single changes take the fast path
//! ([`Dataplane::apply`]) with no dump. Kernel events come back as typed
//! [`Observation`]s.
//!
//! ## What the kernel ends up holding (as FRR's zebra writes it)
//! Per L2 VNI a bridge and a VXLAN device (`nolearning`, port `learning off`,
//! `neigh_suppress on`). A remote MAC is two FDB entries: `MAC dev vxlanN
//! extern_learn master brN` and `MAC dev vxlanN dst VTEP self extern_learn`
//! (state REACHABLE: the VXLAN driver rejects NUD_NOARP alone with EINVAL).
//! Sticky MACs are `sticky static` on both and carry no `extern_learn`, so
//! they are recorded in an ownership file. The flood list is one all-zero
//! MAC per remote VTEP, added with `NLM_F_APPEND`. Remote MAC+IP is a
//! neighbour `extern_learn NOARP proto <ours>` on the bridge. An IP-VRF is a
//! routing table (with a `vrf` device where the driver exists, else `ip rule
//! iif`), routes `via VTEP dev brL3 onlink`, and per remote VTEP a router-MAC
//! neighbour and FDB pair on the L3 VNI devices.
//!
//! ## Ownership
//! FDB entries we write carry `NTF_EXT_LEARNED`; neighbours, routes and rules
//! carry our protocol id ([`ProtocolId`]). Reconciliation only replaces or
//! deletes entries it owns, never flushes, and treats a failed dump as
//! "unknown", never as "empty".

//!
//! ## Modules
//! - [`model`]: the intent ([`Intent`], [`Change`], device specs);
//!   [`entry`]: its projection onto kernel entries; [`plan`]: the pure diff;
//!   [`report`]: results per object; [`observe`]: kernel events;
//!   [`state`]: the ownership record.
//! - [`Fake`]: the in-memory dataplane for the core's tests.
//! - [`nl`]: the kernel: [`Netlink`] (reconcile/apply), its own rtnetlink
//!   socket with batched writes ([`nl::socket`]), devices ([`nl::link`]),
//!   dumps ([`nl::snapshot`]), the monitor ([`nl::monitor`]), GARP/NA
//!   ([`nl::announce`]), sysctls ([`nl::sysctl`]).
//! - `netns` (feature `test-support`): namespaces for kernel tests.
//!
//! Everything kernel-facing runs in the network namespace of the thread
//! that created the [`Netlink`]; it needs a tokio runtime (current-thread is
//! enough) and `CAP_NET_ADMIN`.

pub mod dataplane;
pub mod entry;
pub mod fake;
pub mod model;
#[cfg(feature = "test-support")]
pub mod netns;
pub mod nl;
pub mod observe;
pub mod plan;
pub mod report;
pub mod state;

pub use dataplane::{Dataplane, Error};
pub use entry::{Key, RouteVia, Value};
pub use fake::Fake;
pub use model::{
    AnycastGateway, BackendChoice, Change, Intent, L2Vni, L3Backend, L3Vni, ProtocolId, RemoteMac,
    Svd, SviMode,
};
pub use nl::{Config, Netlink};
pub use observe::{Dev, LocalMac, LocalNeigh, MovedFrom, Nud, Observation, Observations};
pub use plan::{Op, Owner, Plan, Snapshot};
pub use report::{DeviceAction, FailReason, Failure, KernelError, Report};
