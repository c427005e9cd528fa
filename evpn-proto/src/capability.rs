//! BGP capabilities (RFC 5492), carried in OPEN optional parameter type 2.
//!
//! ```text
//! +------------------------------+
//! | Capability Code (1 octet)    |
//! +------------------------------+
//! | Capability Length (1 octet)  |
//! +------------------------------+
//! | Capability Value (variable)  |
//! +------------------------------+
//! ```
//!
//! Every capability is read through a sub-reader of exactly its declared
//! length, so a length that overruns the optional parameter is an error
//! (CVE-2022-36440 / CVE-2023-31489 family) and a zero-length capability
//! still advances by its two header octets (CVE-2024-31949: no zero-progress
//! loop is possible). A recognised capability whose value is malformed is
//! OPEN Message Error [2,0]; an unrecognised one is kept as
//! [`Capability::Unknown`] and otherwise ignored (RFC 5492 §3).

use crate::error::{code, Error};
use crate::reader::{Reader, WriteExt};
use crate::types::{Afi, Family, Safi};

/// Capability codes (IANA "Capability Codes").
pub mod cap_code {
    /// RFC 4760 §8.
    pub const MULTIPROTOCOL: u8 = 1;
    /// RFC 2918.
    pub const ROUTE_REFRESH: u8 = 2;
    /// RFC 8950 §3.
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    /// RFC 4724 §3.
    pub const GRACEFUL_RESTART: u8 = 64;
    /// RFC 6793 §3.
    pub const FOUR_OCTET_AS: u8 = 65;
    /// RFC 7911 §4.
    pub const ADD_PATH: u8 = 69;
    /// RFC 7313 §3.
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
}

/// ADD-PATH Send/Receive field (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddPathMode {
    Receive,
    Send,
    Both,
    /// RFC 7911: any other value means the tuple is not understood and is
    /// ignored; it is kept so the capability re-encodes unchanged.
    Unknown(u8),
}

impl AddPathMode {
    pub fn from_u8(v: u8) -> AddPathMode {
        match v {
            1 => AddPathMode::Receive,
            2 => AddPathMode::Send,
            3 => AddPathMode::Both,
            v => AddPathMode::Unknown(v),
        }
    }
    pub fn to_u8(self) -> u8 {
        match self {
            AddPathMode::Receive => 1,
            AddPathMode::Send => 2,
            AddPathMode::Both => 3,
            AddPathMode::Unknown(v) => v,
        }
    }
    pub fn can_receive(self) -> bool {
        matches!(self, AddPathMode::Receive | AddPathMode::Both)
    }
    pub fn can_send(self) -> bool {
        matches!(self, AddPathMode::Send | AddPathMode::Both)
    }
}

/// One capability TLV.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// RFC 4760 §8: AFI (2), reserved (1), SAFI (1).
    MultiProtocol(Afi, Safi),
    /// RFC 2918: empty value.
    RouteRefresh,
    /// RFC 7313 §3: empty value.
    EnhancedRouteRefresh,
    /// RFC 6793 §3: the speaker's 4-octet AS number.
    FourOctetAs(u32),
    /// RFC 4724 §3.
    ///
    /// ```text
    /// +--------------------------------------------------+
    /// | Restart Flags (4 bits) | Restart Time (12 bits)   |
    /// +--------------------------------------------------+
    /// | AFI (16 bits) | SAFI (8 bits) | AF Flags (8 bits) |  repeated
    /// +--------------------------------------------------+
    /// ```
    /// Restart flags: R (0x8) restart state, N (0x4) graceful notification
    /// (RFC 8538). AF flags: F (0x80) forwarding state preserved.
    GracefulRestart {
        restart_state: bool,
        notification: bool,
        /// Seconds, 12 bits (0..=4095).
        restart_time: u16,
        /// (AFI, SAFI, forwarding state preserved).
        families: Vec<(Afi, Safi, bool)>,
    },
    /// RFC 7911 §4: (AFI 2, SAFI 1, Send/Receive 1) repeated.
    AddPath(Vec<(Afi, Safi, AddPathMode)>),
    /// RFC 8950 §3: (NLRI AFI 2, NLRI SAFI 2, Nexthop AFI 2) repeated.
    ExtendedNextHop(Vec<(Afi, Safi, Afi)>),
    /// Any other code, kept verbatim (RFC 5492 §3: ignored).
    Unknown { code: u8, value: Vec<u8> },
}

impl Capability {
    /// The multiprotocol capability for one of our families.
    pub fn multiprotocol(f: Family) -> Capability {
        Capability::MultiProtocol(f.afi(), f.safi())
    }

    pub fn code(&self) -> u8 {
        match self {
            Capability::MultiProtocol(..) => cap_code::MULTIPROTOCOL,
            Capability::RouteRefresh => cap_code::ROUTE_REFRESH,
            Capability::EnhancedRouteRefresh => cap_code::ENHANCED_ROUTE_REFRESH,
            Capability::FourOctetAs(_) => cap_code::FOUR_OCTET_AS,
            Capability::GracefulRestart { .. } => cap_code::GRACEFUL_RESTART,
            Capability::AddPath(_) => cap_code::ADD_PATH,
            Capability::ExtendedNextHop(_) => cap_code::EXTENDED_NEXT_HOP,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Read every capability in the value of one optional parameter of type 2.
    pub fn read_all(param: &[u8]) -> Result<Vec<Capability>, Error> {
        let mut r = Reader::new(param);
        // Each TLV is at least 2 octets: the vector never outgrows the input.
        let mut caps = Vec::with_capacity(param.len() / 2);
        while !r.is_empty() {
            let code = r.u8("capability code").map_err(malformed_short)?;
            let len = r.u8("capability length").map_err(malformed_short)?;
            let mut v = r
                .sub(usize::from(len), "capability value")
                .map_err(malformed_short)?;
            caps.push(Capability::read_value(code, &mut v)?);
        }
        Ok(caps)
    }

    /// Decode one capability value (the reader covers exactly its length).
    fn read_value(code: u8, v: &mut Reader<'_>) -> Result<Capability, Error> {
        let what = cap_name(code);
        let short = |s| malformed(format!("{what} capability: {s}"));
        let cap = match code {
            cap_code::MULTIPROTOCOL => {
                if v.remaining() != 4 {
                    return Err(malformed(format!(
                        "{what} capability length {} != 4",
                        v.remaining()
                    )));
                }
                let afi = Afi::from(v.u16("AFI").map_err(short)?);
                let _reserved = v.u8("reserved").map_err(short)?;
                let safi = Safi::from(v.u8("SAFI").map_err(short)?);
                Capability::MultiProtocol(afi, safi)
            }
            cap_code::ROUTE_REFRESH | cap_code::ENHANCED_ROUTE_REFRESH => {
                if !v.is_empty() {
                    return Err(malformed(format!(
                        "{what} capability length {} != 0",
                        v.remaining()
                    )));
                }
                if code == cap_code::ROUTE_REFRESH {
                    Capability::RouteRefresh
                } else {
                    Capability::EnhancedRouteRefresh
                }
            }
            cap_code::FOUR_OCTET_AS => {
                if v.remaining() != 4 {
                    return Err(malformed(format!(
                        "{what} capability length {} != 4",
                        v.remaining()
                    )));
                }
                Capability::FourOctetAs(v.u32("AS number").map_err(short)?)
            }
            cap_code::GRACEFUL_RESTART => {
                if v.remaining() < 2 || (v.remaining() - 2) % 4 != 0 {
                    return Err(malformed(format!(
                        "{what} capability length {} is not 2 + 4n",
                        v.remaining()
                    )));
                }
                let word = v.u16("restart flags and time").map_err(short)?;
                let mut families = Vec::with_capacity(v.remaining() / 4);
                while !v.is_empty() {
                    let afi = Afi::from(v.u16("AFI").map_err(short)?);
                    let safi = Safi::from(v.u8("SAFI").map_err(short)?);
                    let flags = v.u8("AF flags").map_err(short)?;
                    families.push((afi, safi, flags & 0x80 != 0));
                }
                Capability::GracefulRestart {
                    restart_state: word & 0x8000 != 0,
                    notification: word & 0x4000 != 0,
                    restart_time: word & 0x0fff,
                    families,
                }
            }
            cap_code::ADD_PATH => {
                if v.is_empty() || v.remaining() % 4 != 0 {
                    return Err(malformed(format!(
                        "{what} capability length {} is not a non-zero multiple of 4",
                        v.remaining()
                    )));
                }
                let mut tuples = Vec::with_capacity(v.remaining() / 4);
                while !v.is_empty() {
                    let afi = Afi::from(v.u16("AFI").map_err(short)?);
                    let safi = Safi::from(v.u8("SAFI").map_err(short)?);
                    let mode = AddPathMode::from_u8(v.u8("send/receive").map_err(short)?);
                    tuples.push((afi, safi, mode));
                }
                Capability::AddPath(tuples)
            }
            cap_code::EXTENDED_NEXT_HOP => {
                if v.is_empty() || v.remaining() % 6 != 0 {
                    return Err(malformed(format!(
                        "{what} capability length {} is not a non-zero multiple of 6",
                        v.remaining()
                    )));
                }
                let mut tuples = Vec::with_capacity(v.remaining() / 6);
                while !v.is_empty() {
                    let afi = Afi::from(v.u16("NLRI AFI").map_err(short)?);
                    // RFC 8950 widens the SAFI to 16 bits; no SAFI above 255
                    // is assigned, so a non-zero high octet is malformed.
                    let safi = v.u16("NLRI SAFI").map_err(short)?;
                    let safi = u8::try_from(safi).map_err(|_| {
                        malformed(format!("{what} capability: SAFI {safi} out of range"))
                    })?;
                    let nh_afi = Afi::from(v.u16("next hop AFI").map_err(short)?);
                    tuples.push((afi, Safi::from(safi), nh_afi));
                }
                Capability::ExtendedNextHop(tuples)
            }
            code => Capability::Unknown {
                code,
                value: v.rest().to_vec(),
            },
        };
        Ok(cap)
    }

    /// Append code, length and value.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_u8(self.code());
        let at = out.len_placeholder(1);
        match self {
            Capability::MultiProtocol(afi, safi) => {
                out.put_u16((*afi).into());
                out.put_u8(0);
                out.put_u8((*safi).into());
            }
            Capability::RouteRefresh | Capability::EnhancedRouteRefresh => {}
            Capability::FourOctetAs(asn) => out.put_u32(*asn),
            Capability::GracefulRestart {
                restart_state,
                notification,
                restart_time,
                families,
            } => {
                let mut word = restart_time & 0x0fff;
                if *restart_state {
                    word |= 0x8000;
                }
                if *notification {
                    word |= 0x4000;
                }
                out.put_u16(word);
                for (afi, safi, fwd) in families.iter().take(MAX_TUPLES_4) {
                    out.put_u16((*afi).into());
                    out.put_u8((*safi).into());
                    out.put_u8(if *fwd { 0x80 } else { 0 });
                }
            }
            Capability::AddPath(tuples) => {
                for (afi, safi, mode) in tuples.iter().take(MAX_TUPLES_4) {
                    out.put_u16((*afi).into());
                    out.put_u8((*safi).into());
                    out.put_u8(mode.to_u8());
                }
            }
            Capability::ExtendedNextHop(tuples) => {
                for (afi, safi, nh) in tuples.iter().take(MAX_TUPLES_6) {
                    out.put_u16((*afi).into());
                    out.put_u16(u16::from(u8::from(*safi)));
                    out.put_u16((*nh).into());
                }
            }
            Capability::Unknown { value, .. } => {
                out.extend_from_slice(&value[..value.len().min(255)]);
            }
        }
        out.patch_len(at, 1);
    }

    /// Encoded size: code + length + value.
    pub fn encoded_len(&self) -> usize {
        2 + match self {
            Capability::MultiProtocol(..) | Capability::FourOctetAs(_) => 4,
            Capability::RouteRefresh | Capability::EnhancedRouteRefresh => 0,
            Capability::GracefulRestart { families, .. } => {
                2 + 4 * families.len().min(MAX_TUPLES_4)
            }
            Capability::AddPath(t) => 4 * t.len().min(MAX_TUPLES_4),
            Capability::ExtendedNextHop(t) => 6 * t.len().min(MAX_TUPLES_6),
            Capability::Unknown { value, .. } => value.len().min(255),
        }
    }
}

/// A capability value is at most 255 octets; longer lists are truncated on
/// encode (no real speaker has 63 address families).
const MAX_TUPLES_4: usize = 63;
const MAX_TUPLES_6: usize = 42;

fn cap_name(code: u8) -> &'static str {
    match code {
        cap_code::MULTIPROTOCOL => "multiprotocol",
        cap_code::ROUTE_REFRESH => "route refresh",
        cap_code::EXTENDED_NEXT_HOP => "extended next hop",
        cap_code::GRACEFUL_RESTART => "graceful restart",
        cap_code::FOUR_OCTET_AS => "4-octet AS",
        cap_code::ADD_PATH => "ADD-PATH",
        cap_code::ENHANCED_ROUTE_REFRESH => "enhanced route refresh",
        _ => "unknown",
    }
}

/// OPEN Message Error [2,0]: a recognised optional parameter is malformed.
fn malformed(reason: String) -> Error {
    Error::session_reset(code::OPEN, code::open::UNSPECIFIC, reason)
}

fn malformed_short(s: crate::reader::Short) -> Error {
    malformed(format!("capabilities: {s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(c: &Capability) -> Capability {
        let mut v = Vec::new();
        c.write(&mut v);
        assert_eq!(v.len(), c.encoded_len());
        let mut all = Capability::read_all(&v).unwrap();
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn every_capability_round_trips() {
        for c in [
            Capability::multiprotocol(Family::Evpn),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(4_200_000_000),
            Capability::GracefulRestart {
                restart_state: true,
                notification: true,
                restart_time: 120,
                families: vec![
                    (Afi::L2vpn, Safi::Evpn, true),
                    (Afi::Ipv4, Safi::Unicast, false),
                ],
            },
            Capability::AddPath(vec![(Afi::Ipv4, Safi::Unicast, AddPathMode::Both)]),
            Capability::ExtendedNextHop(vec![(Afi::Ipv4, Safi::Unicast, Afi::Ipv6)]),
            Capability::Unknown {
                code: 73,
                value: b"fqdn".to_vec(),
            },
        ] {
            assert_eq!(rt(&c), c);
        }
    }

    #[test]
    fn graceful_restart_wire_bits() {
        // R bit, time 90, EVPN with F bit.
        let v = [64, 6, 0x80, 90, 0, 25, 70, 0x80];
        assert_eq!(
            Capability::read_all(&v).unwrap(),
            vec![Capability::GracefulRestart {
                restart_state: true,
                notification: false,
                restart_time: 90,
                families: vec![(Afi::L2vpn, Safi::Evpn, true)],
            }]
        );
    }

    #[test]
    fn length_overrun_and_bad_lengths_are_open_error_unspecific() {
        for bad in [
            &[1u8, 4, 0, 1][..],           // MP capability overruns the parameter
            &[65, 2, 0, 1][..],            // 4-octet AS with length 2
            &[1, 3, 0, 1, 0][..],          // MP length 3
            &[2, 1, 0][..],                // route refresh with a value
            &[64, 3, 0, 0, 0][..],         // GR length not 2 + 4n
            &[69, 0][..],                  // ADD-PATH empty
            &[5, 6, 0, 1, 1, 0, 0, 2][..], // ENH SAFI 256
            &[1][..],                      // header cut short
        ] {
            let e = Capability::read_all(bad).unwrap_err();
            assert_eq!((e.code, e.subcode), (2, 0), "{bad:?}");
        }
    }

    #[test]
    fn zero_length_capabilities_always_advance() {
        let v = [99u8, 0, 99, 0, 2, 0];
        let caps = Capability::read_all(&v).unwrap();
        assert_eq!(caps.len(), 3);
        assert_eq!(caps[2], Capability::RouteRefresh);
    }
}
