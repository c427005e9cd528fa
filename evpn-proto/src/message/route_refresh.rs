//! ROUTE-REFRESH (RFC 2918 §3) with the Enhanced Route Refresh subtypes
//! (RFC 7313 §3).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              AFI              | Message Subtype |     SAFI    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Subtype 0 is a normal refresh request, 1 Beginning of Route Refresh
//! (BoRR), 2 End of Route Refresh (EoRR). A message of any length other than
//! 23 is ROUTE-REFRESH Message Error / Invalid Message Length [7,1] with the
//! whole message as data (RFC 7313 §5; we do not support ORF, RFC 5291). A
//! subtype other than 0–2 must be ignored by the receiver (RFC 7313 §5),
//! so it decodes as [`RefreshSubtype::Unknown`].

use crate::error::{code, Error};
use crate::message::header::{begin_message, finish_message, MessageType, ROUTE_REFRESH_LEN};
use crate::reader::WriteExt;
use crate::types::{Afi, Family, Safi};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshSubtype {
    /// RFC 2918 route refresh request.
    Request,
    /// RFC 7313 Beginning of Route Refresh.
    BoRR,
    /// RFC 7313 End of Route Refresh.
    EoRR,
    /// Reserved or unassigned; the message is to be ignored.
    Unknown(u8),
}

impl RefreshSubtype {
    pub fn from_u8(v: u8) -> RefreshSubtype {
        match v {
            0 => RefreshSubtype::Request,
            1 => RefreshSubtype::BoRR,
            2 => RefreshSubtype::EoRR,
            v => RefreshSubtype::Unknown(v),
        }
    }
    pub fn to_u8(self) -> u8 {
        match self {
            RefreshSubtype::Request => 0,
            RefreshSubtype::BoRR => 1,
            RefreshSubtype::EoRR => 2,
            RefreshSubtype::Unknown(v) => v,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    pub afi: Afi,
    pub safi: Safi,
    pub subtype: RefreshSubtype,
}

impl RouteRefresh {
    pub fn request(f: Family) -> RouteRefresh {
        RouteRefresh {
            afi: f.afi(),
            safi: f.safi(),
            subtype: RefreshSubtype::Request,
        }
    }

    /// Our family, when it is one.
    pub fn family(&self) -> Option<Family> {
        Family::from_afi_safi(self.afi, self.safi)
    }

    /// Decode a whole message (header included, as framed): the [7,1]
    /// NOTIFICATION carries the complete message as data.
    pub fn decode(msg: &[u8]) -> Result<RouteRefresh, Error> {
        match msg.get(19..) {
            Some(&[a0, a1, subtype, safi]) if msg.len() == ROUTE_REFRESH_LEN => Ok(RouteRefresh {
                afi: Afi::from(u16::from_be_bytes([a0, a1])),
                safi: Safi::from(safi),
                subtype: RefreshSubtype::from_u8(subtype),
            }),
            _ => Err(Error::session_reset(
                code::ROUTE_REFRESH,
                code::route_refresh::INVALID_MESSAGE_LENGTH,
                format!("ROUTE-REFRESH of length {} (must be 23)", msg.len()),
            )
            .with_data(msg.to_vec())),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ROUTE_REFRESH_LEN);
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let at = begin_message(out, MessageType::RouteRefresh);
        out.put_u16(self.afi.into());
        out.put_u8(self.subtype.to_u8());
        out.put_u8(self.safi.into());
        finish_message(out, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borr_round_trips() {
        let rr = RouteRefresh {
            afi: Afi::L2vpn,
            safi: Safi::Evpn,
            subtype: RefreshSubtype::BoRR,
        };
        let m = rr.encode();
        assert_eq!(m.len(), 23);
        assert_eq!(&m[19..], &[0, 25, 1, 70]);
        assert_eq!(RouteRefresh::decode(&m).unwrap(), rr);
        assert_eq!(rr.family(), Some(Family::Evpn));
    }

    #[test]
    fn wrong_length_is_7_1_with_the_message() {
        let mut m = RouteRefresh::request(Family::Ipv4Unicast).encode();
        m.push(0);
        m[17] = 24;
        let e = RouteRefresh::decode(&m).unwrap_err();
        assert_eq!((e.code, e.subcode), (7, 1));
        assert_eq!(e.data, m);
    }
}
