//! Network namespaces and veth links.

use std::ffi::OsStr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{bail, Context, Result};

use crate::cleanup;

/// Every namespace this crate creates is named `evt<pid><letters>`, so
/// `make clean-netns` and [`cleanup::remove_stale`] can find leftovers.
pub const PREFIX: &str = "evt";

/// A network namespace that exists while this value does. Dropping it kills
/// every process still inside and deletes it (also while unwinding).
#[derive(Debug)]
pub struct Netns {
    name: String,
}

/// `0 → a`, `25 → z`, `26 → ba`, … (letters, so the pid digits stay separable).
fn suffix(mut n: u32) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

impl Netns {
    /// Create a fresh namespace with `lo` up.
    pub fn new() -> Result<Netns> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        cleanup::remove_stale();
        let name = format!(
            "{PREFIX}{}{}",
            std::process::id(),
            suffix(COUNTER.fetch_add(1, Ordering::Relaxed))
        );
        run_ok(Command::new("ip").args(["netns", "add", &name]))
            .with_context(|| format!("create network namespace {name}"))?;
        cleanup::register(&name);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside this namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Run `program args…` inside, failing with its stderr when it fails.
    pub fn exec<S: AsRef<OsStr>>(&self, program: &str, args: &[S]) -> Result<String> {
        let out = run_ok(self.command(program).args(args))
            .with_context(|| format!("in netns {}", self.name))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ip ARGS…` inside.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        self.exec("ip", args)
    }

    /// `sysctl -w KEY=VALUE` inside.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.exec("sysctl", &["-q", "-w", &format!("{key}={value}")])?;
        Ok(())
    }

    /// Let this namespace route between its interfaces (IPv4 and IPv6).
    pub fn enable_forwarding(&self) -> Result<()> {
        self.sysctl("net.ipv4.ip_forward", "1")?;
        self.sysctl("net.ipv6.conf.all.forwarding", "1")
    }

    /// Add an address (`10.0.0.1/24`, `fd00::1/64`) to `dev`. IPv6 addresses
    /// skip duplicate address detection so they are usable at once.
    pub fn addr(&self, dev: &str, cidr: &str) -> Result<()> {
        if cidr.contains(':') {
            self.ip(&["-6", "addr", "add", cidr, "dev", dev, "nodad"])?;
        } else {
            self.ip(&["addr", "add", cidr, "dev", dev])?;
        }
        Ok(())
    }

    /// `ip route add PREFIX via GW` inside.
    pub fn route(&self, prefix: &str, via: &str) -> Result<()> {
        self.ip(&["route", "add", prefix, "via", via])?;
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        cleanup::destroy_netns(&self.name);
        cleanup::unregister(&self.name);
    }
}

/// One end of a veth pair: its namespace's name and the interface name.
#[derive(Debug, Clone)]
pub struct VethEnd {
    pub netns: String,
    pub dev: String,
}

/// Connect `a` and `b` with a veth pair named `a_dev` / `b_dev`, set the
/// MTU, bring both up and add the addresses (any number, v4 or v6).
pub fn veth(
    a: &Netns,
    a_dev: &str,
    a_addrs: &[&str],
    b: &Netns,
    b_dev: &str,
    b_addrs: &[&str],
    mtu: u32,
) -> Result<(VethEnd, VethEnd)> {
    // Created in `a`, the peer moved straight into `b`.
    a.ip(&[
        "link",
        "add",
        a_dev,
        "mtu",
        &mtu.to_string(),
        "type",
        "veth",
        "peer",
        "name",
        b_dev,
        "netns",
        b.name(),
    ])
    .with_context(|| format!("veth {a_dev}@{} <-> {b_dev}@{}", a.name(), b.name()))?;
    b.ip(&["link", "set", b_dev, "mtu", &mtu.to_string()])?;
    for (ns, dev, addrs) in [(a, a_dev, a_addrs), (b, b_dev, b_addrs)] {
        for cidr in addrs {
            ns.addr(dev, cidr)?;
        }
        ns.ip(&["link", "set", dev, "up"])?;
    }
    Ok((
        VethEnd {
            netns: a.name().to_string(),
            dev: a_dev.to_string(),
        },
        VethEnd {
            netns: b.name().to_string(),
            dev: b_dev.to_string(),
        },
    ))
}

/// Run to completion; a non-zero exit is an error that shows the command
/// and its stderr.
pub fn run_ok(cmd: &mut Command) -> Result<Output> {
    let desc = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("spawn {desc}"))?;
    if !out.status.success() {
        bail!(
            "{desc} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_letters_only() {
        assert_eq!(suffix(0), "a");
        assert_eq!(suffix(25), "z");
        assert_eq!(suffix(26), "ba");
    }
}
