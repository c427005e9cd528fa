//! Test support: private network namespaces with RAII cleanup, and running
//! code inside one.
//!
//! A netlink socket belongs to the network namespace of the thread that
//! creates it, and `/proc/sys/net` resolves against the calling thread's
//! namespace; so kernel work runs on a fresh thread that has `setns()` into
//! the namespace, with a current-thread tokio runtime that never leaves it.
//! Namespaces are named `evt<pid>n<counter><tag>` so `make clean-netns` can
//! find leftovers, and are deleted on drop, also when a test panics.

use std::fs::File;
use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Whether this process may create namespaces (root with CAP_SYS_ADMIN).
pub fn can_create() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("ip")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A named network namespace (`/run/netns/NAME`), deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `evt<pid>n<counter><tag>` with `lo` up.
    pub fn new(tag: &str) -> io::Result<Netns> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("evt{}n{n}{tag}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "ip netns add {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let ns = Netns { name };
        ns.sh("ip link set lo up")?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A scratch directory for this namespace's files (ownership records,
    /// batch files), removed with the namespace.
    pub fn scratch(&self) -> PathBuf {
        let d = std::env::temp_dir().join(&self.name);
        let _ = std::fs::create_dir_all(&d);
        d
    }

    /// Runs a shell command inside the namespace; fails on a non-zero exit.
    pub fn sh(&self, cmd: &str) -> io::Result<String> {
        let out = self.sh_output(cmd)?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "[{}] {cmd}: exit {:?}: {}{}",
                self.name,
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs a shell command inside the namespace; returns its output whatever
    /// the exit status.
    pub fn sh_output(&self, cmd: &str) -> io::Result<Output> {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", cmd])
            .output()
    }

    /// Runs `f` on a new thread inside the namespace and waits for it.
    /// A panic in `f` is re-raised here.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let path = format!("/run/netns/{}", self.name);
        let h = std::thread::spawn(move || {
            enter(&path).unwrap_or_else(|e| panic!("setns {path}: {e}"));
            f()
        });
        match h.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// Runs an async block on a current-thread runtime inside the namespace.
    pub fn block_on<F, Fut, R>(&self, f: F) -> R
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R>,
        R: Send + 'static,
    {
        self.run(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
            rt.block_on(f())
        })
    }

    /// Spawns a thread inside the namespace without waiting (for long-lived
    /// helpers such as a monitor in another leaf).
    pub fn spawn<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> std::thread::JoinHandle<R> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            enter(&path).unwrap_or_else(|e| panic!("setns {path}: {e}"));
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&self.name));
    }
}

/// Moves the calling thread into the network namespace at `path`.
pub fn enter(path: &str) -> io::Result<()> {
    let f = File::open(path)?;
    // SAFETY: `f` is an open namespace file for the duration of the call;
    // setns only changes the calling thread's namespace.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Connects two namespaces with a veth pair `a_if` (in `a`) / `b_if` (in `b`).
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> io::Result<()> {
    a.sh(&format!(
        "ip link add {a_if} type veth peer name {b_if} netns {} && ip link set {a_if} up",
        b.name()
    ))?;
    b.sh(&format!("ip link set {b_if} up"))?;
    Ok(())
}

/// Reports a test (or part of one) skipped for a missing prerequisite:
/// prints `SKIPPED: reason`, and appends `test: reason` to the file named
/// by `EVPND_SKIP_LOG`, which `make test` lists at the end (cargo hides
/// what a passing test printed).
pub fn skipped(reason: &str) {
    println!("SKIPPED: {reason}");
    if let Some(path) = std::env::var_os("EVPND_SKIP_LOG") {
        use std::io::Write;
        let test = std::thread::current()
            .name()
            .unwrap_or("(unnamed thread)")
            .to_string();
        let line = format!("{test}: {reason}\n");
        // One write per line, O_APPEND: lines of parallel tests do not mix.
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }
}
