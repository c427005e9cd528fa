//! # integration — network-namespace topologies for tests, the demo and benchmarks
//!
//! Owns: creating and always removing network namespaces, veths and the
//! processes (evpnd, FRR, GoBGP) that run in them, and reading their state
//! as JSON with bounded polling.
//!
//! Every resource is an RAII guard: [`Netns`] kills what runs inside and
//! deletes the namespace on drop (also while a failed test unwinds, and on
//! Ctrl-C through [`cleanup`]); [`Daemon`] stops its process on drop;
//! [`TestDir`] holds configs and logs and keeps them when a test fails.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use integration::*;
//! let dir = TestDir::new("example")?;
//! let (a, b) = (Netns::new()?, Netns::new()?);
//! veth(&a, "eth0", &["10.0.0.1/24"], &b, "eth0", &["10.0.0.2/24"], 1500)?;
//! let frr = Frr::start(&b, &dir, "router bgp 65002\n")?;
//! let summary = frr.vtysh_json("show bgp summary json")?;
//! # let _ = summary; Ok(()) }
//! ```

pub mod cleanup;
pub mod fabric;
pub mod fdbwatch;
pub mod inject;
pub mod json;
pub mod netns;
pub mod peers;
pub mod probe;
pub mod process;
pub mod report;
pub mod topo;
pub mod watch;

pub use json::{json_includes, poll_json, poll_until};
pub use netns::{run_ok, veth, Netns, VethEnd};
pub use peers::{bin_dir, have_root, skip_unless, Evpnd, Frr, Gobgp};
pub use process::{Daemon, TestDir};
