//! What a reconcile or an incremental apply did, per object, for the core
//! (`Input::Dataplane`) and for `evpnctl`.

use std::fmt;

use crate::plan::{Conflict, Op, Plan};

/// A kernel error for one request: the errno, its name and the extended-ack
/// message when the kernel gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// Positive errno (`libc::EINVAL` = 22).
    pub errno: i32,
    /// Extended ack text (`NLMSGERR_ATTR_MSG`), if any.
    pub message: Option<String>,
}

impl KernelError {
    pub fn new(errno: i32) -> KernelError {
        KernelError {
            errno,
            message: None,
        }
    }

    pub fn name(&self) -> &'static str {
        errno_name(self.errno)
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let os = std::io::Error::from_raw_os_error(self.errno);
        // io::Error's Display appends " (os error N)"; keep only the text.
        let text = os.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text);
        write!(f, "{} {}", self.name(), text)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// Names of the errnos rtnetlink answers with; others print as `E<n>`.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENOBUFS => "ENOBUFS",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        _ => "E?",
    }
}

/// Why an op did not take effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailReason {
    /// The kernel refused it.
    Kernel(KernelError),
    /// A device the entry lives on does not exist (yet).
    NoDevice(String),
    /// No acknowledgement arrived in time; the kernel state is unknown.
    NoAck,
    /// The request could not be sent (socket error).
    Io(String),
    /// Another entry we do not own holds the key.
    Conflict,
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::Kernel(e) => write!(f, "{e}"),
            FailReason::NoDevice(d) => write!(f, "device {d} does not exist"),
            FailReason::NoAck => f.write_str("no acknowledgement from the kernel (state unknown)"),
            FailReason::Io(e) => write!(f, "netlink socket: {e}"),
            FailReason::Conflict => f.write_str("held by an entry evpnd does not own; left alone"),
        }
    }
}

/// One op that failed, with its object named the way an operator reads it:
/// `fdb aa:bb:cc:00:00:01 dst 10.0.0.2 extern_learn self on vxlan100: EINVAL ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub op: Op,
    /// `op` rendered with device names.
    pub object: String,
    pub reason: FailReason,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.reason)
    }
}

/// A device-level action (create, adopt, set a flag, a sysctl, an address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAction {
    /// "create vxlan vxlan100 id 100 local 10.0.0.1 dstport 4789 nolearning".
    pub what: String,
    pub result: Result<(), String>,
}

/// The result of one reconcile or apply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The intent generation this report answers.
    pub generation: u64,
    /// The kernel state could not be read: nothing was deleted or replaced,
    /// and the daemon must retry. Never treated as "empty".
    pub unknown: Option<String>,
    pub devices: Vec<DeviceAction>,
    /// The plan that was computed (for `evpnctl`: intent vs. kernel). Empty
    /// for an incremental apply.
    pub plan: Plan,
    /// Ops acknowledged by the kernel: every op of the plan (or of the
    /// change set) that is not in `failed`. A count, not a list, so a
    /// 100k-entry sync does not keep a second copy of the plan.
    pub applied: usize,
    pub failed: Vec<Failure>,
    /// MTU problems, backend choice, and other things an operator should see.
    pub warnings: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.unknown.is_none()
            && self.failed.is_empty()
            && self.devices.iter().all(|d| d.result.is_ok())
    }

    pub(crate) fn conflict_failures(
        &mut self,
        conflicts: &[Conflict],
        dev: &dyn Fn(&crate::Key) -> String,
    ) {
        for c in conflicts {
            let op = Op::Add {
                key: c.key.clone(),
                value: c.wanted.clone(),
            };
            self.failed.push(Failure {
                object: op.describe(dev),
                op,
                reason: FailReason::Conflict,
            });
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "generation {}: {} applied, {} failed, {} kept",
            self.generation,
            self.applied,
            self.failed.len(),
            self.plan.kept
        )?;
        if let Some(u) = &self.unknown {
            writeln!(f, "  kernel state unknown: {u}")?;
        }
        for d in &self.devices {
            match &d.result {
                Ok(()) => writeln!(f, "  device: {}", d.what)?,
                Err(e) => writeln!(f, "  device FAILED: {}: {e}", d.what)?,
            }
        }
        for x in &self.failed {
            writeln!(f, "  failed: {x}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}
