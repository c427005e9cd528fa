//! # netlink-glue — the Linux EVPN dataplane
//!
//! Owns: every kernel object evpnd creates, adopts, reads or deletes (bridges,
//! VXLAN devices, FDB entries, neighbours, routes, rules, sysctls), through the
//! `Dataplane` trait with a netlink implementation and an in-memory fake.
//!
//! Does not own: protocol decisions (evpnd's core) or the wire format (evpn-proto).
