//! # evpnd — the daemon's library: sans-IO core, tokio shell, API, CLI helpers
//!
//! Owns: protocol decisions (sessions, RIBs, EVPN instances, mobility) in the
//! core; sockets, timers and signals in the shell; the JSON API.
//!
//! Does not own: the wire format (evpn-proto) or kernel objects (netlink-glue).

pub mod api;
pub mod config;
pub mod core;
pub mod decode;
pub mod shell;
