//! The BGP speakers a test runs inside namespaces: evpnd, FRR (zebra +
//! bgpd) and GoBGP, each with its own config, sockets and logs, and the
//! helpers to read their state as JSON.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::json::poll_until;
use crate::netns::{run_ok, Netns};
use crate::process::{Daemon, TestDir};

/// Where evpnd and evpnctl are: `$EVPND_BIN_DIR`, else the directory of the
/// running test's profile (`target/debug`). They are (re)built once per
/// test process with `cargo build -p evpnd --bins`, so a test never runs a
/// stale daemon.
pub fn bin_dir() -> Result<PathBuf> {
    static DIR: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| find_bins().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn find_bins() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("EVPND_BIN_DIR") {
        return Ok(PathBuf::from(d));
    }
    let exe = std::env::current_exe().context("locate the test executable")?;
    // target/<profile>/deps/<test> or target/<profile>/<bin> → target/<profile>
    let parent = exe
        .parent()
        .ok_or_else(|| anyhow!("unexpected executable path {}", exe.display()))?;
    let dir = if parent.file_name().and_then(|n| n.to_str()) == Some("deps") {
        parent.parent().unwrap_or(parent)
    } else {
        parent
    }
    .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "evpnd", "--bins"]);
    if dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    if let Some(target) = dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    run_ok(&mut cmd).context("build evpnd and evpnctl for the integration tests")?;
    for b in ["evpnd", "evpnctl"] {
        if !dir.join(b).exists() {
            bail!("{} not found after the build", dir.join(b).display());
        }
    }
    Ok(dir)
}

/// Are we root (namespaces, veths and FRR need it)? Tests print
/// `SKIPPED: …` and pass when not.
pub fn have_root() -> bool {
    // SAFETY: geteuid never fails.
    unsafe { libc::geteuid() == 0 }
}

/// Is `program` on this machine (FRR and GoBGP are installed by `make deps`)?
pub fn have(program: &str) -> bool {
    Path::new(program).exists()
        || Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
}

/// Prints `SKIPPED: reason` and returns true when a prerequisite is missing.
pub fn skip_unless(root: bool, programs: &[&str]) -> bool {
    if root && !have_root() {
        netlink_glue::netns::skipped("needs root (network namespaces)");
        return true;
    }
    for p in programs {
        if !have(p) {
            netlink_glue::netns::skipped(&format!("{p} is not installed (make deps)"));
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------- evpnd

/// One evpnd inside a namespace, with its own config file and API socket.
#[derive(Debug)]
pub struct Evpnd {
    pub name: String,
    netns: String,
    pub config: PathBuf,
    pub socket: PathBuf,
    log: PathBuf,
    /// Extra command-line arguments (e.g. `--no-dataplane`).
    args: Vec<String>,
    /// Extra environment (e.g. `RUST_LOG=info` for benchmarks).
    env: Vec<(String, String)>,
    daemon: Daemon,
}

impl Evpnd {
    /// Write `config` (TOML) to `dir/NAME.toml` and start
    /// `evpnd -c … --socket dir/NAME.sock -v` inside `ns`; waits until the
    /// API answers.
    pub fn start(ns: &Netns, dir: &TestDir, name: &str, config: &str) -> Result<Evpnd> {
        Self::start_opts(ns, dir, name, config, &[], &[])
    }

    /// [`Evpnd::start`] with more command-line arguments (e.g. `--no-dataplane`).
    pub fn start_with(
        ns: &Netns,
        dir: &TestDir,
        name: &str,
        config: &str,
        args: &[&str],
    ) -> Result<Evpnd> {
        Self::start_opts(ns, dir, name, config, args, &[])
    }

    /// [`Evpnd::start`] with extra environment variables; `RUST_LOG`
    /// overrides the `-v` (debug) level, e.g. `RUST_LOG=info` for benchmarks.
    pub fn start_with_env(
        ns: &Netns,
        dir: &TestDir,
        name: &str,
        config: &str,
        env: &[(&str, &str)],
    ) -> Result<Evpnd> {
        Self::start_opts(ns, dir, name, config, &[], env)
    }

    fn start_opts(
        ns: &Netns,
        dir: &TestDir,
        name: &str,
        config: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Evpnd> {
        let path = dir.write(&format!("{name}.toml"), config)?;
        let socket = dir.path().join(format!("{name}.sock"));
        let log = dir.path().join(format!("{name}.log"));
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let daemon = Self::spawn(ns.name(), name, &path, &socket, &log, &args, &env)?;
        let e = Evpnd {
            name: name.to_string(),
            netns: ns.name().to_string(),
            config: path,
            socket,
            log,
            args,
            env,
            daemon,
        };
        e.wait_api()?;
        Ok(e)
    }

    fn spawn(
        netns: &str,
        name: &str,
        config: &Path,
        socket: &Path,
        log: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<Daemon> {
        let bin = bin_dir()?.join("evpnd");
        let mut cmd = Command::new("ip");
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.args(["netns", "exec", netns])
            .arg(bin)
            .arg("-c")
            .arg(config)
            .arg("--socket")
            .arg(socket)
            .arg("--state-dir")
            .arg(config.with_extension("state"))
            .arg("-v")
            .args(args);
        Daemon::spawn(name, cmd, log.to_path_buf())
    }

    fn wait_api(&self) -> Result<()> {
        poll_until(
            &format!("{} API up", self.name),
            Duration::from_secs(10),
            Duration::from_millis(50),
            || Ok(self.ctl(&["show", "bgp", "summary"]).ok()),
        )
        .map(|_| ())
        .map_err(|e| anyhow!("{e:#}\n{}", self.daemon.log()))
    }

    /// `evpnctl --socket … --json ARGS…`, parsed. A reply with `"error"` is
    /// an `Err`.
    pub fn ctl(&self, args: &[&str]) -> Result<Value> {
        let out = Command::new(bin_dir()?.join("evpnctl"))
            .arg("--socket")
            .arg(&self.socket)
            .arg("--json")
            .args(["--timeout", "5"])
            .args(args)
            .output()
            .context("run evpnctl")?;
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            anyhow!(
                "evpnctl {args:?}: {e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        if let Some(err) = v.get("error") {
            bail!("evpnctl {args:?}: {err}");
        }
        Ok(v)
    }

    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// SIGKILL and start again with the same files (a crash and restart).
    pub fn restart_after_kill(&mut self) -> Result<()> {
        self.daemon.kill();
        self.daemon = Self::spawn(
            &self.netns,
            &self.name,
            &self.config,
            &self.socket,
            &self.log,
            &self.args,
            &self.env,
        )?;
        self.wait_api()
    }
}

// ---------------------------------------------------------------- FRR

/// zebra + bgpd of FRR inside a namespace. `-N <netns>` gives the instance
/// its own path space (`/var/run/frr/<netns>/`), so `vtysh -N <netns>`
/// talks to it. Both run in the foreground as our children.
#[derive(Debug)]
pub struct Frr {
    netns: String,
    dir: PathBuf,
    run_dir: PathBuf,
    bgpd_conf: PathBuf,
    // bgpd before zebra: dropped in this order.
    bgpd: Option<Daemon>,
    zebra: Daemon,
}

const FRR_DIR: &str = "/usr/lib/frr";

impl Frr {
    /// Start zebra and bgpd with `bgpd_conf` (an `frr.conf` fragment, e.g.
    /// `router bgp …`) and wait until bgpd answers vtysh.
    pub fn start(ns: &Netns, dir: &TestDir, bgpd_conf: &str) -> Result<Frr> {
        Self::start_with_zebra_args(ns, dir, bgpd_conf, &[])
    }

    /// [`Frr::start`] with more zebra arguments, e.g. `-s 90000000` (the
    /// netlink receive buffer Debian's `/etc/frr/daemons` gives zebra).
    pub fn start_with_zebra_args(
        ns: &Netns,
        dir: &TestDir,
        bgpd_conf: &str,
        zebra_args: &[&str],
    ) -> Result<Frr> {
        let name = ns.name();
        let run_dir = PathBuf::from(format!("/var/run/frr/{name}"));
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("create {}", run_dir.display()))?;
        run_ok(Command::new("chown").args(["frr:frr"]).arg(&run_dir))?;
        let zebra_conf = dir.write(&format!("{name}-zebra.conf"), "frr defaults datacenter\n")?;
        let bgpd_path = dir.write(&format!("{name}-bgpd.conf"), bgpd_conf)?;
        let zebra = frr_daemon(name, "zebra", &zebra_conf, dir.path(), zebra_args)?;
        poll_until(
            &format!("zebra in {name}"),
            Duration::from_secs(10),
            Duration::from_millis(50),
            || Ok(run_dir.join("zserv.api").exists().then_some(())),
        )?;
        let bgpd = frr_daemon(name, "bgpd", &bgpd_path, dir.path(), &[])?;
        let frr = Frr {
            netns: name.to_string(),
            dir: dir.path().to_path_buf(),
            run_dir,
            bgpd_conf: bgpd_path,
            bgpd: Some(bgpd),
            zebra,
        };
        frr.wait_bgpd()?;
        Ok(frr)
    }

    fn wait_bgpd(&self) -> Result<()> {
        poll_until(
            &format!("bgpd in {}", self.netns),
            Duration::from_secs(10),
            Duration::from_millis(100),
            || {
                Ok(self
                    .run_dir
                    .join("bgpd.vty")
                    .exists()
                    .then(|| self.vtysh("show bgp summary json").ok())
                    .flatten())
            },
        )?;
        Ok(())
    }

    /// What bgpd has logged so far (its log file in the test directory).
    pub fn bgpd_log(&self) -> String {
        let path = self.dir.join(format!("{}-bgpd.log", self.netns));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// `vtysh -N <netns> -c CMD`.
    pub fn vtysh(&self, cmd: &str) -> Result<String> {
        self.vtysh_lines(&[cmd])
    }

    /// `vtysh -N <netns> -c L1 -c L2 …` (e.g. `configure terminal`, …).
    pub fn vtysh_lines(&self, lines: &[&str]) -> Result<String> {
        let mut c = Command::new("vtysh");
        c.args(["-N", &self.netns]);
        for l in lines {
            c.args(["-c", l]);
        }
        let out = run_ok(&mut c)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `vtysh -c 'CMD'` parsed as JSON (CMD should end in `json`).
    pub fn vtysh_json(&self, cmd: &str) -> Result<Value> {
        let s = self.vtysh(cmd)?;
        serde_json::from_str(&s).map_err(|e| anyhow!("vtysh {cmd:?} in {}: {e}: {s}", self.netns))
    }

    /// Apply configuration lines under `configure terminal`.
    pub fn configure(&self, lines: &[&str]) -> Result<()> {
        let mut all = vec!["configure terminal"];
        all.extend_from_slice(lines);
        self.vtysh_lines(&all)?;
        Ok(())
    }

    /// bgpd alone: SIGKILL (zebra keeps running, as after a bgpd crash).
    pub fn kill_bgpd(&mut self) {
        if let Some(mut d) = self.bgpd.take() {
            d.kill();
        }
    }

    /// Start bgpd again, with `new_conf` if given (else the previous one).
    pub fn start_bgpd(&mut self, new_conf: Option<&str>) -> Result<()> {
        if let Some(c) = new_conf {
            std::fs::write(&self.bgpd_conf, c)
                .with_context(|| format!("write {}", self.bgpd_conf.display()))?;
        }
        let _ = std::fs::remove_file(self.run_dir.join("bgpd.pid"));
        self.bgpd = Some(frr_daemon(
            &self.netns,
            "bgpd",
            &self.bgpd_conf,
            &self.dir,
            &[],
        )?);
        self.wait_bgpd()
    }

    pub fn bgpd_daemon(&mut self) -> Option<&mut Daemon> {
        self.bgpd.as_mut()
    }

    /// Process id of zebra.
    pub fn zebra_pid(&self) -> Option<u32> {
        self.zebra.pid()
    }

    /// Process id of bgpd (while it runs).
    pub fn bgpd_pid(&self) -> Option<u32> {
        self.bgpd.as_ref().and_then(Daemon::pid)
    }
}

fn frr_daemon(netns: &str, which: &str, conf: &Path, dir: &Path, extra: &[&str]) -> Result<Daemon> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns])
        .arg(format!("{FRR_DIR}/{which}"))
        .args(["-N", netns, "-f"])
        .arg(conf)
        // No TCP vty: vtysh uses the Unix sockets in the path space.
        .args(["-P", "0", "--log", "stdout", "--log-level", "debug"])
        .args(extra);
    Daemon::spawn(
        &format!("{which}@{netns}"),
        cmd,
        dir.join(format!("{netns}-{which}.log")),
    )
}

impl Drop for Frr {
    fn drop(&mut self) {
        if let Some(mut b) = self.bgpd.take() {
            b.stop_with(libc::SIGTERM, Duration::from_secs(3));
        }
        self.zebra.stop_with(libc::SIGTERM, Duration::from_secs(3));
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

// ---------------------------------------------------------------- GoBGP

/// gobgpd inside a namespace with its gRPC API on `127.0.0.1:<api_port>`
/// of that namespace; the `gobgp` CLI runs inside it too.
#[derive(Debug)]
pub struct Gobgp {
    netns: String,
    pub api_port: u16,
    daemon: Daemon,
}

impl Gobgp {
    /// Start gobgpd with `toml` (a full gobgpd config) and wait for its API.
    pub fn start(ns: &Netns, dir: &TestDir, toml: &str, api_port: u16) -> Result<Gobgp> {
        Self::start_with_level(ns, dir, toml, api_port, "debug")
    }

    /// [`Gobgp::start`] with another log level (`info` for benchmarks:
    /// debug logging costs gobgpd a lot per route).
    pub fn start_with_level(
        ns: &Netns,
        dir: &TestDir,
        toml: &str,
        api_port: u16,
        level: &str,
    ) -> Result<Gobgp> {
        let name = ns.name();
        let conf = dir.write(&format!("{name}-gobgpd.toml"), toml)?;
        let mut cmd = ns.command("gobgpd");
        cmd.arg("-f")
            .arg(&conf)
            .args(["-t", "toml", "-p", "-l", level, "--pprof-disable"])
            .arg(format!("--api-hosts=127.0.0.1:{api_port}"));
        let daemon = Daemon::spawn(
            &format!("gobgpd@{name}"),
            cmd,
            dir.path().join(format!("{name}-gobgpd.log")),
        )?;
        let g = Gobgp {
            netns: name.to_string(),
            api_port,
            daemon,
        };
        poll_until(
            &format!("gobgpd in {name}"),
            Duration::from_secs(10),
            Duration::from_millis(100),
            || Ok(g.cli(&["global"]).ok()),
        )?;
        Ok(g)
    }

    /// `gobgp -p PORT ARGS…` inside the namespace.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &self.netns,
            "gobgp",
            "-p",
            &self.api_port.to_string(),
        ])
        .args(args);
        let out = run_ok(&mut c)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `gobgp -p PORT ARGS… -j`, parsed.
    pub fn cli_json(&self, args: &[&str]) -> Result<Value> {
        let mut a = args.to_vec();
        a.push("-j");
        let s = self.cli(&a)?;
        if s.trim().is_empty() || s.trim() == "null" {
            return Ok(Value::Null);
        }
        serde_json::from_str(&s).map_err(|e| anyhow!("gobgp {args:?}: {e}: {s}"))
    }

    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }
}
