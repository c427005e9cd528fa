//! Decode errors that carry their consequence (RFC 7606, RFC 4271 §6).
//!
//! Every error knows what the session must do about it — treat the UPDATE as
//! a withdraw, discard one attribute, or reset the session — and which
//! NOTIFICATION (code, subcode, data) would describe it. For the first two
//! actions no NOTIFICATION is sent; the code and subcode are still recorded so
//! that logs and `evpnctl decode` say which rule fired.

use crate::reader::Short;

/// NOTIFICATION error codes and subcodes (RFC 4271 §4.5, RFC 4486, RFC 7313, RFC 9687).
pub mod code {
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN: u8 = 2;
    pub const UPDATE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH: u8 = 7;
    pub const SEND_HOLD_TIMER_EXPIRED: u8 = 8;

    /// Subcodes of [`MESSAGE_HEADER`].
    pub mod header {
        pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
        pub const BAD_MESSAGE_LENGTH: u8 = 2;
        pub const BAD_MESSAGE_TYPE: u8 = 3;
    }
    /// Subcodes of [`OPEN`].
    pub mod open {
        pub const UNSPECIFIC: u8 = 0;
        pub const UNSUPPORTED_VERSION: u8 = 1;
        pub const BAD_PEER_AS: u8 = 2;
        pub const BAD_BGP_ID: u8 = 3;
        pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
        pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
        pub const UNSUPPORTED_CAPABILITY: u8 = 7;
        pub const ROLE_MISMATCH: u8 = 11;
    }
    /// Subcodes of [`UPDATE`].
    pub mod update {
        pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
        pub const UNRECOGNIZED_WELL_KNOWN: u8 = 2;
        pub const MISSING_WELL_KNOWN: u8 = 3;
        pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
        pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
        pub const INVALID_ORIGIN: u8 = 6;
        pub const INVALID_NEXT_HOP: u8 = 8;
        pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
        pub const INVALID_NETWORK_FIELD: u8 = 10;
        pub const MALFORMED_AS_PATH: u8 = 11;
    }
    /// Subcodes of [`FSM`] (RFC 6608).
    pub mod fsm {
        pub const UNSPECIFIED: u8 = 0;
        pub const UNEXPECTED_IN_OPENSENT: u8 = 1;
        pub const UNEXPECTED_IN_OPENCONFIRM: u8 = 2;
        pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
    }
    /// Subcodes of [`CEASE`] (RFC 4486, RFC 8538).
    pub mod cease {
        pub const MAX_PREFIX: u8 = 1;
        pub const ADMIN_SHUTDOWN: u8 = 2;
        pub const PEER_DECONFIGURED: u8 = 3;
        pub const ADMIN_RESET: u8 = 4;
        pub const CONNECTION_REJECTED: u8 = 5;
        pub const OTHER_CONFIG_CHANGE: u8 = 6;
        pub const COLLISION_RESOLUTION: u8 = 7;
        pub const OUT_OF_RESOURCES: u8 = 8;
        pub const HARD_RESET: u8 = 9;
        /// RFC 9384.
        pub const BFD_DOWN: u8 = 10;
    }
    /// Subcodes of [`ROUTE_REFRESH`] (RFC 7313 §5).
    pub mod route_refresh {
        pub const INVALID_MESSAGE_LENGTH: u8 = 1;
    }
}

/// What the receiver of a bad message must do (RFC 7606 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Keep the session; withdraw every NLRI the UPDATE carries (§2 "treat-as-withdraw").
    TreatAsWithdraw,
    /// Keep the session and the routes; drop the offending attribute (§2 "attribute discard").
    AttributeDiscard,
    /// Send the NOTIFICATION and close the session (§2 "session reset").
    SessionReset,
}

impl Action {
    /// The names used in logs and in `evpnctl decode --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::TreatAsWithdraw => "treat-as-withdraw",
            Action::AttributeDiscard => "attribute-discard",
            Action::SessionReset => "session-reset",
        }
    }

    /// The stronger of two actions: session reset > treat-as-withdraw > attribute discard.
    pub fn max(self, other: Action) -> Action {
        fn rank(a: Action) -> u8 {
            match a {
                Action::AttributeDiscard => 0,
                Action::TreatAsWithdraw => 1,
                Action::SessionReset => 2,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decode failure with its RFC 7606 / RFC 4271 consequence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action} ({code}/{subcode}): {reason}")]
pub struct Error {
    pub action: Action,
    /// NOTIFICATION error code (sent only for [`Action::SessionReset`]).
    pub code: u8,
    /// NOTIFICATION error subcode.
    pub subcode: u8,
    /// NOTIFICATION data field.
    pub data: Vec<u8>,
    /// Human-readable cause, naming the field.
    pub reason: String,
}

impl Error {
    pub fn new(action: Action, code: u8, subcode: u8, reason: impl Into<String>) -> Self {
        Self {
            action,
            code,
            subcode,
            data: Vec::new(),
            reason: reason.into(),
        }
    }

    pub fn session_reset(code: u8, subcode: u8, reason: impl Into<String>) -> Self {
        Self::new(Action::SessionReset, code, subcode, reason)
    }

    pub fn treat_as_withdraw(code: u8, subcode: u8, reason: impl Into<String>) -> Self {
        Self::new(Action::TreatAsWithdraw, code, subcode, reason)
    }

    pub fn attribute_discard(code: u8, subcode: u8, reason: impl Into<String>) -> Self {
        Self::new(Action::AttributeDiscard, code, subcode, reason)
    }

    /// Attach the NOTIFICATION data field.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// The same error with a stronger action (e.g. an attribute error that
    /// RFC 7606 upgrades to treat-as-withdraw).
    pub fn escalate(mut self, action: Action) -> Self {
        self.action = self.action.max(action);
        self
    }

    /// A truncation inside a structure whose damage means session reset.
    pub fn from_short(short: Short, action: Action, code: u8, subcode: u8) -> Self {
        Self::new(action, code, subcode, short.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A syntactically bad NLRI field (RFC 7606 §5.3: it cannot be skipped, so
/// treat-as-withdraw is impossible). The caller picks the NOTIFICATION: the
/// IPv4 NLRI / withdrawn fields use [3,10], MP_REACH/MP_UNREACH use [3,9].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NlriError(pub String);

impl From<Short> for NlriError {
    fn from(s: Short) -> Self {
        NlriError(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_max_orders_by_severity() {
        use Action::*;
        assert_eq!(AttributeDiscard.max(TreatAsWithdraw), TreatAsWithdraw);
        assert_eq!(SessionReset.max(TreatAsWithdraw), SessionReset);
        assert_eq!(TreatAsWithdraw.max(AttributeDiscard), TreatAsWithdraw);
    }

    #[test]
    fn display_names_action_code_and_reason() {
        let e = Error::treat_as_withdraw(3, 1, "ORIGIN length 2");
        assert_eq!(e.to_string(), "treat-as-withdraw (3/1): ORIGIN length 2");
    }
}
