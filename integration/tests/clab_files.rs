//! The containerlab files in `clab/`, run without a container engine: this
//! test plays containerlab's and docker's part with namespaces.
//!
//! Everything comes from the files themselves: `clab/evpnd.clab.yml` (read
//! with a YAML parser: nodes, kinds/defaults, images, binds, env, cmd,
//! entrypoint, exec, links and their MTUs), `clab/Dockerfile` (the final
//! stage: its packages, directories, COPYs and ENTRYPOINT) and the node
//! configs. Per node:
//! - a network namespace, and links as veth pairs with the file's names
//!   and MTUs (containerlab's default 9500 where none is given), created
//!   after the nodes started, as containerlab does;
//! - nodes of the Dockerfile's image (or of a Debian base image) run their
//!   ENTRYPOINT (`clab/entrypoint.sh`, unchanged) or their `entrypoint:`
//!   in a private mount and UTS namespace: hostname = node name, tmpfs on
//!   `/run` and `/usr/local/bin`, overlays on `/etc` and `/var` (nothing on
//!   the host changes), the image's files and the node's binds
//!   bind-mounted where the Dockerfile and the topology put them (evpnd and
//!   evpnctl are the ones the other tests build), the node's env, and a
//!   PATH with only the programs the image has: the base image's packages
//!   (Debian's Essential/required set, read from this Debian host) plus
//!   the Dockerfile's `apt-get install` list; a script that calls a program
//!   the image lacks fails here as it would in the container;
//! - the FRR node runs this host's zebra and bgpd with the bound frr.conf
//!   and the daemons file's zebra options;
//! - `exec:` commands run through a `docker` stand-in (`docker exec`:
//!   nsenter into the node's namespaces with the image's PATH), the same
//!   one `clab/migrate.sh` finds on its PATH (`docker inspect` answers the
//!   PID of the node's main process).
//!
//! Then what the demo promises: every BGP session up (evpnd's through
//! `evpnctl` inside the node, the core's through vtysh), every host pings
//! its gateway and every other host (bridged in a VNI across leaves, routed
//! between VNIs through the anycast gateway and the L3 VNI), the core has
//! the VM's /32 from its leaf; `clab/migrate.sh` moves the VM, the core's
//! /32 then comes from the new leaf and the VM still reaches every host.
//!
//! Not covered: building the image (no registry here) and containerlab's
//! own parsing; FRR is the host's (8.4) rather than the image's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration test: a failed setup step is a test failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

use integration::{bin_dir, poll_until, run_ok, skip_unless, veth, Daemon, Frr, Netns, TestDir};

/// containerlab's MTU for a link that sets none.
const CLAB_DEFAULT_MTU: u32 = 9500;
/// The node `clab/migrate.sh` moves (`clab-$lab-vm1`).
const VM: &str = "vm1";
/// Where a node may write: these are private to its mount namespace.
const PRIVATE: [&str; 4] = ["/etc/", "/var/", "/run/", "/usr/local/bin/"];
const SETTLE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);

// ------------------------------------------------------------ the files

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClabFile {
    name: String,
    topology: Topology,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Topology {
    #[serde(default)]
    defaults: NodeDef,
    #[serde(default)]
    kinds: BTreeMap<String, NodeDef>,
    nodes: BTreeMap<String, NodeDef>,
    #[serde(default)]
    links: Vec<LinkDef>,
}

/// The node fields this test emulates; any other field fails the parse,
/// so the file cannot grow a feature the test silently ignores.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeDef {
    kind: Option<String>,
    image: Option<String>,
    cmd: Option<String>,
    entrypoint: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    binds: Vec<String>,
    #[serde(default)]
    exec: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkDef {
    endpoints: [String; 2],
    mtu: Option<u32>,
}

#[derive(Debug)]
struct Bind {
    src: PathBuf,
    dst: String,
    ro: bool,
}

/// A node with defaults and its kind applied (node > kind > defaults).
#[derive(Debug)]
struct Node {
    name: String,
    image: String,
    cmd: Vec<String>,
    entrypoint: Option<Vec<String>>,
    env: BTreeMap<String, String>,
    binds: Vec<Bind>,
    exec: Vec<String>,
}

impl Node {
    fn bind_to(&self, dst: &str) -> Option<&Path> {
        self.binds
            .iter()
            .find(|b| b.dst == dst)
            .map(|b| b.src.as_path())
    }
}

fn words(s: &str) -> Result<Vec<String>> {
    if s.contains(['\'', '"', '\\', '$', '`', ';', '|', '&']) {
        bail!("{s:?}: quoting and shell syntax are not emulated");
    }
    Ok(s.split_whitespace().map(str::to_string).collect())
}

/// A link: (node, interface, node, interface, MTU).
type Link = (String, String, String, String, u32);

fn load_lab(file: &Path) -> Result<(String, Vec<Node>, Vec<Link>)> {
    let dir = file.parent().context("topology file's directory")?;
    let text = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
    let lab: ClabFile =
        yaml_serde::from_str(&text).with_context(|| format!("parse {}", file.display()))?;
    let t = &lab.topology;
    let mut nodes = Vec::new();
    for (name, n) in &t.nodes {
        let kind = n
            .kind
            .clone()
            .or_else(|| t.defaults.kind.clone())
            .unwrap_or_else(|| "linux".into());
        if kind != "linux" {
            bail!("{name}: kind {kind} is not emulated (only linux)");
        }
        let k = t.kinds.get(&kind).cloned().unwrap_or_default();
        let layers = [&t.defaults, &k, n];
        let pick = |f: fn(&NodeDef) -> Option<String>| layers.iter().rev().find_map(|l| f(l));
        let image = pick(|l| l.image.clone()).with_context(|| format!("{name}: no image"))?;
        let cmd = pick(|l| l.cmd.clone()).map(|c| words(&c)).transpose()?;
        let entrypoint = pick(|l| l.entrypoint.clone())
            .map(|c| words(&c))
            .transpose()?;
        let mut env = BTreeMap::new();
        let mut binds = Vec::new();
        let mut exec = Vec::new();
        for l in layers {
            env.extend(l.env.clone());
            exec.extend(l.exec.iter().cloned());
            for b in &l.binds {
                let parts: Vec<&str> = b.split(':').collect();
                let (src, dst, ro) = match parts[..] {
                    [s, d] => (s, d, false),
                    [s, d, "ro"] => (s, d, true),
                    [s, d, "rw"] => (s, d, false),
                    _ => bail!("{name}: bind {b:?} not understood"),
                };
                let src = dir.join(src);
                if !src.exists() {
                    bail!("{name}: bind source {} does not exist", src.display());
                }
                binds.push(Bind {
                    src,
                    dst: dst.to_string(),
                    ro,
                });
            }
        }
        nodes.push(Node {
            name: name.clone(),
            image,
            cmd: cmd.unwrap_or_default(),
            entrypoint,
            env,
            binds,
            exec,
        });
    }
    let mut links = Vec::new();
    for l in &t.links {
        let end = |e: &str| -> Result<(String, String)> {
            let (n, i) = e
                .split_once(':')
                .with_context(|| format!("link endpoint {e:?}"))?;
            if !t.nodes.contains_key(n) {
                bail!("link endpoint {e:?}: no node {n}");
            }
            Ok((n.to_string(), i.to_string()))
        };
        let (a, ai) = end(&l.endpoints[0])?;
        let (b, bi) = end(&l.endpoints[1])?;
        links.push((a, ai, b, bi, l.mtu.unwrap_or(CLAB_DEFAULT_MTU)));
    }
    Ok((lab.name, nodes, links))
}

/// What the Dockerfile's final stage puts into the image.
#[derive(Debug, Default)]
struct Image {
    base: String,
    packages: Vec<String>,
    dirs: Vec<String>,
    /// (file on this host, path in the image)
    files: Vec<(PathBuf, String)>,
    entrypoint: Vec<String>,
}

fn parse_dockerfile(path: &Path, root: &Path, bins: &Path) -> Result<Image> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let mut steps = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let l = line.trim();
        if cur.is_empty() && (l.is_empty() || l.starts_with('#')) {
            continue;
        }
        match l.strip_suffix('\\') {
            Some(part) => cur.push_str(&format!("{part} ")),
            None => {
                cur.push_str(l);
                steps.push(std::mem::take(&mut cur));
            }
        }
    }
    let mut img = Image::default();
    for step in steps {
        let (instr, rest) = step.split_once(' ').unwrap_or((&step, ""));
        let rest = rest.trim();
        match instr.to_ascii_uppercase().as_str() {
            "FROM" => {
                img = Image {
                    base: rest.split_whitespace().next().unwrap_or("").to_string(),
                    ..Image::default()
                }
            }
            "WORKDIR" => {}
            "RUN" => {
                for cmd in rest.split("&&") {
                    let w: Vec<&str> = cmd.split_whitespace().collect();
                    match w[..] {
                        ["apt-get", "update"] | ["rm", "-rf", "/var/lib/apt/lists/*"] => {}
                        ["apt-get", "install", ..] => img.packages.extend(
                            w[2..]
                                .iter()
                                .filter(|p| !p.starts_with('-'))
                                .map(|p| p.to_string()),
                        ),
                        ["mkdir", "-p", ..] => {
                            img.dirs.extend(w[2..].iter().map(|d| d.to_string()))
                        }
                        // The build stage's cargo build and installs.
                        _ if img.base.starts_with("rust:") => {}
                        _ => bail!("Dockerfile: RUN step {cmd:?} is not emulated"),
                    }
                }
            }
            "COPY" => {
                let mut w: Vec<&str> = rest.split_whitespace().collect();
                let from = w
                    .first()
                    .and_then(|f| f.strip_prefix("--from="))
                    .map(str::to_string);
                if from.is_some() {
                    w.remove(0);
                }
                let (dst, srcs) = w.split_last().context("COPY without arguments")?;
                for src in srcs {
                    let host = match &from {
                        // The build stage installs the release binaries
                        // to /out/NAME: here they are the test build's.
                        Some(_) => bins.join(
                            src.strip_prefix("/out/")
                                .with_context(|| format!("COPY --from source {src}"))?,
                        ),
                        None if img.base.starts_with("rust:") => continue,
                        None => root.join(src),
                    };
                    if !host.exists() {
                        bail!("Dockerfile: COPY source {} does not exist", host.display());
                    }
                    let to = if dst.ends_with('/') {
                        format!(
                            "{dst}{}",
                            Path::new(src).file_name().unwrap().to_string_lossy()
                        )
                    } else {
                        dst.to_string()
                    };
                    img.files.push((host, to));
                }
            }
            "ENTRYPOINT" => {
                img.entrypoint = serde_json::from_str(rest)
                    .with_context(|| format!("ENTRYPOINT {rest} (exec form expected)"))?
            }
            other => bail!("Dockerfile: {other} is not emulated"),
        }
    }
    Ok(img)
}

// ------------------------------------------------------------ images' programs

/// Programs in the given Debian packages (as installed on this host).
fn package_programs(packages: &[String]) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for p in packages {
        let o = Command::new("dpkg").args(["-L", p]).output()?;
        if !o.status.success() {
            println!("NOTE: package {p} is not installed here: its programs are missing in the emulated image");
            continue;
        }
        for f in String::from_utf8_lossy(&o.stdout).lines() {
            let f = Path::new(f);
            let in_bin = f
                .parent()
                .and_then(Path::to_str)
                .is_some_and(|d| ["/bin", "/sbin", "/usr/bin", "/usr/sbin"].contains(&d));
            if in_bin && f.exists() && !f.is_dir() {
                out.insert(
                    f.file_name().unwrap().to_string_lossy().into_owned(),
                    f.to_path_buf(),
                );
            }
        }
    }
    Ok(out)
}

/// A directory of links to the programs an image has: the base image's
/// (`debian:<codename>-slim`: the Essential and required packages of this
/// host, when it is that release) and `packages`. `None`: the host is
/// not the base image's release; the host's PATH is used.
fn image_path(
    dir: &TestDir,
    label: &str,
    base: &str,
    packages: &[String],
) -> Result<Option<PathBuf>> {
    let codename = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME=").map(str::to_string))
        .unwrap_or_default();
    if base != format!("debian:{codename}-slim") || codename.is_empty() {
        println!("NOTE: base image {base} is not this host's release ({codename:?}): {label} gets the host's PATH");
        return Ok(None);
    }
    let q = run_ok(Command::new("dpkg-query").args([
        "-W",
        "-f",
        "${Package} ${Essential} ${Priority} ${db:Status-Abbrev}\n",
    ]))?;
    let mut all: Vec<String> = String::from_utf8_lossy(&q.stdout)
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 4 && (w[1] == "yes" || w[2] == "required") && w[3] == "ii")
                .then(|| w[0].to_string())
        })
        .collect();
    all.extend(packages.iter().cloned());
    let bin = dir.path().join(format!("{label}-bin"));
    if bin.exists() {
        return Ok(Some(bin));
    }
    std::fs::create_dir_all(&bin)?;
    for (name, target) in package_programs(&all)? {
        std::os::unix::fs::symlink(&target, bin.join(name))?;
    }
    Ok(Some(bin))
}

// ------------------------------------------------------------ running nodes

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn private(path: &str) -> Result<()> {
    if PRIVATE.iter().any(|p| path.starts_with(p)) {
        Ok(())
    } else {
        bail!("{path} is outside the node's private directories {PRIVATE:?}")
    }
}

/// A running node: its namespace, main process (the container's PID 1) or
/// FRR, and the PATH `docker exec` gives.
#[derive(Debug)]
struct Container {
    node: Node,
    path: String,
    frr: Option<Frr>,
    main: Option<Daemon>,
    ns: Netns,
}

impl Container {
    fn pid(&self) -> u32 {
        self.main
            .as_ref()
            .and_then(Daemon::pid)
            .or_else(|| self.frr.as_ref().and_then(Frr::zebra_pid))
            .expect("a running node")
    }
}

/// Start a node of a Debian-based image: the script sets up the mount and
/// UTS namespace as the container runtime would and execs the entrypoint.
fn start_node(dir: &TestDir, node: Node, img: &Image, path: String) -> Result<Container> {
    let ns = Netns::new()?;
    let scratch = dir.path().join(format!("{}-root", node.name));
    std::fs::create_dir_all(&scratch)?;
    let mut s = String::from("set -eu\n");
    s += &format!(
        "S={}\nmount -t tmpfs -o mode=0755 clab-node \"$S\"\n",
        q(&scratch.to_string_lossy())
    );
    s += "for d in /etc /var; do\n  mkdir -p \"$S/upper$d\" \"$S/work$d\"\n  \
          mount -t overlay overlay -o \"lowerdir=$d,upperdir=$S/upper$d,workdir=$S/work$d\" \"$d\"\ndone\n";
    s += "mount -t tmpfs -o mode=0755 tmpfs /run\nmount -t tmpfs -o mode=0755 tmpfs /usr/local/bin\n";
    s += &format!("hostname {}\n", q(&node.name));
    for d in &img.dirs {
        private(&format!("{d}/"))?;
        s += &format!("mkdir -p {}\n", q(d));
    }
    let mut mounts: Vec<(&Path, &str, bool)> = img
        .files
        .iter()
        .map(|(h, i)| (h.as_path(), i.as_str(), false))
        .collect();
    mounts.extend(
        node.binds
            .iter()
            .map(|b| (b.src.as_path(), b.dst.as_str(), b.ro)),
    );
    for (src, dst, ro) in mounts {
        private(dst)?;
        let parent = Path::new(dst)
            .parent()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        s += &format!("mkdir -p {}\n", q(&parent));
        s += &if src.is_dir() {
            format!("mkdir -p {}\n", q(dst))
        } else {
            format!(": >{}\n", q(dst))
        };
        s += &format!("mount --bind {} {}\n", q(&src.to_string_lossy()), q(dst));
        if ro {
            s += &format!("mount -o remount,bind,ro {}\n", q(dst));
        }
    }
    let argv: Vec<String> = match &node.entrypoint {
        Some(e) => e.clone(),
        None => img.entrypoint.iter().chain(&node.cmd).cloned().collect(),
    };
    if argv.is_empty() {
        bail!("{}: no entrypoint", node.name);
    }
    s += &format!(
        "exec env -i PATH={} HOSTNAME={} HOME=/root",
        q(&path),
        q(&node.name)
    );
    for (k, v) in &node.env {
        s += &format!(" {}", q(&format!("{k}={v}")));
    }
    for a in &argv {
        s += &format!(" {}", q(a));
    }
    s.push('\n');
    let script = dir.write(&format!("{}-start.sh", node.name), &s)?;
    let mut cmd = ns.command("unshare");
    cmd.args(["--mount", "--uts", "--propagation", "private", "sh"])
        .arg(script);
    let main = Daemon::spawn(
        &node.name,
        cmd,
        dir.path().join(format!("{}.log", node.name)),
    )?;
    Ok(Container {
        node,
        path,
        frr: None,
        main: Some(main),
        ns,
    })
}

/// The FRR node: this host's zebra and bgpd with the bound frr.conf and
/// the zebra options of the bound daemons file.
fn start_frr(dir: &TestDir, node: Node) -> Result<Container> {
    let conf = node
        .bind_to("/etc/frr/frr.conf")
        .with_context(|| format!("{}: no /etc/frr/frr.conf bind", node.name))?;
    let conf = std::fs::read_to_string(conf)?;
    let mut zebra_args = Vec::new();
    for b in &node.binds {
        match b.dst.as_str() {
            "/etc/frr/frr.conf" => {}
            "/etc/frr/daemons" => {
                for l in std::fs::read_to_string(&b.src)?.lines() {
                    let Some((k, v)) = l.split_once('=') else {
                        continue;
                    };
                    let v = v.trim().trim_matches('"');
                    if k.ends_with('d') && v == "yes" && !["bgpd", "zebra"].contains(&k) {
                        bail!(
                            "{}: daemon {k} enabled; this test runs zebra and bgpd",
                            node.name
                        );
                    }
                    if k == "bgpd" && v != "yes" {
                        bail!("{}: bgpd not enabled in the daemons file", node.name);
                    }
                    if k == "zebra_options" {
                        zebra_args.extend(v.split_whitespace().map(str::to_string));
                    }
                }
            }
            other => bail!("{}: bind to {other} is not emulated", node.name),
        }
    }
    let ns = Netns::new()?;
    let args: Vec<&str> = zebra_args.iter().map(String::as_str).collect();
    let frr = Frr::start_with_zebra_args(&ns, dir, &conf, &args)?;
    Ok(Container {
        node,
        path: std::env::var("PATH").unwrap_or_default(),
        frr: Some(frr),
        main: None,
        ns,
    })
}

/// A `docker` for `clab/migrate.sh` and for the `exec:` commands: `inspect
/// -f '{{.State.Pid}}' NAME` and `exec NAME CMD…` (nsenter into the node's
/// network, mount and UTS namespaces, with the image's PATH).
fn docker_shim(dir: &TestDir, lab: &str, nodes: &[Container]) -> Result<PathBuf> {
    let bin = dir.path().join("shim");
    std::fs::create_dir_all(&bin)?;
    let map: String = nodes
        .iter()
        .map(|c| format!("clab-{lab}-{} {} {}\n", c.node.name, c.pid(), c.path))
        .collect();
    let map = dir.write("containers", &map)?;
    let script = format!(
        r#"#!/bin/sh
# docker stand-in written by integration/tests/clab_files.rs
set -eu
lookup() {{
  while read -r n p path; do [ "$n" = "$1" ] && {{ echo "$p $path"; return 0; }}; done <{map}
  echo "Error: No such container: $1" >&2; exit 1
}}
case "${{1:-}}" in
inspect)
  [ "$#" -eq 4 ] && [ "$2" = -f ] && [ "$3" = '{{{{.State.Pid}}}}' ] || {{ echo "docker stand-in: unsupported: $*" >&2; exit 2; }}
  r=$(lookup "$4"); echo "${{r%% *}}" ;;
exec)
  case "${{2:-}}" in -*|'') echo "docker stand-in: unsupported: $*" >&2; exit 2 ;; esac
  r=$(lookup "$2"); shift 2
  exec nsenter -t "${{r%% *}}" -n -m -u -- env -i PATH="${{r#* }}" HOME=/root "$@" ;;
*) echo "docker stand-in: unsupported: $*" >&2; exit 2 ;;
esac
"#,
        map = q(&map.to_string_lossy())
    );
    let docker = bin.join("docker");
    std::fs::write(&docker, script)?;
    run_ok(Command::new("chmod").arg("755").arg(&docker))?;
    Ok(bin)
}

struct Lab {
    name: String,
    shim: PathBuf,
}

impl Lab {
    /// `docker exec clab-LAB-NODE ARGS…` with a time bound.
    fn exec(&self, node: &str, args: &[&str]) -> Result<Output> {
        let mut c = Command::new("timeout");
        c.arg("20")
            .arg(self.shim.join("docker"))
            .arg("exec")
            .arg(format!("clab-{}-{node}", self.name));
        c.args(args);
        run_ok(&mut c)
    }

    fn evpnctl(&self, node: &str, args: &[&str]) -> Result<Value> {
        let mut a = vec!["evpnctl", "--json", "--timeout", "5"];
        a.extend_from_slice(args);
        let out = self.exec(node, &a)?;
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            anyhow!(
                "evpnctl {args:?} in {node}: {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })?;
        if let Some(err) = v.get("error") {
            bail!("evpnctl {args:?} in {node}: {err}");
        }
        Ok(v)
    }

    fn ping(&self, from: &str, to: &str) -> Result<()> {
        poll_until(&format!("{from} pings {to}"), SETTLE, POLL, || {
            Ok(self
                .exec(from, &["ping", "-c", "1", "-W", "1", to])
                .ok()
                .map(|_| ()))
        })
    }
}

/// evpnd's peers in `show bgp summary`: (peer, state).
fn evpnd_peers(v: &Value) -> Vec<(String, String)> {
    v["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["peer"].as_str().unwrap_or_default().to_string(),
                p["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Next hops of `prefix` in the core's BGP table.
fn core_next_hops(frr: &Frr, prefix: &str) -> Result<Vec<String>> {
    let v = frr.vtysh_json("show bgp ipv4 unicast json")?;
    let mut out: Vec<String> = v
        .pointer(&format!("/routes/{}", prefix.replace('/', "~1")))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|p| p["nexthops"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n["ip"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// A host's address and gateway from its `exec:` commands.
fn host_addressing(node: &Node) -> Option<(String, String)> {
    let mut ip = None;
    let mut gw = None;
    for e in &node.exec {
        let w: Vec<&str> = e.split_whitespace().collect();
        match w[..] {
            ["ip", "addr", "add", cidr, ..] => ip = cidr.split('/').next().map(str::to_string),
            ["ip", "route", "add" | "replace", "default", "via", g, ..] => gw = Some(g.to_string()),
            _ => {}
        }
    }
    Some((ip?, gw?))
}

fn evpnd_config(node: &Node) -> Option<toml::Table> {
    let p = node.bind_to("/etc/evpnd/evpnd.toml")?;
    std::fs::read_to_string(p).ok()?.parse().ok()
}

// ------------------------------------------------------------ the test

#[test]
fn clab_topology_runs_in_namespaces() {
    if skip_unless(
        true,
        &[
            "unshare",
            "nsenter",
            "timeout",
            "ping",
            "vtysh",
            "/usr/lib/frr/bgpd",
            "/usr/lib/frr/zebra",
        ],
    ) {
        return;
    }
    let t0 = Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let clab = root.join("clab");
    let dir = TestDir::new("clab").unwrap();
    let bins = bin_dir().unwrap();
    let (lab, nodes, links) = load_lab(&clab.join("evpnd.clab.yml")).unwrap();
    let image = parse_dockerfile(&clab.join("Dockerfile"), &root, &bins).unwrap();
    // The image the Dockerfile's build command (its header) tags.
    let dockerfile = std::fs::read_to_string(clab.join("Dockerfile")).unwrap();
    let own_image = dockerfile
        .lines()
        .find_map(|l| l.split_once("docker build ").map(|(_, r)| r))
        .and_then(|r| r.split_whitespace().skip_while(|w| *w != "-t").nth(1))
        .expect("a `docker build … -t IMAGE` line in the Dockerfile")
        .to_string();
    assert!(
        nodes.iter().any(|n| n.image == own_image),
        "no node runs {own_image}"
    );

    // Every interface of an evpnd node is waited for before its setup
    // script and port enslaving run (containerlab adds links after start).
    for n in nodes
        .iter()
        .filter(|n| n.image == own_image && n.entrypoint.is_none())
    {
        let mut have: Vec<&str> = links
            .iter()
            .flat_map(|(a, ai, b, bi, _)| [(a, ai), (b, bi)])
            .filter(|(x, _)| *x == &n.name)
            .map(|(_, i)| i.as_str())
            .collect();
        have.sort();
        let mut waited: Vec<&str> = n
            .env
            .get("EVPND_WAIT_IFACES")
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        waited.sort();
        assert_eq!(waited, have, "{}: EVPND_WAIT_IFACES vs its links", n.name);
    }

    // The nodes, then the links, then the exec commands (containerlab's order).
    let no_image = Image::default();
    let mut containers: Vec<Container> = Vec::new();
    for n in nodes {
        let label = n.name.clone();
        let c = if n.image.starts_with("quay.io/frrouting/frr") {
            start_frr(&dir, n)
        } else {
            let (img, base, pkgs) = if n.image == own_image {
                (&image, image.base.clone(), image.packages.clone())
            } else if n.image.starts_with("debian:") {
                (&no_image, n.image.clone(), Vec::new())
            } else {
                panic!("{}: image {} is not emulated", n.name, n.image);
            };
            let path =
                match image_path(&dir, &n.image.replace([':', '/'], "_"), &base, &pkgs).unwrap() {
                    Some(p) => format!("/usr/local/sbin:/usr/local/bin:{}", p.display()),
                    None => std::env::var("PATH").unwrap_or_default(),
                };
            start_node(&dir, n, img, path)
        };
        containers.push(c.with_context(|| format!("start {label}")).unwrap());
    }
    let ns_of = |name: &str| &containers.iter().find(|c| c.node.name == name).unwrap().ns;
    for (a, ai, b, bi, mtu) in &links {
        veth(ns_of(a), ai, &[], ns_of(b), bi, &[], *mtu).unwrap();
    }
    let lab = Lab {
        shim: docker_shim(&dir, &lab, &containers).unwrap(),
        name: lab,
    };
    for c in &containers {
        for e in &c.node.exec {
            let w = words(e).unwrap();
            let w: Vec<&str> = w.iter().map(String::as_str).collect();
            lab.exec(&c.node.name, &w)
                .with_context(|| format!("{}: exec {e:?}", c.node.name))
                .unwrap();
        }
    }
    println!(
        "lab {} up (processes, links, exec) in {:.1?}",
        lab.name,
        t0.elapsed()
    );

    // Roles, from the configs: evpnd nodes with VNIs are leaves.
    let evpnd: Vec<(&Container, toml::Table)> = containers
        .iter()
        .filter(|c| c.main.is_some() && c.node.entrypoint.is_none())
        .map(|c| (c, evpnd_config(&c.node).expect("evpnd.toml bind")))
        .collect();
    let router_id = |name: &str| -> String {
        let (_, cfg) = evpnd.iter().find(|(c, _)| c.node.name == name).unwrap();
        cfg["router_id"].as_str().unwrap().to_string()
    };
    let leaves: Vec<&str> = evpnd
        .iter()
        .filter(|(_, cfg)| cfg.contains_key("vni"))
        .map(|(c, _)| c.node.name.as_str())
        .collect();
    let hosts: Vec<(&str, String, String)> = containers
        .iter()
        .filter(|c| c.node.entrypoint.is_some())
        .filter_map(|c| host_addressing(&c.node).map(|(ip, gw)| (c.node.name.as_str(), ip, gw)))
        .collect();
    let core = containers
        .iter()
        .find_map(|c| c.frr.as_ref())
        .expect("an FRR node");
    assert!(leaves.len() >= 2, "leaves: {leaves:?}");
    assert!(hosts.iter().any(|h| h.0 == VM), "hosts: {hosts:?}");

    // BGP: every session of every evpnd node Established; a node with a
    // dynamic neighbor range (the spine) has one session per leaf.
    for (c, cfg) in &evpnd {
        let name = c.node.name.as_str();
        let neighbors = cfg["neighbor"].as_array().unwrap();
        let fixed: BTreeSet<String> = neighbors
            .iter()
            .filter_map(|n| {
                n.get("address")
                    .and_then(|a| a.as_str())
                    .map(str::to_string)
            })
            .collect();
        let dynamic = neighbors.iter().any(|n| n.get("range").is_some());
        let want = fixed.len()
            + if dynamic {
                leaves.iter().filter(|l| **l != name).count()
            } else {
                0
            };
        let v = poll_until(
            &format!("{name}: {want} sessions established"),
            SETTLE,
            POLL,
            || {
                let v = lab.evpnctl(name, &["show", "bgp", "summary"])?;
                let p = evpnd_peers(&v);
                let up = p.iter().filter(|(_, s)| s == "established").count();
                let named = fixed
                    .iter()
                    .all(|a| p.iter().any(|(x, s)| x == a && s == "established"));
                Ok((up == want && p.len() == want && named).then_some(v))
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}\n{}", c.main.as_ref().unwrap().log()));
        println!("{name}: {:?}", evpnd_peers(&v));
    }
    let core_peers =
        poll_until("the core's sessions established", SETTLE, POLL, || {
            let v = core.vtysh_json("show bgp ipv4 unicast summary json")?;
            let peers = v["peers"].as_object().cloned().unwrap_or_default();
            let up = peers.values().all(|p| p["state"] == "Established");
            Ok((up && peers.len() == leaves.len())
                .then_some(peers.keys().cloned().collect::<Vec<_>>()))
        })
        .unwrap_or_else(|e| panic!("{e:#}\n{}", core.bgpd_log()));
    println!(
        "core: established with {core_peers:?} ({:.1?})",
        t0.elapsed()
    );

    // Data plane: every host reaches its gateway and every other host.
    for (h, _, gw) in &hosts {
        lab.ping(h, gw).unwrap();
    }
    for (h, _, _) in &hosts {
        for (other, ip, _) in &hosts {
            if h != other {
                lab.ping(h, ip).unwrap();
            }
        }
    }
    println!(
        "{} hosts ping their gateways and each other ({:.1?})",
        hosts.len(),
        t0.elapsed()
    );

    // The core has the VM's /32 from the VM's leaf.
    let vm_ip = hosts.iter().find(|h| h.0 == VM).unwrap().1.clone();
    let vm_prefix = format!("{vm_ip}/32");
    let (from, port) = links
        .iter()
        .find_map(|(a, ai, b, _, _)| (b == VM).then(|| (a.clone(), ai.clone())))
        .expect("the VM's link");
    let core_has = |leaf: &str| {
        let want = vec![router_id(leaf)];
        poll_until(
            &format!("core: {vm_prefix} via {leaf} only"),
            SETTLE,
            POLL,
            || Ok((core_next_hops(core, &vm_prefix)? == want).then_some(())),
        )
        .unwrap_or_else(|e| {
            panic!(
                "{e:#}\n{}",
                core.vtysh("show bgp ipv4 unicast").unwrap_or_default()
            )
        })
    };
    core_has(&from);

    // clab/migrate.sh moves the VM's link to another leaf and back (the
    // port is eth2 on the first move, vm1 later), with the docker
    // stand-in on its PATH.
    let to = leaves
        .iter()
        .rev()
        .find(|l| **l != from)
        .unwrap()
        .to_string();
    let path = format!(
        "{}:{}",
        lab.shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (a, b) in [(&from, &to), (&to, &from)] {
        println!("clab/migrate.sh {a} {b} (VM port {from}:{port} at first)");
        let moved = Instant::now();
        let out = run_ok(
            Command::new("timeout")
                .arg("60")
                .arg(clab.join("migrate.sh"))
                .args([a, b])
                .env("PATH", &path)
                .env_remove("LAB"),
        )
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        println!("{text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(&format!("moved {a} -> {b}")), "{text}");
        core_has(b);
        println!(
            "core: {vm_prefix} via {b} {:.1?} after migrate.sh started",
            moved.elapsed()
        );
        for (other, ip, _) in &hosts {
            if *other != VM {
                lab.ping(VM, ip).unwrap();
            }
        }
        // What `evpnctl trace` (migrate.sh's hint) says on the new leaf.
        let v = lab.evpnctl(b, &["trace", &vm_ip]).unwrap();
        let h = &v["hosts"][0];
        assert_eq!(
            (h["location"].as_str(), h["port"].as_str()),
            (Some("local"), Some("vm1")),
            "{v}"
        );
    }
    println!("clab files: all checks passed in {:.1?}", t0.elapsed());
}
