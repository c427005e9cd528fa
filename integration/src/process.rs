//! Long-running processes inside a namespace, killed when dropped, and the
//! per-test scratch directory that holds their configs and logs.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A scratch directory under the system temp dir, removed on drop unless the
/// test failed (then its path is printed so the logs can be read) or
/// `EVT_KEEP=1` is set.
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new(label: &str) -> Result<TestDir> {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "evt-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("create {}", path.display()))?;
        Ok(TestDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Create `dir/name` with `text`; returns its path.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let p = self.path.join(name);
        std::fs::write(&p, text).with_context(|| format!("write {}", p.display()))?;
        Ok(p)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("EVT_KEEP").is_some() {
            eprintln!("integration: logs kept in {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A child process; SIGTERM then (after a bound) SIGKILL when dropped.
/// Its stdout and stderr go to `log`; when a test fails, the tail of the
/// log is printed as the daemon is dropped.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    /// Spawn `cmd` (already set up, e.g. by [`crate::Netns::command`]) with
    /// output to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Result<Daemon> {
        let out = File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("spawn {name}: {cmd:?}"))?;
        Ok(Daemon {
            name: name.to_string(),
            child: Some(child),
            log,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send `sig` (e.g. `libc::SIGSTOP`, `libc::SIGCONT`, `libc::SIGHUP`).
    pub fn signal(&self, sig: libc::c_int) -> Result<()> {
        let Some(pid) = self.pid() else {
            bail!("{} is not running", self.name)
        };
        // SAFETY: kill(2) on our own child's pid.
        if unsafe { libc::kill(pid as libc::pid_t, sig) } != 0 {
            bail!(
                "kill({pid}, {sig}) for {}: {}",
                self.name,
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }

    /// Still running?
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stop with `sig`, wait at most `grace`, then SIGKILL. Returns the exit
    /// status when it exited by itself within `grace`.
    pub fn stop_with(
        &mut self,
        sig: libc::c_int,
        grace: Duration,
    ) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: kill(2) on our own child; a stopped child is woken so it
        // can handle the signal.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGCONT);
            libc::kill(child.id() as libc::pid_t, sig);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// SIGKILL at once (a crash, as far as peers can tell).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop_with(libc::SIGTERM, Duration::from_secs(3));
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "---- last lines of {} ({}) ----",
                self.name,
                self.log.display()
            );
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}
