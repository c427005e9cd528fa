//! # evpn-proto — the BGP-4 and EVPN wire format
//!
//! Owns: encoding and decoding of every BGP message evpnd sends or receives
//! (RFC 4271, 4760, 5492, 6793, 7313, 4724, 8950, ADD-PATH 7911), the EVPN NLRI route types
//! 1–5 (RFC 7432 §7, RFC 9136), the extended communities EVPN uses
//! (RFC 4360, 7432, 8365, 9135, 9012) and the PMSI tunnel attribute
//! (RFC 6514); and the RFC 7606 verdict for every malformed input.
//!
//! Does not own: sessions, timers, RIBs or policy (evpnd's core), sockets
//! (evpnd's shell), kernel state (netlink-glue). No I/O, no logging, no
//! global state: decoding is a pure function of the bytes and the
//! negotiated [`DecodeCxt`](message::DecodeCxt).
//!
//! Decoding never panics and never allocates more than a small constant
//! factor of the input length: every length field is checked against the
//! bytes actually present through a bounded [`reader::Reader`].

pub mod attr;
pub mod capability;
pub mod error;
pub mod evpn;
pub mod ext_community;
pub mod large_community;
pub mod message;
pub mod pmsi;
pub mod prefix;
pub mod reader;
pub mod types;

pub use attr::{MpNlri, MpReach, MpUnreach, NextHop, PathAttrs, RawAttribute};
pub use capability::Capability;
pub use error::{Action, Error, NlriError};
pub use evpn::{
    read_evpn_routes, read_evpn_routes_with_path_ids, EthernetAd, EthernetSegment, EvpnKey,
    EvpnRoute, EvpnRouteIter, Imet, IpPrefix, MacIp,
};
pub use ext_community::{read_ext_communities, ExtCommunity, RouteTarget, TunnelType};
pub use large_community::{read_large_communities, LargeCommunity};
pub use message::{
    decode_message, frame_len, DecodeCxt, Decoded, FamilySet, Message, Notification, Open,
    RouteRefresh, Update, UpdateDecoded, Verdict,
};
pub use pmsi::{PmsiError, PmsiTunnel, PmsiTunnelType};
pub use prefix::{
    read_ipv4_prefixes, read_ipv6_prefixes, read_prefixes_with_path_ids, Ipv4Prefix, Ipv6Prefix,
    Prefix,
};
pub use types::{Afi, Esi, Family, Label, Mac, Rd, Safi, Vni};
