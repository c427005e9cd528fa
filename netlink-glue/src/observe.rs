//! Typed observations of the kernel: local learning, links, addresses, and
//! the resync signal after lost events.
//!
//! Entries evpnd wrote itself (FDB entries with `NTF_EXT_LEARNED`, anything
//! on a VXLAN port, neighbours with our protocol id) never produce a learn.

use std::fmt;
use std::net::IpAddr;

use evpn_proto::Mac;
use ipnetwork::IpNetwork;

/// A network device as seen in an event: ifindex plus the name at the time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dev {
    pub ifindex: u32,
    pub name: String,
}

impl fmt::Display for Dev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A neighbour (NUD) state: a bitmask, because the kernel combines states
/// (`REACHABLE|NOARP` = 0x42 on a sticky VXLAN entry, `PERMANENT|NOARP` =
/// 0xc0) and netlink-packet-route's enum does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Nud(pub u16);

impl Nud {
    pub const INCOMPLETE: Nud = Nud(0x01);
    pub const REACHABLE: Nud = Nud(0x02);
    pub const STALE: Nud = Nud(0x04);
    pub const DELAY: Nud = Nud(0x08);
    pub const PROBE: Nud = Nud(0x10);
    pub const FAILED: Nud = Nud(0x20);
    pub const NOARP: Nud = Nud(0x40);
    pub const PERMANENT: Nud = Nud(0x80);

    pub fn has(self, other: Nud) -> bool {
        self.0 & other.0 != 0
    }
    /// PERMANENT or NOARP: an entry someone configured, not one the kernel
    /// learned.
    pub fn is_static(self) -> bool {
        self.has(Nud::PERMANENT) || self.has(Nud::NOARP)
    }
}

impl fmt::Display for Nud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(u16, &str); 8] = [
            (0x01, "INCOMPLETE"),
            (0x02, "REACHABLE"),
            (0x04, "STALE"),
            (0x08, "DELAY"),
            (0x10, "PROBE"),
            (0x20, "FAILED"),
            (0x40, "NOARP"),
            (0x80, "PERMANENT"),
        ];
        let mut first = true;
        for (bit, name) in NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("NONE")?;
        }
        Ok(())
    }
}

/// A MAC the bridge holds on a local (host) port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalMac {
    pub bridge: Dev,
    pub port: Dev,
    pub mac: Mac,
    /// The bridge VLAN of the entry (single-VXLAN-device mode maps it to
    /// the VNI); `None` on a bridge without VLAN filtering.
    pub vlan: Option<u16>,
    /// Added by an operator (`static`/`sticky`), not learned: advertise as
    /// sticky (RFC 7432 §15.2).
    pub is_static: bool,
}

/// An IP↔MAC binding the kernel learned on an SVI (ARP/ND).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalNeigh {
    pub dev: Dev,
    pub ip: IpAddr,
    /// `None` while the entry is INCOMPLETE or FAILED.
    pub mac: Option<Mac>,
    pub state: Nud,
}

/// Where a MAC was before it moved to a local port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MovedFrom {
    /// Another local port.
    Port(Dev),
    /// Our remote entry on the VXLAN port: the bridge learned the MAC locally
    /// over it (a VM resumed here). The daemon advertises with seq+1 and
    /// removes the stale VXLAN `self` entry and remote neighbours.
    Remote(Dev),
}

/// One kernel event, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A new MAC on a host port.
    LocalMacLearned(LocalMac),
    /// A MAC already known here moved to `to.port`.
    LocalMacMoved { from: MovedFrom, to: LocalMac },
    /// A local MAC aged out or its port went away.
    LocalMacAged(LocalMac),
    /// An ARP/ND entry on an SVI was created or changed.
    LocalNeigh(LocalNeigh),
    /// An ARP/ND entry on an SVI was deleted.
    LocalNeighGone { dev: Dev, ip: IpAddr },
    /// A link appeared, changed (up/down, master, MAC, MTU) or was deleted.
    LinkChanged {
        dev: Dev,
        kind: Option<String>,
        up: bool,
        master: Option<u32>,
        mac: Option<Mac>,
        mtu: Option<u32>,
        deleted: bool,
    },
    /// An address was added to or removed from a device.
    AddrChanged {
        dev: Dev,
        addr: IpNetwork,
        added: bool,
    },
    /// The kernel dropped events (ENOBUFS on the monitoring socket). A
    /// [`Observation::LocalState`] follows once the re-dump is done; the
    /// daemon should also run a full reconcile.
    Overrun,
    /// The complete local state after a (re-)dump: replaces everything the
    /// consumer derived from earlier events.
    LocalState {
        macs: Vec<LocalMac>,
        neighs: Vec<LocalNeigh>,
    },
}

/// The receiving end of the observation stream.
#[derive(Debug)]
pub struct Observations {
    rx: tokio::sync::mpsc::Receiver<Observation>,
}

impl Observations {
    pub(crate) fn new(rx: tokio::sync::mpsc::Receiver<Observation>) -> Observations {
        Observations { rx }
    }

    /// The next observation; `None` when the monitor stopped.
    pub async fn recv(&mut self) -> Option<Observation> {
        self.rx.recv().await
    }

    /// Non-blocking; `None` when nothing is queued.
    pub fn try_recv(&mut self) -> Option<Observation> {
        self.rx.try_recv().ok()
    }
}

impl futures::Stream for Observations {
    type Item = Observation;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Observation>> {
        self.rx.poll_recv(cx)
    }
}
