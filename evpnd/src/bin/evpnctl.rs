//! `evpnctl`: a thin client of evpnd's JSON API.
//!
//! ```text
//! evpnctl [--socket PATH] [--json] show bgp summary
//! evpnctl show bgp neighbors [PEER]
//! evpnctl show bgp routes --afi evpn|ipv4|ipv6 [--type N] [--rd RD] [--vni N] [--mac MAC] [--prefix P] [--peer IP]
//! evpnctl route add|del evpn mac-ip --rd RD --mac MAC [--ip IP] --vni N [--rt RT]... [--next-hop IP]
//! evpnctl route add|del evpn imet   --rd RD --ip VTEP [--vni N] [--rt RT]...
//! evpnctl route add|del evpn prefix --rd RD --prefix P --vni N [--gateway IP] [--router-mac MAC] [--rt RT]...
//! evpnctl route add|del ipv4|ipv6 --prefix P [--next-hop IP]
//! evpnctl show evpn mac [--vni N] [--mac MAC]
//! evpnctl show evpn vni
//! evpnctl show evpn dad
//! evpnctl clear dad [--vni N] [--mac MAC]
//! evpnctl clear bgp PEER [--graceful | --soft in|out]
//! evpnctl trace MAC|IP
//! evpnctl reload
//! evpnctl decode --hex FILE|- | --pcap FILE [--local-as N] [--peer-as N] [--no-as4]
//!                [--families F,..] [--add-path F,..]
//! ```
//! Human tables by default; `--json` prints the daemon's reply as it is.
//! `decode` works offline (no daemon): it decodes BGP messages from a hex
//! dump or a packet capture (docs/decode.md).

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use std::net::IpAddr;

use evpn_proto::message::FamilySet;
use evpn_proto::Family;
use evpnd::api::{
    ApiFamily, EvpnDad, EvpnMacs, Neighbors, Request, RouteQuery, RouteSpec, Routes, Summary,
};
use evpnd::decode::render::{message_json_line, message_text, Endpoints, SessionView};
use evpnd::decode::session::{Overrides, SessionTracker};
use evpnd::decode::{hex, pcap};
use serde_json::Value;

#[derive(Debug, Parser)]
#[command(name = "evpnctl", version, about = "Query and steer a running evpnd")]
struct Cli {
    /// evpnd's API socket.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "/run/evpnd/evpnd.sock"
    )]
    socket: PathBuf,
    /// Print the raw JSON reply.
    #[arg(long, global = true)]
    json: bool,
    /// Give up waiting for the daemon after this many seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 10)]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show state.
    #[command(subcommand)]
    Show(Show),
    /// Originate or withdraw a route by hand.
    #[command(subcommand)]
    Route(RouteCmd),
    /// Re-read the config file and apply the difference.
    Reload,
    /// Reset state.
    #[command(subcommand)]
    Clear(Clear),
    /// Where a host lives: local or remote, VTEP, sequence number, routes.
    Trace {
        /// A MAC or an IP address.
        target: String,
    },
    /// Decode BGP messages from a hex dump or a packet capture (offline).
    Decode(DecodeArgs),
}

/// `evpnctl decode`: the input, and the session context the decoder needs
/// (for a capture, taken from its OPENs unless given here).
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["hex", "pcap"])))]
struct DecodeArgs {
    /// Hex dump, one message per line (spaces allowed, `#` comments and
    /// blank lines skipped); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    hex: Option<PathBuf>,
    /// pcap or pcapng capture: every TCP port-179 stream, both directions.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Our AS (eBGP when it differs from --peer-as; default iBGP).
    #[arg(long, value_name = "N")]
    local_as: Option<u32>,
    /// The peer's AS; an OPEN from another AS is a Bad Peer AS error.
    #[arg(long, value_name = "N")]
    peer_as: Option<u32>,
    /// 2-octet AS numbers (default: 4-octet AS negotiated).
    #[arg(long)]
    no_as4: bool,
    /// Negotiated families, comma-separated: evpn,ipv4,ipv6 (default all).
    #[arg(long, value_name = "FAMILIES", value_parser = parse_families)]
    families: Option<FamilySet>,
    /// Families whose NLRI carry ADD-PATH path ids (RFC 7911), or `none`
    /// (default: none for --hex, from the OPENs for --pcap).
    #[arg(long, value_name = "FAMILIES", value_parser = parse_families)]
    add_path: Option<FamilySet>,
}

/// `evpn,ipv4,ipv6` (any subset, any order) or `none`.
fn parse_families(s: &str) -> Result<FamilySet, String> {
    if s.trim() == "none" {
        return Ok(FamilySet::EMPTY);
    }
    s.split(',')
        .map(|f| f.trim().parse::<Family>())
        .collect::<Result<FamilySet, String>>()
}

#[derive(Debug, Subcommand)]
enum Show {
    #[command(subcommand)]
    Bgp(ShowBgp),
    #[command(subcommand)]
    Evpn(ShowEvpn),
}

#[derive(Debug, Subcommand)]
enum ShowEvpn {
    /// MACs per VNI: local port or remote VTEP, sequence number, IPs.
    Mac {
        #[arg(long)]
        vni: Option<u32>,
        #[arg(long)]
        mac: Option<String>,
    },
    /// L2 and L3 VNIs: RD, route targets, flood list, counts.
    Vni,
    /// Duplicate address detection: recent moves and frozen MACs.
    Dad,
}

#[derive(Debug, Subcommand)]
enum Clear {
    /// Reset a BGP session (Cease / Administrative Reset; a Hard Reset,
    /// RFC 8538, unless --graceful).
    Bgp {
        /// The neighbor's address.
        peer: IpAddr,
        /// Plain Administrative Reset: with the N bit negotiated both
        /// sides keep the routes stale until End-of-RIB.
        #[arg(long, conflicts_with = "soft")]
        graceful: bool,
        /// Keep the session: `in` sends a ROUTE-REFRESH request, `out`
        /// sends our routes again (BoRR/EoRR framed, RFC 7313).
        #[arg(long, value_enum)]
        soft: Option<Soft>,
    },
    /// Unfreeze duplicate MACs (all, or one VNI / one MAC).
    Dad {
        #[arg(long)]
        vni: Option<u32>,
        #[arg(long)]
        mac: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Soft {
    In,
    Out,
}

#[derive(Debug, Subcommand)]
enum ShowBgp {
    /// One line per neighbor: state, uptime, prefixes received/sent.
    Summary,
    /// Neighbor details (one or all).
    Neighbors {
        /// The neighbor's address.
        peer: Option<IpAddr>,
    },
    /// Loc-RIB routes of one address family.
    Routes(RoutesArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Afi {
    Evpn,
    Ipv4,
    Ipv6,
}

impl Afi {
    fn api(self) -> ApiFamily {
        match self {
            Afi::Evpn => ApiFamily::Evpn,
            Afi::Ipv4 => ApiFamily::Ipv4,
            Afi::Ipv6 => ApiFamily::Ipv6,
        }
    }
}

#[derive(Debug, Args)]
struct RoutesArgs {
    #[arg(long, value_enum, default_value = "evpn")]
    afi: Afi,
    /// EVPN route type (1-5).
    #[arg(long = "type", value_name = "N")]
    route_type: Option<u8>,
    #[arg(long)]
    rd: Option<String>,
    #[arg(long)]
    mac: Option<String>,
    /// Unicast or RT-5 prefix, or an RT-2 IP.
    #[arg(long)]
    prefix: Option<String>,
    /// Only paths from this neighbor.
    #[arg(long)]
    peer: Option<IpAddr>,
    /// The peer's Adj-RIB-In as received (with --peer), incl. non-best paths.
    #[arg(long)]
    received: bool,
    /// What we advertise to --peer (its Adj-RIB-Out).
    #[arg(long)]
    advertised: bool,
    /// At most this many rows.
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum RouteCmd {
    #[command(subcommand)]
    Add(RouteSpecArgs),
    #[command(subcommand)]
    Del(RouteSpecArgs),
}

#[derive(Debug, Subcommand)]
enum RouteSpecArgs {
    #[command(subcommand)]
    Evpn(EvpnRoute),
    Ipv4(UnicastRoute),
    Ipv6(UnicastRoute),
}

#[derive(Debug, Subcommand)]
enum EvpnRoute {
    /// RT-2 MAC/IP Advertisement (RFC 7432 §7.2).
    MacIp {
        #[arg(long)]
        rd: String,
        #[arg(long)]
        mac: String,
        #[arg(long)]
        ip: Option<IpAddr>,
        /// L2 VNI (label 1).
        #[arg(long)]
        vni: u32,
        /// L3 VNI (label 2, symmetric IRB, RFC 9135).
        #[arg(long)]
        l3vni: Option<u32>,
        #[arg(long)]
        esi: Option<String>,
        /// MAC Mobility sequence number (RFC 7432 §7.7).
        #[arg(long)]
        seq: Option<u32>,
        #[arg(long)]
        sticky: bool,
        #[arg(long)]
        router_mac: Option<String>,
        /// Default-gateway extended community.
        #[arg(long)]
        default_gateway: bool,
        #[command(flatten)]
        common: EvpnCommon,
    },
    /// RT-3 Inclusive Multicast Ethernet Tag (RFC 7432 §7.3).
    Imet {
        #[arg(long)]
        rd: String,
        /// The originating router's IP (defaults to the next hop).
        #[arg(long)]
        originator: Option<IpAddr>,
        #[arg(long)]
        vni: Option<u32>,
        #[command(flatten)]
        common: EvpnCommon,
    },
    /// RT-5 IP Prefix (RFC 9136).
    Prefix {
        #[arg(long)]
        rd: String,
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        vni: u32,
        #[arg(long)]
        gateway: Option<IpAddr>,
        #[arg(long)]
        router_mac: Option<String>,
        #[arg(long)]
        esi: Option<String>,
        #[command(flatten)]
        common: EvpnCommon,
    },
}

/// Attributes any route may carry.
#[derive(Debug, Args)]
struct Attrs {
    /// Next hop (the VTEP for EVPN); defaults to the daemon's router id.
    #[arg(long)]
    next_hop: Option<IpAddr>,
    #[arg(long)]
    local_pref: Option<u32>,
    #[arg(long)]
    med: Option<u32>,
    /// Extra AS_PATH entries (comma-separated).
    #[arg(long, value_delimiter = ',')]
    as_path: Vec<u32>,
    /// Standard communities `ASN:N` (repeat or comma-separate).
    #[arg(long = "community", value_delimiter = ',')]
    communities: Vec<String>,
}

#[derive(Debug, Args)]
struct EvpnCommon {
    /// Route targets `ASN:N` / `IP:N` (repeat or comma-separate).
    #[arg(long = "rt", value_name = "RT", value_delimiter = ',')]
    rts: Vec<String>,
    /// Ethernet tag.
    #[arg(long, default_value_t = 0)]
    etag: u32,
    #[command(flatten)]
    attrs: Attrs,
}

#[derive(Debug, Args)]
struct UnicastRoute {
    #[arg(long)]
    prefix: String,
    #[command(flatten)]
    attrs: Attrs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("evpnctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode> {
    let request = match (&cli.command, request_for(&cli.command)) {
        (Command::Decode(args), _) => return decode(args, cli.json),
        (_, Some(r)) => serde_json::to_value(r)?,
        (_, None) => bail!("no daemon request for this command"),
    };
    let reply = call(&cli.socket, &request, Duration::from_secs(cli.timeout))?;
    let failed = reply.get("error").is_some();
    if cli.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&reply)?))?;
    } else if let Some(e) = reply.get("error") {
        eprintln!(
            "evpnctl: {}",
            e.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string())
        );
        if let Some(errors) = reply.get("errors").and_then(Value::as_array) {
            for e in errors {
                eprintln!("  {}", e.as_str().unwrap_or_default());
            }
        }
    } else {
        emit(&render(&cli.command, &reply))?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Print to stdout; a closed pipe (`evpnctl … | head`) is not an error.
fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("write to stdout"),
        _ => Ok(()),
    }
}

/// One request line out, one reply line back.
fn call(socket: &Path, request: &Value, timeout: Duration) -> Result<Value> {
    let stream =
        UnixStream::connect(socket).with_context(|| format!("connect to {}", socket.display()))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    (&stream)
        .write_all(&line)
        .with_context(|| format!("send to {}", socket.display()))?;
    let mut reply = String::new();
    BufReader::new(&stream)
        .read_line(&mut reply)
        .with_context(|| format!("read reply from {}", socket.display()))?;
    if reply.is_empty() {
        bail!("{} closed without a reply", socket.display());
    }
    serde_json::from_str(&reply)
        .map_err(|e| anyhow!("reply from {} is not JSON: {e}", socket.display()))
}

/// The API request of a daemon command; `None` for `decode` (offline).
fn request_for(cmd: &Command) -> Option<Request> {
    Some(match cmd {
        Command::Show(Show::Bgp(ShowBgp::Summary)) => Request::ShowBgpSummary,
        Command::Show(Show::Bgp(ShowBgp::Neighbors { peer })) => {
            Request::ShowBgpNeighbors { peer: *peer }
        }
        Command::Show(Show::Bgp(ShowBgp::Routes(r))) => Request::ShowBgpRoutes(RouteQuery {
            family: Some(r.afi.api()),
            route_type: r.route_type,
            rd: r.rd.clone(),
            mac: r.mac.clone(),
            prefix: r.prefix.clone(),
            peer: r.peer,
            received: r.received,
            advertised: r.advertised,
            limit: r.limit,
        }),
        Command::Route(RouteCmd::Add(spec)) => Request::RouteAdd(route_spec(spec)),
        Command::Route(RouteCmd::Del(spec)) => Request::RouteDel(route_spec(spec)),
        Command::Reload => Request::Reload,
        Command::Show(Show::Evpn(ShowEvpn::Mac { vni, mac })) => Request::ShowEvpnMac {
            vni: *vni,
            mac: mac.clone(),
        },
        Command::Show(Show::Evpn(ShowEvpn::Vni)) => Request::ShowEvpnVni,
        Command::Show(Show::Evpn(ShowEvpn::Dad)) => Request::ShowEvpnDad,
        Command::Clear(Clear::Bgp {
            peer,
            graceful,
            soft,
        }) => Request::ClearBgp {
            peer: *peer,
            graceful: *graceful,
            soft: soft.map(|s| match s {
                Soft::In => evpnd::api::SoftClear::In,
                Soft::Out => evpnd::api::SoftClear::Out,
            }),
        },
        Command::Clear(Clear::Dad { vni, mac }) => Request::ClearDad {
            vni: *vni,
            mac: mac.clone(),
        },
        Command::Trace { target } => Request::Trace {
            target: target.clone(),
        },
        Command::Decode(_) => return None,
    })
}

// --- decode -------------------------------------------------------------------

/// Decode every message of the input to stdout (one JSON object per line
/// with `--json`). Input problems (unreadable file, bad hex line, truncated
/// capture, broken TCP stream) go to stderr naming the file and the line or
/// frame; decoding carries on, and the exit status is then non-zero. A
/// malformed BGP message is not an input problem: it is decoded into its
/// error and verdict.
fn decode(args: &DecodeArgs, json: bool) -> Result<ExitCode> {
    let overrides = Overrides {
        local_as: args.local_as,
        peer_as: args.peer_as,
        no_as4: args.no_as4,
        families: args.families,
        add_path: args.add_path,
    };
    let mut out = Output::new(json);
    let mut problems = Vec::new();
    if let Some(path) = &args.hex {
        let (name, text) = read_text(path)?;
        let view = overrides.view();
        for line in hex::parse_hex_lines(&text) {
            match line {
                Ok(bytes) => out.message(&bytes, None, &view)?,
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
    } else if let Some(path) = &args.pcap {
        let name = path.display();
        let capture = pcap::read_file(path).map_err(|e| match e {
            pcap::ReadError::Io { .. } => anyhow!("{e}"),
            e => anyhow!("{name}: {e}"),
        })?;
        let mut tracker = SessionTracker::new(overrides);
        for m in &capture.messages {
            let view = tracker.view_for(m.src, m.dst, &m.bytes);
            let ends = Endpoints {
                src: m.src,
                dst: m.dst,
            };
            out.message(&m.bytes, Some(ends), &view)?;
        }
        if let Some(n) = capture.stats.truncated_record {
            problems.push(format!(
                "{name}: frame {n}: the file ends inside this record (capture cut short)"
            ));
        }
        for e in &capture.errors {
            problems.push(format!("{name}: {e}"));
        }
        let unparsed =
            capture.stats.malformed_packets - u64::from(capture.stats.truncated_record.is_some());
        if unparsed > 0 {
            eprintln!("evpnctl: decode: {name}: warning: {unparsed} record(s) with headers that do not parse were skipped");
        }
    }
    out.finish()?;
    for p in &problems {
        eprintln!("evpnctl: decode: {p}");
    }
    if problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("{} input problem(s), see above", problems.len())
    }
}

/// A text file, or standard input for `-`, with the name to report.
fn read_text(path: &Path) -> Result<(String, String)> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read standard input")?;
        return Ok(("<stdin>".into(), s));
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

/// Buffered stdout; once the reader goes away (`| head`) output stops
/// quietly.
struct Output {
    json: bool,
    w: BufWriter<std::io::Stdout>,
    closed: bool,
}

impl Output {
    fn new(json: bool) -> Output {
        Output {
            json,
            w: BufWriter::new(std::io::stdout()),
            closed: false,
        }
    }

    fn message(&mut self, bytes: &[u8], ends: Option<Endpoints>, view: &SessionView) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let text = if self.json {
            let mut line = message_json_line(bytes, ends, view);
            line.push('\n');
            line
        } else {
            message_text(bytes, ends, view)
        };
        self.write(text.as_bytes())
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        match self.w.write_all(b) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => r.context("write to stdout"),
        }
    }

    fn finish(&mut self) -> Result<()> {
        match self.w.flush() {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(e).context("write to stdout")
            }
            _ => Ok(()),
        }
    }
}

fn apply_attrs(s: &mut RouteSpec, a: &Attrs) {
    s.next_hop = a.next_hop;
    s.local_pref = a.local_pref;
    s.med = a.med;
    s.as_path = a.as_path.clone();
    s.communities = a.communities.clone();
}

fn route_spec(args: &RouteSpecArgs) -> RouteSpec {
    let mut s = RouteSpec::default();
    match args {
        RouteSpecArgs::Evpn(e) => {
            s.family = Some(ApiFamily::Evpn);
            let common = match e {
                EvpnRoute::MacIp {
                    rd,
                    mac,
                    ip,
                    vni,
                    l3vni,
                    esi,
                    seq,
                    sticky,
                    router_mac,
                    default_gateway,
                    common,
                } => {
                    s.route_type = Some(2);
                    s.rd = Some(rd.clone());
                    s.mac = Some(mac.clone());
                    s.ip = *ip;
                    s.vni = Some(*vni);
                    s.l3vni = *l3vni;
                    s.esi = esi.clone();
                    s.mac_mobility_seq = *seq;
                    s.sticky = *sticky;
                    s.router_mac = router_mac.clone();
                    s.default_gateway = *default_gateway;
                    common
                }
                EvpnRoute::Imet {
                    rd,
                    originator,
                    vni,
                    common,
                } => {
                    s.route_type = Some(3);
                    s.rd = Some(rd.clone());
                    s.originator = *originator;
                    s.vni = *vni;
                    common
                }
                EvpnRoute::Prefix {
                    rd,
                    prefix,
                    vni,
                    gateway,
                    router_mac,
                    esi,
                    common,
                } => {
                    s.route_type = Some(5);
                    s.rd = Some(rd.clone());
                    s.prefix = Some(prefix.clone());
                    s.vni = Some(*vni);
                    s.gateway_ip = *gateway;
                    s.router_mac = router_mac.clone();
                    s.esi = esi.clone();
                    common
                }
            };
            s.route_targets = common.rts.clone();
            s.eth_tag = Some(common.etag);
            apply_attrs(&mut s, &common.attrs);
        }
        RouteSpecArgs::Ipv4(u) | RouteSpecArgs::Ipv6(u) => {
            s.family = Some(if matches!(args, RouteSpecArgs::Ipv4(_)) {
                ApiFamily::Ipv4
            } else {
                ApiFamily::Ipv6
            });
            s.prefix = Some(u.prefix.clone());
            apply_attrs(&mut s, &u.attrs);
        }
    }
    s
}

/// A reply as text: typed tables for the replies we know, `key: value`
/// lines otherwise (so a newer daemon's fields still show).
fn render(cmd: &Command, reply: &Value) -> String {
    let typed = match cmd {
        Command::Show(Show::Bgp(ShowBgp::Summary)) => {
            serde_json::from_value::<Summary>(reply.clone())
                .ok()
                .map(|s| render_summary(&s))
        }
        Command::Show(Show::Bgp(ShowBgp::Neighbors { .. })) => {
            serde_json::from_value::<Neighbors>(reply.clone())
                .ok()
                .map(|n| render_neighbors(&n))
        }
        Command::Show(Show::Bgp(ShowBgp::Routes(_))) => {
            serde_json::from_value::<Routes>(reply.clone())
                .ok()
                .map(|r| render_routes(&r))
        }
        Command::Show(Show::Evpn(ShowEvpn::Mac { .. })) => {
            serde_json::from_value::<EvpnMacs>(reply.clone())
                .ok()
                .map(|m| render_evpn_macs(&m))
        }
        Command::Show(Show::Evpn(ShowEvpn::Dad)) => {
            serde_json::from_value::<EvpnDad>(reply.clone())
                .ok()
                .map(|d| render_dad(&d))
        }
        _ => None,
    };
    typed.unwrap_or_else(|| {
        let mut out = String::new();
        generic(&mut out, reply, 0);
        out
    })
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h{m:02}m")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

fn family_name(f: ApiFamily) -> &'static str {
    match f {
        ApiFamily::Evpn => "evpn",
        ApiFamily::Ipv4 => "ipv4",
        ApiFamily::Ipv6 => "ipv6",
    }
}

fn render_summary(s: &Summary) -> String {
    let mut out = format!(
        "BGP router identifier {}, local AS {}\n\n",
        s.router_id, s.asn
    );
    let head = [
        "Neighbor",
        "AS",
        "State",
        "Up/Down",
        "MsgRcvd",
        "MsgSent",
        "PfxRcd/Acc/Sent",
    ];
    let rows: Vec<Vec<String>> = s
        .peers
        .iter()
        .map(|p| {
            let pfx = p
                .families
                .iter()
                .map(|f| {
                    format!(
                        "{}:{}/{}/{}",
                        family_name(f.family),
                        f.received,
                        f.accepted,
                        f.advertised
                    )
                })
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                p.peer.to_string(),
                p.remote_as.to_string(),
                p.state.clone(),
                uptime(p.uptime_secs),
                p.messages_in.to_string(),
                p.messages_out.to_string(),
                pfx,
            ]
        })
        .collect();
    out.push_str(&table(&head, &rows));
    out.push_str(&format!("\nTotal number of neighbors {}\n", s.peers.len()));
    out
}

fn render_neighbors(n: &Neighbors) -> String {
    let mut out = String::new();
    for d in &n.neighbors {
        out.push_str(&format!(
            "BGP neighbor is {}, remote AS {}, local AS {}, {} link{}{}\n",
            d.peer,
            d.remote_as,
            d.local_as,
            d.kind,
            if d.route_reflector_client {
                ", route-reflector client"
            } else {
                ""
            },
            if d.dynamic { ", dynamic" } else { "" },
        ));
        out.push_str(&format!(
            "  BGP state = {}, up/down {}, router id {}\n",
            d.state,
            uptime(d.uptime_secs),
            d.remote_router_id
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into())
        ));
        out.push_str(&format!(
            "  Local {} remote {}\n",
            d.local_address.as_deref().unwrap_or("-"),
            d.remote_address.as_deref().unwrap_or("-")
        ));
        match &d.negotiated {
            Some(g) => {
                let fams: Vec<&str> = g.families.iter().map(|f| family_name(*f)).collect();
                out.push_str(&format!(
                    "  Hold time {} s, keepalive {} s; families {}; 4-octet AS {}, route refresh {}\n",
                    g.hold_time,
                    g.keepalive,
                    fams.join(","),
                    g.four_octet_as,
                    g.route_refresh
                ));
                if let Some(gr) = &g.graceful_restart {
                    out.push_str(&format!(
                        "  Graceful restart: peer restart time {} s{}\n",
                        gr.restart_time,
                        if gr.restarting { ", restarting" } else { "" }
                    ));
                }
            }
            None => out.push_str(&format!(
                "  Configured hold time {} s\n",
                d.configured_hold_time
            )),
        }
        out.push_str(&format!(
            "  Graceful restart state: {}\n",
            d.graceful_restart_state
        ));
        for f in &d.families {
            out.push_str(&format!(
                "  {}: received {}, accepted {}, advertised {}\n",
                family_name(f.family),
                f.received,
                f.accepted,
                f.advertised
            ));
        }
        out.push_str(&format!(
            "  Messages in {} out {} (updates in {} out {}); established {} time(s); connect failures {}\n",
            d.messages_in, d.messages_out, d.updates_in, d.updates_out, d.established_transitions, d.connect_failures
        ));
        if let Some(e) = &d.last_error {
            out.push_str(&format!(
                "  Last error ({}): {}/{} {}{}\n",
                e.direction,
                e.code,
                e.subcode,
                e.reason,
                if e.data.is_empty() {
                    String::new()
                } else {
                    format!(" data {}", e.data)
                }
            ));
        }
        out.push('\n');
    }
    out
}

fn render_routes(r: &Routes) -> String {
    let head = [
        "",
        "Route",
        "Next Hop",
        "LocPrf",
        "MED",
        "Peer",
        "Path",
        "Attributes",
    ];
    let rows: Vec<Vec<String>> = r
        .routes
        .iter()
        .map(|p| {
            let mut flags = String::new();
            flags.push(if p.stale { 'S' } else { '*' });
            if p.best {
                flags.push('>');
            }
            let mut attrs: Vec<String> = p
                .route_targets
                .iter()
                .map(|rt| format!("RT:{rt}"))
                .collect();
            if !p.labels.is_empty() {
                attrs.push(format!(
                    "VNI:{}",
                    p.labels
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                ));
            }
            if let Some(seq) = p.mac_mobility_seq {
                attrs.push(format!("MM:{seq}{}", if p.sticky { ",sticky" } else { "" }));
            }
            if let Some(rm) = &p.router_mac {
                attrs.push(format!("RMAC:{rm}"));
            }
            if p.default_gateway {
                attrs.push("DefGw".into());
            }
            let opt = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_default();
            let path = if p.as_path.is_empty() {
                p.origin.clone()
            } else {
                format!("{} {}", p.as_path, p.origin)
            };
            vec![
                flags,
                p.key.clone(),
                p.next_hop.map(|n| n.to_string()).unwrap_or_default(),
                opt(p.local_pref),
                opt(p.med),
                p.peer
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "local".into()),
                path,
                attrs.join(" "),
            ]
        })
        .collect();
    let mut out = table(&head, &rows);
    out.push_str(&format!(
        "\n{} route(s){}\n",
        r.routes.len(),
        if r.truncated {
            " (truncated; use --limit)"
        } else {
            ""
        }
    ));
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

/// Nested `key: value` lines for any JSON.
fn generic(out: &mut String, v: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::Object(_) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        generic(out, v, depth + 1);
                    }
                    Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        for (i, x) in a.iter().enumerate() {
                            out.push_str(&format!("{pad}  [{i}]\n"));
                            generic(out, x, depth + 2);
                        }
                    }
                    Value::Array(a) if a.is_empty() => out.push_str(&format!("{pad}{k}: (none)\n")),
                    Value::Array(a) => {
                        let items: Vec<String> = a.iter().map(scalar).collect();
                        out.push_str(&format!("{pad}{k}: {}\n", items.join(", ")));
                    }
                    v => out.push_str(&format!("{pad}{k}: {}\n", scalar(v))),
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                generic(out, x, depth);
            }
        }
        v => out.push_str(&format!("{pad}{}\n", scalar(v))),
    }
}

/// Left-aligned columns, two spaces apart.
fn render_evpn_macs(m: &EvpnMacs) -> String {
    let rows: Vec<Vec<String>> = m
        .macs
        .iter()
        .map(|r| {
            vec![
                r.vni.to_string(),
                r.mac.clone(),
                r.location.clone(),
                r.port
                    .clone()
                    .or(r.vtep.map(|v| v.to_string()))
                    .unwrap_or_else(|| "-".into()),
                format!("{}{}", r.seq, if r.sticky { " sticky" } else { "" }),
                if r.frozen {
                    "frozen".into()
                } else {
                    r.moves.to_string()
                },
                r.ips
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ]
        })
        .collect();
    table(
        &["VNI", "MAC", "Where", "Port/VTEP", "Seq", "Moves", "IPs"],
        &rows,
    )
}

fn render_dad(d: &EvpnDad) -> String {
    let mut out = format!(
        "duplicate detection {}: {} moves in {} s, freeze {}; {} moves, {} detected\n\n",
        if d.enabled { "on" } else { "off" },
        d.max_moves,
        d.window_secs,
        d.freeze_secs
            .map_or("permanent".to_string(), |s| format!("{s} s")),
        d.moves_total,
        d.detected_total
    );
    let rows: Vec<Vec<String>> = d
        .entries
        .iter()
        .map(|e| {
            vec![
                e.vni.to_string(),
                e.mac.clone(),
                if e.frozen { "frozen" } else { "watching" }.to_string(),
                e.moves_in_window.to_string(),
                e.unfreeze_in_secs
                    .map_or("-".to_string(), |s| format!("{s} s")),
            ]
        })
        .collect();
    out.push_str(&table(
        &["VNI", "MAC", "State", "Moves", "Unfreeze in"],
        &rows,
    ));
    out
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .chain([head[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            s.push_str(&format!(
                "{c:<w$}  ",
                w = widths.get(i).copied().unwrap_or(0)
            ));
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&mut head.iter().copied());
    for r in rows {
        out.push_str(&line(&mut r.iter().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_add_mac_ip_builds_the_api_request() {
        let cli = Cli::try_parse_from([
            "evpnctl",
            "route",
            "add",
            "evpn",
            "mac-ip",
            "--rd",
            "10.0.0.1:100",
            "--mac",
            "00:11:22:33:44:55",
            "--ip",
            "10.1.0.5",
            "--vni",
            "100",
            "--rt",
            "65000:100",
            "--seq",
            "3",
        ])
        .unwrap();
        let v = serde_json::to_value(request_for(&cli.command).unwrap()).unwrap();
        assert_eq!(v["command"], "route-add");
        assert_eq!(v["family"], "evpn");
        assert_eq!(v["route_type"], 2);
        assert_eq!(v["mac"], "00:11:22:33:44:55");
        assert_eq!(v["ip"], "10.1.0.5");
        assert_eq!(v["route_targets"], serde_json::json!(["65000:100"]));
        assert_eq!(v["mac_mobility_seq"], 3);
        // And the daemon's parser accepts it.
        let r: Request = serde_json::from_value(v).unwrap();
        assert!(matches!(r, Request::RouteAdd(_)));
    }

    #[test]
    fn show_routes_filters_become_the_query() {
        let cli = Cli::try_parse_from([
            "evpnctl", "--json", "show", "bgp", "routes", "--afi", "ipv6", "--type", "5",
        ])
        .unwrap();
        let v = serde_json::to_value(request_for(&cli.command).unwrap()).unwrap();
        assert_eq!(v["command"], "show-bgp-routes");
        assert_eq!(v["family"], "ipv6");
        assert_eq!(v["route_type"], 5);
        assert!(cli.json);
    }

    #[test]
    fn evpn_commands_build_their_requests() {
        let req = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).unwrap();
            serde_json::to_value(request_for(&cli.command)).unwrap()
        };
        let v = req(&["evpnctl", "show", "evpn", "mac", "--vni", "100"]);
        assert_eq!(v["command"], "show-evpn-mac");
        assert_eq!(v["vni"], 100);
        assert_eq!(
            req(&["evpnctl", "show", "evpn", "vni"])["command"],
            "show-evpn-vni"
        );
        assert_eq!(
            req(&["evpnctl", "show", "evpn", "dad"])["command"],
            "show-evpn-dad"
        );
        let v = req(&["evpnctl", "clear", "bgp", "10.0.0.2", "--graceful"]);
        assert_eq!(
            v,
            serde_json::json!({"command": "clear-bgp", "peer": "10.0.0.2", "graceful": true, "soft": null})
        );
        let v = req(&["evpnctl", "clear", "bgp", "10.0.0.2", "--soft", "in"]);
        assert_eq!(v["soft"], "in");
        let v = req(&["evpnctl", "clear", "dad", "--mac", "52:54:00:00:00:05"]);
        assert_eq!(v["command"], "clear-dad");
        assert_eq!(v["mac"], "52:54:00:00:00:05");
        let v = req(&["evpnctl", "trace", "10.1.0.5"]);
        assert_eq!(v["command"], "trace");
        assert_eq!(v["target"], "10.1.0.5");
        let r: Request = serde_json::from_value(v).unwrap();
        assert!(matches!(r, Request::Trace { .. }));
    }

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "Long"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    Long\nxyz  1\n");
    }
}
