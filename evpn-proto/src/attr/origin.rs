//! ORIGIN (RFC 4271 §4.3 type 1, §5.1.1): well-known mandatory, 1 octet.
//!
//! ```text
//! +-+-+-+-+-+-+-+-+
//! |    ORIGIN     |   0 IGP, 1 EGP, 2 INCOMPLETE
//! +-+-+-+-+-+-+-+-+
//! ```
//!
//! RFC 7606 §7.1: length other than 1, or an undefined value, is
//! treat-as-withdraw.

use std::fmt;

use super::Malformed;
use crate::error::code::update;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

impl Origin {
    pub fn decode(value: &[u8]) -> Result<Origin, Malformed> {
        match value {
            [0] => Ok(Origin::Igp),
            [1] => Ok(Origin::Egp),
            [2] => Ok(Origin::Incomplete),
            [v] => Err(Malformed::new(
                update::INVALID_ORIGIN,
                format!("ORIGIN value {v} (must be 0..=2)"),
            )),
            _ => Err(Malformed::length("ORIGIN", value.len(), "1")),
        }
    }

    pub fn encode(self, out: &mut Vec<u8>) {
        out.push(match self {
            Origin::Igp => 0,
            Origin::Egp => 1,
            Origin::Incomplete => 2,
        });
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Igp => "IGP",
            Origin::Egp => "EGP",
            Origin::Incomplete => "incomplete",
        })
    }
}
