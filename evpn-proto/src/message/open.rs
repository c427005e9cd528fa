//! OPEN (RFC 4271 §4.2, §6.2), with RFC 9072 extended optional parameters
//! and RFC 5492 capabilities.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+
//! |    Version    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     My Autonomous System      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Hold Time           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         BGP Identifier                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Opt Parm Len  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Optional Parameters (variable)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! RFC 9072 §2, when the octet after a non-zero Opt Parm Len is 255:
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Non-Ext OP Len |Non-Ext OP Type|  Extended Opt. Parm. Length   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! and then each parameter has a 2-octet length:
//! |  Parm. Type   |        Parm. Length           | Value ...
//! ```
//!
//! Decoding ([`Open::decode`]) checks syntax only: every length against its
//! enclosing length, capability TLVs, and the version (a non-4 OPEN cannot be
//! parsed as one). Policy — peer AS, BGP identifier, hold time, unsupported
//! parameters — is [`Open::validate`], which the session layer calls with what
//! it expects of the peer.

use std::net::Ipv4Addr;

use crate::capability::Capability;
use crate::error::{code, Error};
use crate::message::header::{begin_message, finish_message, MessageType};
use crate::reader::{Reader, Short, WriteExt};
use crate::types::{Afi, Family, Safi};

/// The only BGP version (RFC 4271).
pub const BGP_VERSION: u8 = 4;
/// RFC 6793 §9: the 2-octet placeholder for a 4-octet AS number.
pub const AS_TRANS: u16 = 23456;
/// Optional parameter type 2 (RFC 5492 §4).
pub const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072 §2: Non-Ext OP Type that announces extended lengths.
const PARAM_EXTENDED_LENGTH: u8 = 255;

/// An optional parameter other than capabilities (type 1, authentication,
/// is deprecated; everything else is unassigned). Kept so that
/// [`Open::validate`] can answer [2,4] Unsupported Optional Parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptParam {
    pub param_type: u8,
    pub value: Vec<u8>,
}

/// A decoded OPEN message. The version is always 4 (see [`Open::decode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// My Autonomous System: the 2-octet AS, or [`AS_TRANS`] when the
    /// speaker's AS needs 4 octets (RFC 6793 §4.1).
    pub my_as: u16,
    /// Seconds; 0 or >= 3 (checked by [`Open::validate`]).
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    /// Every capability of every type-2 parameter, in order.
    pub capabilities: Vec<Capability>,
    /// Parameters we do not support (answered with [2,4] by validation).
    pub other_params: Vec<OptParam>,
}

impl Open {
    /// An OPEN for our side: `asn` may be 4 octets; My AS becomes AS_TRANS
    /// when it does not fit, and the 4-octet AS capability is always added.
    pub fn new(
        asn: u32,
        hold_time: u16,
        bgp_id: Ipv4Addr,
        mut capabilities: Vec<Capability>,
    ) -> Open {
        if !capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
        {
            capabilities.push(Capability::FourOctetAs(asn));
        }
        Open {
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            capabilities,
            other_params: Vec::new(),
        }
    }

    /// Decode the body of an OPEN (everything after the 19-octet header).
    ///
    /// Errors (all session reset):
    /// - version != 4 → [2,1], data = 2-octet largest supported version;
    /// - body shorter than the fixed part → [1,2];
    /// - optional parameters overrunning the message, trailing octets, a
    ///   capability TLV overrunning its parameter, a malformed recognised
    ///   capability → [2,0].
    pub fn decode(body: &[u8]) -> Result<Open, Error> {
        let mut r = Reader::new(body);
        let version = r.u8("version").map_err(too_short)?;
        if version != BGP_VERSION {
            return Err(Error::session_reset(
                code::OPEN,
                code::open::UNSUPPORTED_VERSION,
                format!("BGP version {version}, only 4 is supported"),
            )
            .with_data(vec![0, BGP_VERSION]));
        }
        let my_as = r.u16("my AS").map_err(too_short)?;
        let hold_time = r.u16("hold time").map_err(too_short)?;
        let bgp_id = r.ipv4("BGP identifier").map_err(too_short)?;
        let opt_len = r.u8("optional parameters length").map_err(too_short)?;

        let mut open = Open {
            my_as,
            hold_time,
            bgp_id,
            capabilities: Vec::new(),
            other_params: Vec::new(),
        };
        // RFC 9072 §2: a non-zero length followed by type 255 switches to
        // 2-octet lengths. The type octet is only looked at when it is
        // inside the declared length (CVE-2022-40302/40318: never read an
        // "extended" header past the message).
        let extended = opt_len != 0 && r.peek_u8() == Some(PARAM_EXTENDED_LENGTH);
        let mut params = if extended {
            let _non_ext_type = r.u8("non-ext OP type").map_err(malformed)?;
            let ext_len = r
                .u16("extended optional parameters length")
                .map_err(malformed)?;
            r.sub(usize::from(ext_len), "optional parameters")
                .map_err(malformed)?
        } else {
            r.sub(usize::from(opt_len), "optional parameters")
                .map_err(malformed)?
        };
        r.finish("OPEN").map_err(malformed)?;

        while !params.is_empty() {
            let param_type = params.u8("parameter type").map_err(malformed)?;
            let len = if extended {
                usize::from(params.u16("parameter length").map_err(malformed)?)
            } else {
                usize::from(params.u8("parameter length").map_err(malformed)?)
            };
            let value = params.take(len, "parameter value").map_err(malformed)?;
            if param_type == PARAM_CAPABILITIES {
                open.capabilities.extend(Capability::read_all(value)?);
            } else {
                open.other_params.push(OptParam {
                    param_type,
                    value: value.to_vec(),
                });
            }
        }
        Ok(open)
    }

    /// Check the OPEN against what we expect of this peer (RFC 4271 §6.2,
    /// RFC 6793, RFC 6286):
    /// - an optional parameter other than capabilities → [2,4];
    /// - peer AS (the 4-octet AS capability wins over My AS) differs from
    ///   `expected_peer_as`, or is 0 (RFC 7607) → [2,2];
    /// - BGP identifier 0, or equal to `local_bgp_id` on an iBGP session
    ///   (RFC 6286 §2.2) → [2,3];
    /// - hold time 1 or 2 → [2,6].
    ///
    /// `expected_peer_as` is `None` for a peer accepted from any AS (dynamic
    /// neighbors); the session layer then decides iBGP/eBGP from the result
    /// of [`Open::peer_as`].
    pub fn validate(
        &self,
        expected_peer_as: Option<u32>,
        local_bgp_id: Ipv4Addr,
        ibgp: bool,
    ) -> Result<(), Error> {
        if let Some(p) = self.other_params.first() {
            return Err(Error::session_reset(
                code::OPEN,
                code::open::UNSUPPORTED_OPTIONAL_PARAMETER,
                format!("unsupported optional parameter type {}", p.param_type),
            ));
        }
        let peer_as = self.peer_as();
        if peer_as == 0 {
            return Err(Error::session_reset(
                code::OPEN,
                code::open::BAD_PEER_AS,
                "peer AS 0 (RFC 7607)",
            ));
        }
        if let Some(want) = expected_peer_as {
            if peer_as != want {
                return Err(Error::session_reset(
                    code::OPEN,
                    code::open::BAD_PEER_AS,
                    format!("peer AS {peer_as}, expected {want}"),
                ));
            }
        }
        if self.bgp_id == Ipv4Addr::UNSPECIFIED {
            return Err(Error::session_reset(
                code::OPEN,
                code::open::BAD_BGP_ID,
                "BGP identifier 0.0.0.0",
            ));
        }
        if ibgp && self.bgp_id == local_bgp_id {
            return Err(Error::session_reset(
                code::OPEN,
                code::open::BAD_BGP_ID,
                format!("iBGP peer uses our BGP identifier {local_bgp_id}"),
            ));
        }
        if matches!(self.hold_time, 1 | 2) {
            return Err(Error::session_reset(
                code::OPEN,
                code::open::UNACCEPTABLE_HOLD_TIME,
                format!("hold time {} (must be 0 or >= 3)", self.hold_time),
            ));
        }
        Ok(())
    }

    /// The 4-octet AS capability's value, if the peer sent one (the first).
    pub fn four_octet_as(&self) -> Option<u32> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::FourOctetAs(a) => Some(*a),
            _ => None,
        })
    }

    /// Families for which this speaker's ADD-PATH capability (RFC 7911 §4)
    /// says it can send (`send = true`) or receive several paths. Tuples
    /// of other families and unknown Send/Receive values are ignored.
    pub fn add_path(&self, send: bool) -> crate::message::FamilySet {
        self.capabilities
            .iter()
            .filter_map(|c| match c {
                Capability::AddPath(t) => Some(t),
                _ => None,
            })
            .flatten()
            .filter(|(_, _, m)| if send { m.can_send() } else { m.can_receive() })
            .filter_map(|(a, s, _)| Family::from_afi_safi(*a, *s))
            .collect()
    }

    /// The speaker's AS: the 4-octet capability wins over My AS (RFC 6793 §4.1).
    pub fn peer_as(&self) -> u32 {
        self.four_octet_as().unwrap_or(u32::from(self.my_as))
    }

    /// AFI/SAFI pairs from multiprotocol capabilities.
    pub fn multiprotocol(&self) -> impl Iterator<Item = (Afi, Safi)> + '_ {
        self.capabilities.iter().filter_map(|c| match c {
            Capability::MultiProtocol(a, s) => Some((*a, *s)),
            _ => None,
        })
    }

    /// The families this speaker announced. With no multiprotocol capability
    /// at all, IPv4 unicast is implied (RFC 4760 §8).
    pub fn families(&self) -> Vec<Family> {
        let mut v: Vec<Family> = self
            .multiprotocol()
            .filter_map(|(a, s)| Family::from_afi_safi(a, s))
            .collect();
        if self.multiprotocol().next().is_none() {
            v.push(Family::Ipv4Unicast);
        }
        v.sort();
        v.dedup();
        v
    }

    pub fn has_capability(&self, code: u8) -> bool {
        self.capabilities.iter().any(|c| c.code() == code)
    }

    /// Encode the whole message, header included. Uses RFC 9072 extended
    /// lengths only when the parameters do not fit 255 octets.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let at = begin_message(out, MessageType::Open);
        out.put_u8(BGP_VERSION);
        out.put_u16(self.my_as);
        out.put_u16(self.hold_time);
        out.extend_from_slice(&self.bgp_id.octets());

        let caps_len: usize = self.capabilities.iter().map(Capability::encoded_len).sum();
        let caps_param = usize::from(!self.capabilities.is_empty()) * (2 + caps_len);
        let others: usize = self.other_params.iter().map(|p| 2 + p.value.len()).sum();
        // A parameter of type 255 can only be sent in the extended form: in
        // the short form a receiver would take it for the RFC 9072 marker.
        let fits = caps_len <= 255
            && caps_param + others <= 255
            && self
                .other_params
                .iter()
                .all(|p| p.value.len() <= 255 && p.param_type != PARAM_EXTENDED_LENGTH);
        if fits {
            let len_at = out.len_placeholder(1);
            if !self.capabilities.is_empty() {
                out.put_u8(PARAM_CAPABILITIES);
                let cap_at = out.len_placeholder(1);
                self.capabilities.iter().for_each(|c| c.write(out));
                out.patch_len(cap_at, 1);
            }
            for p in &self.other_params {
                out.put_u8(p.param_type);
                out.put_u8(p.value.len() as u8);
                out.extend_from_slice(&p.value);
            }
            out.patch_len(len_at, 1);
        } else {
            out.put_u8(255);
            out.put_u8(PARAM_EXTENDED_LENGTH);
            let len_at = out.len_placeholder(2);
            if !self.capabilities.is_empty() {
                out.put_u8(PARAM_CAPABILITIES);
                let cap_at = out.len_placeholder(2);
                self.capabilities.iter().for_each(|c| c.write(out));
                out.patch_len(cap_at, 2);
            }
            for p in &self.other_params {
                out.put_u8(p.param_type);
                let p_at = out.len_placeholder(2);
                out.extend_from_slice(&p.value);
                out.patch_len(p_at, 2);
            }
            out.patch_len(len_at, 2);
        }
        finish_message(out, at);
    }
}

fn too_short(s: Short) -> Error {
    Error::session_reset(
        code::MESSAGE_HEADER,
        code::header::BAD_MESSAGE_LENGTH,
        format!("OPEN: {s}"),
    )
}

fn malformed(s: Short) -> Error {
    Error::session_reset(code::OPEN, code::open::UNSPECIFIC, format!("OPEN: {s}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::AddPathMode;

    fn body(msg: &[u8]) -> &[u8] {
        &msg[19..]
    }

    fn sample() -> Open {
        Open::new(
            65001,
            90,
            Ipv4Addr::new(10, 0, 0, 1),
            vec![
                Capability::multiprotocol(Family::Evpn),
                Capability::RouteRefresh,
                Capability::AddPath(vec![(Afi::L2vpn, Safi::Evpn, AddPathMode::Receive)]),
            ],
        )
    }

    #[test]
    fn open_round_trips_and_header_is_right() {
        let o = sample();
        let m = o.encode();
        assert_eq!(usize::from(u16::from_be_bytes([m[16], m[17]])), m.len());
        assert_eq!(m[18], 1);
        assert_eq!(Open::decode(body(&m)).unwrap(), o);
    }

    #[test]
    fn large_parameter_set_uses_rfc9072_and_round_trips() {
        let mut o = sample();
        for code in 100..140u8 {
            o.capabilities.push(Capability::Unknown {
                code,
                value: vec![code; 8],
            });
        }
        let m = o.encode();
        assert_eq!(&m[28..30], &[255, 255]);
        assert_eq!(Open::decode(body(&m)).unwrap(), o);
    }

    #[test]
    fn four_octet_capability_wins_over_my_as() {
        let o = Open::new(4_200_000_001, 90, Ipv4Addr::new(1, 1, 1, 1), vec![]);
        assert_eq!(o.my_as, AS_TRANS);
        assert_eq!(o.peer_as(), 4_200_000_001);
        assert!(o
            .validate(Some(4_200_000_001), Ipv4Addr::new(2, 2, 2, 2), false)
            .is_ok());
    }

    #[test]
    fn families_default_to_ipv4_without_mp_capability() {
        let o = Open::new(1, 90, Ipv4Addr::new(1, 1, 1, 1), vec![]);
        assert_eq!(o.families(), vec![Family::Ipv4Unicast]);
        assert_eq!(sample().families(), vec![Family::Evpn]);
    }
}
