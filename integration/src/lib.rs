//! # integration — network-namespace topologies for tests, the demo and benchmarks
//!
//! Owns: creating and always removing network namespaces, veths and the
//! processes (evpnd, FRR, GoBGP, BIRD) that run in them.
