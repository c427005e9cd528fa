//! NOTIFICATION (RFC 4271 §4.5), Cease subcodes (RFC 4486, RFC 8538) and the
//! shutdown communication (RFC 8203, updated by RFC 9003).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Error code    | Error subcode |   Data (variable)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! Cease / Administrative Shutdown (2) or Administrative Reset (4), data:
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Length       |  Shutdown Communication (UTF-8, 0..=255) ...  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! Cease / Hard Reset (9, RFC 8538 §3): the data is the NOTIFICATION that
//! caused it, less its header:
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Error code    | Error subcode |   Data (variable)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! A received NOTIFICATION is never answered with one (RFC 4271 §6.4), so
//! decoding accepts any code, subcode and data once the header length is
//! right; an ill-formed shutdown communication is simply not shown as text
//! (CVE-2019-16159: its length octet is never trusted beyond the data).

use std::fmt;

use crate::error::{code, Error};
use crate::message::header::{begin_message, finish_message, MessageType};
use crate::reader::WriteExt;

/// RFC 9003 §2: a shutdown communication is at most 255 octets of UTF-8.
pub const MAX_SHUTDOWN_COMMUNICATION: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(code: u8, subcode: u8, data: Vec<u8>) -> Notification {
        Notification {
            code,
            subcode,
            data,
        }
    }

    /// The NOTIFICATION that reports a decode error.
    pub fn from_error(e: &Error) -> Notification {
        Notification::new(e.code, e.subcode, e.data.clone())
    }

    /// Cease with a shutdown communication (RFC 8203 / RFC 9003); `subcode`
    /// is normally [`code::cease::ADMIN_SHUTDOWN`] or
    /// [`code::cease::ADMIN_RESET`]. The text is cut at a UTF-8 character
    /// boundary to fit 255 octets.
    pub fn cease_with_message(subcode: u8, text: &str) -> Notification {
        let mut end = text.len().min(MAX_SHUTDOWN_COMMUNICATION);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut data = Vec::with_capacity(end + 1);
        data.push(end as u8);
        data.extend_from_slice(&text.as_bytes()[..end]);
        Notification::new(code::CEASE, subcode, data)
    }

    /// RFC 8538 §3: Cease / Hard Reset carrying `cause` (code, subcode
    /// and data) as its data. The data is cut so the message stays within
    /// 4096 octets.
    pub fn hard_reset(cause: &Notification) -> Notification {
        let mut data = Vec::with_capacity(2 + cause.data.len());
        data.push(cause.code);
        data.push(cause.subcode);
        data.extend_from_slice(&cause.data[..cause.data.len().min(4096 - 21 - 2)]);
        Notification::new(code::CEASE, code::cease::HARD_RESET, data)
    }

    /// Cease / Hard Reset (RFC 8538 §3): the session ends for good, the
    /// receiver flushes the sender's routes even under graceful restart.
    pub fn is_hard_reset(&self) -> bool {
        self.code == code::CEASE && self.subcode == code::cease::HARD_RESET
    }

    /// The NOTIFICATION a Hard Reset carries, when its data holds one (at
    /// least code and subcode). A Hard Reset with shorter data is still a
    /// Hard Reset, only without a stated cause.
    pub fn hard_reset_cause(&self) -> Option<Notification> {
        if !self.is_hard_reset() {
            return None;
        }
        match self.data.as_slice() {
            [c, s, data @ ..] => Some(Notification::new(*c, *s, data.to_vec())),
            _ => None,
        }
    }

    /// Decode the body (after the header). The header check already
    /// guaranteed at least 2 octets; a shorter body (direct callers) is
    /// [1,2].
    pub fn decode(body: &[u8]) -> Result<Notification, Error> {
        match body {
            [code, subcode, data @ ..] => Ok(Notification::new(*code, *subcode, data.to_vec())),
            _ => Err(Error::session_reset(
                code::MESSAGE_HEADER,
                code::header::BAD_MESSAGE_LENGTH,
                format!("NOTIFICATION body of {} octets", body.len()),
            )),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(21 + self.data.len());
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let at = begin_message(out, MessageType::Notification);
        out.put_u8(self.code);
        out.put_u8(self.subcode);
        // A message is at most 4096 octets: header 19 + code/subcode 2.
        out.extend_from_slice(&self.data[..self.data.len().min(4096 - 21)]);
        finish_message(out, at);
    }

    /// The shutdown communication of a Cease/2 or Cease/4, when the data is
    /// a well-formed one: length octet equal to the rest, valid UTF-8.
    pub fn shutdown_communication(&self) -> Option<&str> {
        if self.code != code::CEASE
            || !matches!(
                self.subcode,
                code::cease::ADMIN_SHUTDOWN | code::cease::ADMIN_RESET
            )
        {
            return None;
        }
        let (&len, text) = self.data.split_first()?;
        if usize::from(len) != text.len() {
            return None;
        }
        std::str::from_utf8(text).ok()
    }

    /// RFC name of the error code.
    pub fn code_name(&self) -> &'static str {
        code_name(self.code)
    }

    /// RFC name of the subcode, where the code defines names.
    pub fn subcode_name(&self) -> Option<&'static str> {
        subcode_name(self.code, self.subcode)
    }
}

pub fn code_name(c: u8) -> &'static str {
    match c {
        code::MESSAGE_HEADER => "Message Header Error",
        code::OPEN => "OPEN Message Error",
        code::UPDATE => "UPDATE Message Error",
        code::HOLD_TIMER_EXPIRED => "Hold Timer Expired",
        code::FSM => "Finite State Machine Error",
        code::CEASE => "Cease",
        code::ROUTE_REFRESH => "ROUTE-REFRESH Message Error",
        code::SEND_HOLD_TIMER_EXPIRED => "Send Hold Timer Expired",
        _ => "Unknown Error",
    }
}

pub fn subcode_name(c: u8, s: u8) -> Option<&'static str> {
    use code::*;
    Some(match (c, s) {
        (MESSAGE_HEADER, header::CONNECTION_NOT_SYNCHRONIZED) => "Connection Not Synchronized",
        (MESSAGE_HEADER, header::BAD_MESSAGE_LENGTH) => "Bad Message Length",
        (MESSAGE_HEADER, header::BAD_MESSAGE_TYPE) => "Bad Message Type",
        (OPEN, open::UNSPECIFIC) => "Unspecific",
        (OPEN, open::UNSUPPORTED_VERSION) => "Unsupported Version Number",
        (OPEN, open::BAD_PEER_AS) => "Bad Peer AS",
        (OPEN, open::BAD_BGP_ID) => "Bad BGP Identifier",
        (OPEN, open::UNSUPPORTED_OPTIONAL_PARAMETER) => "Unsupported Optional Parameter",
        (OPEN, open::UNACCEPTABLE_HOLD_TIME) => "Unacceptable Hold Time",
        (OPEN, open::UNSUPPORTED_CAPABILITY) => "Unsupported Capability",
        (OPEN, open::ROLE_MISMATCH) => "Role Mismatch",
        (UPDATE, update::MALFORMED_ATTRIBUTE_LIST) => "Malformed Attribute List",
        (UPDATE, update::UNRECOGNIZED_WELL_KNOWN) => "Unrecognized Well-known Attribute",
        (UPDATE, update::MISSING_WELL_KNOWN) => "Missing Well-known Attribute",
        (UPDATE, update::ATTRIBUTE_FLAGS_ERROR) => "Attribute Flags Error",
        (UPDATE, update::ATTRIBUTE_LENGTH_ERROR) => "Attribute Length Error",
        (UPDATE, update::INVALID_ORIGIN) => "Invalid ORIGIN Attribute",
        (UPDATE, update::INVALID_NEXT_HOP) => "Invalid NEXT_HOP Attribute",
        (UPDATE, update::OPTIONAL_ATTRIBUTE_ERROR) => "Optional Attribute Error",
        (UPDATE, update::INVALID_NETWORK_FIELD) => "Invalid Network Field",
        (UPDATE, update::MALFORMED_AS_PATH) => "Malformed AS_PATH",
        (FSM, fsm::UNSPECIFIED) => "Unspecified Error",
        (FSM, fsm::UNEXPECTED_IN_OPENSENT) => "Receive Unexpected Message in OpenSent State",
        (FSM, fsm::UNEXPECTED_IN_OPENCONFIRM) => "Receive Unexpected Message in OpenConfirm State",
        (FSM, fsm::UNEXPECTED_IN_ESTABLISHED) => "Receive Unexpected Message in Established State",
        (CEASE, cease::MAX_PREFIX) => "Maximum Number of Prefixes Reached",
        (CEASE, cease::ADMIN_SHUTDOWN) => "Administrative Shutdown",
        (CEASE, cease::PEER_DECONFIGURED) => "Peer De-configured",
        (CEASE, cease::ADMIN_RESET) => "Administrative Reset",
        (CEASE, cease::CONNECTION_REJECTED) => "Connection Rejected",
        (CEASE, cease::OTHER_CONFIG_CHANGE) => "Other Configuration Change",
        (CEASE, cease::COLLISION_RESOLUTION) => "Connection Collision Resolution",
        (CEASE, cease::OUT_OF_RESOURCES) => "Out of Resources",
        (CEASE, cease::HARD_RESET) => "Hard Reset",
        (CEASE, cease::BFD_DOWN) => "BFD Down",
        (ROUTE_REFRESH, route_refresh::INVALID_MESSAGE_LENGTH) => "Invalid Message Length",
        _ => return None,
    })
}

impl fmt::Display for Notification {
    /// `Cease/Administrative Shutdown (6/2): "maintenance window"`,
    /// `UPDATE Message Error/Malformed Attribute List (3/1) data 0e00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code_name())?;
        match self.subcode_name() {
            Some(s) => write!(f, "/{s}")?,
            None if self.subcode != 0 => write!(f, "/subcode {}", self.subcode)?,
            None => {}
        }
        write!(f, " ({}/{})", self.code, self.subcode)?;
        if let Some(cause) = self.hard_reset_cause() {
            // A Hard Reset inside a Hard Reset is shown as data, not
            // recursively: the wire bounds the depth, the display need not.
            if !cause.is_hard_reset() {
                return write!(f, " for {cause}");
            }
        }
        if let Some(text) = self.shutdown_communication() {
            return write!(f, ": {text:?}");
        }
        if !self.data.is_empty() {
            f.write_str(" data ")?;
            for b in self.data.iter().take(64) {
                write!(f, "{b:02x}")?;
            }
            if self.data.len() > 64 {
                write!(f, "... ({} octets)", self.data.len())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_communication_round_trips_and_displays() {
        let n = Notification::cease_with_message(code::cease::ADMIN_SHUTDOWN, "maintenance");
        let m = n.encode();
        let d = Notification::decode(&m[19..]).unwrap();
        assert_eq!(d, n);
        assert_eq!(d.shutdown_communication(), Some("maintenance"));
        assert_eq!(
            d.to_string(),
            "Cease/Administrative Shutdown (6/2): \"maintenance\""
        );
    }

    #[test]
    fn overlong_shutdown_length_is_not_trusted() {
        // Length octet says 200, only 3 octets follow (CVE-2019-16159 shape).
        let n = Notification::new(6, 2, vec![200, b'a', b'b', b'c']);
        assert_eq!(n.shutdown_communication(), None);
        assert_eq!(
            n.to_string(),
            "Cease/Administrative Shutdown (6/2) data c8616263"
        );
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let text = "é".repeat(200);
        let n = Notification::cease_with_message(code::cease::ADMIN_RESET, &text);
        assert_eq!(n.data[0], 254);
        assert_eq!(n.shutdown_communication().map(str::len), Some(254));
    }

    #[test]
    fn hard_reset_carries_the_cause_and_decodes_back() {
        let cause = Notification::cease_with_message(code::cease::ADMIN_SHUTDOWN, "bye");
        let n = Notification::hard_reset(&cause);
        let m = n.encode();
        // Header 19, code 6, subcode 9, then the cause: 6, 2, len 3, "bye".
        assert_eq!(&m[19..], &[6, 9, 6, 2, 3, b'b', b'y', b'e']);
        let d = Notification::decode(&m[19..]).unwrap();
        assert!(d.is_hard_reset());
        assert_eq!(d.hard_reset_cause(), Some(cause));
        assert_eq!(
            d.to_string(),
            "Cease/Hard Reset (6/9) for Cease/Administrative Shutdown (6/2): \"bye\""
        );
    }

    #[test]
    fn hard_reset_without_a_cause_is_still_a_hard_reset() {
        for data in [vec![], vec![6]] {
            let n =
                Notification::decode(&[6, 9].into_iter().chain(data).collect::<Vec<_>>()).unwrap();
            assert!(n.is_hard_reset());
            assert_eq!(n.hard_reset_cause(), None);
        }
        // Other Cease subcodes are not, whatever their data.
        let n = Notification::new(6, 4, vec![6, 2]);
        assert!(!n.is_hard_reset());
        assert_eq!(n.hard_reset_cause(), None);
        // A nested Hard Reset is displayed as data.
        let nested =
            Notification::hard_reset(&Notification::hard_reset(&Notification::new(4, 0, vec![])));
        assert_eq!(nested.to_string(), "Cease/Hard Reset (6/9) data 06090400");
    }

    #[test]
    fn hard_reset_of_a_maximal_cause_fits_one_message() {
        let cause = Notification::new(3, 1, vec![0xab; 5000]);
        let m = Notification::hard_reset(&cause).encode();
        assert_eq!(m.len(), 4096);
    }

    #[test]
    fn display_unknown_codes() {
        assert_eq!(
            Notification::new(9, 9, vec![]).to_string(),
            "Unknown Error/subcode 9 (9/9)"
        );
        assert_eq!(
            Notification::new(3, 1, vec![0x0e, 0]).to_string(),
            "UPDATE Message Error/Malformed Attribute List (3/1) data 0e00"
        );
    }
}
