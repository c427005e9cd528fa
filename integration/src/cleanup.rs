//! Making sure namespaces and the processes in them never outlive a test.
//!
//! Three layers:
//! 1. RAII: [`crate::Netns`] and [`crate::Daemon`] clean up in `Drop`, which
//!    also runs while a failed test unwinds.
//! 2. Ctrl-C / SIGTERM: the first namespace installs a handler that writes
//!    to a pipe (the only thing a signal handler may safely do); a watcher
//!    thread then kills every process in every registered namespace, deletes
//!    the namespaces and exits with 130.
//! 3. Leftovers of a process that died without either (SIGKILL, abort):
//!    [`remove_stale`] deletes the namespaces whose creator is gone (marker
//!    files in `/run/evpnd-integration/` record name and pid; namespaces of
//!    other tools are never touched), after killing what still runs in
//!    them. Called before each new namespace.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once};

/// Names of namespaces this process created and has not deleted yet.
static LIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// One file per namespace this crate created, holding the creator's pid:
/// stale cleanup only ever touches namespaces listed here, never another
/// tool's, whatever their names.
const MARKER_DIR: &str = "/run/evpnd-integration";

pub(crate) fn register(name: &str) {
    install_signal_cleanup();
    if let Ok(mut l) = LIVE.lock() {
        l.insert(name.to_string());
    }
    let _ = std::fs::create_dir_all(MARKER_DIR);
    let _ = std::fs::write(
        std::path::Path::new(MARKER_DIR).join(name),
        std::process::id().to_string(),
    );
}

pub(crate) fn unregister(name: &str) {
    if let Ok(mut l) = LIVE.lock() {
        l.remove(name);
    }
    let _ = std::fs::remove_file(std::path::Path::new(MARKER_DIR).join(name));
    // FRR's path space for this namespace (`-N <name>`), see `Frr`.
    let _ = std::fs::remove_dir_all(std::path::Path::new("/var/run/frr").join(name));
}

/// Kill every process inside `name` (SIGKILL), then delete the namespace.
/// Deleting alone would leave the processes running in an orphaned stack.
pub fn destroy_netns(name: &str) {
    for _ in 0..10 {
        let pids = netns_pids(name);
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            // SAFETY: kill(2) with a pid read from the kernel; at worst ESRCH.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = Command::new("ip").args(["netns", "del", name]).output();
    let _ = std::fs::remove_file(std::path::Path::new(MARKER_DIR).join(name));
}

fn netns_pids(name: &str) -> Vec<libc::pid_t> {
    Command::new("ip")
        .args(["netns", "pids", name])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Delete the namespaces this crate created in processes that are gone
/// (per their marker files), after killing what still runs in them.
pub fn remove_stale() {
    remove_stale_frr_dirs();
    let Ok(entries) = std::fs::read_dir(MARKER_DIR) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(pid) = std::fs::read_to_string(e.path()).map(|s| s.trim().parse::<libc::pid_t>())
        else {
            continue;
        };
        let Ok(pid) = pid else { continue };
        if !pid_alive(pid) && name.starts_with(crate::netns::PREFIX) {
            destroy_netns(&name);
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Write end of the self-pipe; set once before the handler is installed.
/// A lock-free atomic load is async-signal-safe.
/// FRR run directories (`/var/run/frr/evt<pid><letters>`) of namespaces
/// that no longer exist and whose creator is dead: left when a test process
/// was killed while FRR was starting. Directories of live namespaces are
/// never touched.
fn remove_stale_frr_dirs() {
    let Ok(entries) = std::fs::read_dir("/var/run/frr") else {
        return;
    };
    let live = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(crate::netns::PREFIX) else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let letters = &rest[digits.len()..];
        if digits.is_empty()
            || letters.is_empty()
            || !letters.chars().all(|c| c.is_ascii_lowercase())
        {
            continue;
        }
        let Ok(pid) = digits.parse::<libc::pid_t>() else {
            continue;
        };
        let netns_exists = live
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name.as_str()));
        if !netns_exists && !pid_alive(pid) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn pid_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

static PIPE_WR: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_sig: libc::c_int) {
    let b = [1u8];
    // SAFETY: write(2) is async-signal-safe; the buffer is live.
    unsafe {
        libc::write(PIPE_WR.load(Ordering::Relaxed), b.as_ptr().cast(), 1);
    }
}

fn install_signal_cleanup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds has room for two descriptors.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return;
        }
        PIPE_WR.store(fds[1], Ordering::Relaxed);
        let rd = fds[0];
        std::thread::spawn(move || {
            let mut b = [0u8; 1];
            // SAFETY: reading one byte into a live buffer.
            let n = unsafe { libc::read(rd, b.as_mut_ptr().cast(), 1) };
            if n == 1 {
                // The test threads keep running meanwhile and may create a
                // namespace (or FRR's run directory) after a pass: three
                // passes, 100 ms apart, catch those.
                for _ in 0..3 {
                    let names: Vec<String> = LIVE
                        .lock()
                        .map(|l| l.iter().cloned().collect())
                        .unwrap_or_default();
                    for name in names {
                        destroy_netns(&name);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                eprintln!("integration: interrupted; namespaces and their processes removed");
                std::process::exit(130);
            }
        });
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: installing a handler that only calls write(2).
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    });
}
