//! Offline decoding for `evpnctl decode`: from what an operator has (a
//! packet capture, a hex dump) to the BGP messages evpn-proto decodes.
//! `pcap` only frames: capture file → TCP streams → raw messages; `hex`
//! reads hex dumps; `session` derives each message's decode context (from
//! the CLI flags, and for captures from the OPENs); `render` names the
//! decoded fields (JSON and text).

pub mod hex;
pub mod pcap;
pub mod render;
pub mod session;
