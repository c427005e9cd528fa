//! The TOML configuration: schema, defaults, and errors that name the file,
//! line, column and key.
//!
//! Parsing runs in two passes so that one run reports every error, not just
//! the first: the document is parsed into spanned raw tables, then each
//! top-level section and each `[[neighbor]]`, `[[vni]]`, `[[vrf]]` element is
//! deserialized on its own (unknown keys are errors), then cross-field rules
//! are checked (duplicates, references between sections, timer relations).

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use evpn_proto::{Family, Mac, Rd, Vni};
use ipnetwork::IpNetwork;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One problem in a config file, located for an editor: `file:line:col: key: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    /// Dotted path of the key, e.g. `neighbor[1].remote_as`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.col,
            if self.key.is_empty() {
                "(document)"
            } else {
                &self.key
            },
            self.message
        )
    }
}

/// All errors of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A value parsed from a TOML string through its `FromStr` (addresses, MACs,
/// RDs, prefixes), so the error message is the type's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Str<T>(pub T);

impl<'de, T: FromStr> Deserialize<'de> for Str<T>
where
    T::Err: fmt::Display,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<T>().map(Str).map_err(D::Error::custom)
    }
}

/// The whole daemon configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub global: Global,
    pub neighbors: Vec<Neighbor>,
    pub vnis: Vec<VniConfig>,
    pub vrfs: Vec<VrfConfig>,
}

/// Top-level keys and small sections.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Global {
    /// BGP identifier; also the default local VTEP address and auto-RD base.
    pub router_id: Str<Ipv4Addr>,
    /// Local autonomous system (4-octet).
    pub asn: u32,
    /// Addresses to accept BGP connections on.
    #[serde(default = "default_listen")]
    pub listen: Vec<Str<SocketAddr>>,
    /// Route-reflector cluster id (RFC 4456); defaults to the router id.
    #[serde(default)]
    pub cluster_id: Option<Str<Ipv4Addr>>,
    /// Default hold time in seconds (0 or ≥ 3).
    #[serde(default = "default_hold")]
    pub hold_time: u16,
    /// Default keepalive interval in seconds (≤ hold_time / 3 is advised).
    #[serde(default)]
    pub keepalive: Option<u16>,
    /// Default connect-retry time in seconds.
    #[serde(default = "default_connect_retry")]
    pub connect_retry: u16,
    /// Local VTEP address for VXLAN; defaults to the router id.
    #[serde(default)]
    pub vtep_address: Option<Str<IpAddr>>,
    /// UDP destination port for VXLAN.
    #[serde(default = "default_vxlan_port")]
    pub vxlan_port: u16,
    /// Where evpnd keeps its small state files (e.g. owned sticky entries).
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Advertise the anycast gateway MAC+IP with the default-gateway ext-community.
    #[serde(default)]
    pub advertise_default_gateway: bool,
    /// Write remote MACs as `nhid` entries pointing at one FDB nexthop
    /// group per remote VTEP instead of `dst VTEP` each (2-3x faster to
    /// program at scale, no per-MAC route cache in the kernel; `bridge fdb`
    /// shows the group id, `ip nexthop` its VTEP). On by default; a kernel
    /// without FDB nexthops (before 5.8) gets `dst` entries, with a
    /// warning. Not used for VNIs on the single VXLAN device.
    #[serde(default = "yes")]
    pub fdb_nexthops: bool,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub graceful_restart: GracefulRestartConfig,
    #[serde(default)]
    pub duplicate_detection: DadConfig,
    /// How route targets are derived for VNIs and VRFs without `import_rt`
    /// / `export_rt`.
    #[serde(default)]
    pub auto_rt: AutoRt,
    /// The single VXLAN device (`[svd]`), for VNIs configured with `vlan`.
    #[serde(default)]
    pub svd: Option<SvdConfig>,
}

/// Route-target auto-derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AutoRt {
    /// `ASN:VNI` (2-octet AS type; a 4-octet ASN contributes its low 16
    /// bits, as FRR does).
    #[default]
    AsnVni,
    /// RFC 8365 §5.1.2.1: `ASN:X` where the 4-octet local administrator is
    /// A=0 (auto) | Type=1 (VXLAN) | D-ID=0 | the 24-bit VNI.
    Rfc8365,
}

/// Single-VXLAN-device mode: one VLAN-aware bridge and one `external
/// vnifilter` VXLAN device carry every VNI that has a `vlan`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SvdConfig {
    pub bridge: String,
    pub vxlan: String,
}

fn default_listen() -> Vec<Str<SocketAddr>> {
    vec![Str(SocketAddr::from(([0, 0, 0, 0], 179)))]
}
fn default_hold() -> u16 {
    90
}
fn default_connect_retry() -> u16 {
    30
}
fn default_vxlan_port() -> u16 {
    4789
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/evpnd")
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Unix socket for evpnctl.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            socket: default_socket(),
        }
    }
}

fn default_socket() -> PathBuf {
    PathBuf::from("/run/evpnd/evpnd.sock")
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Prometheus text endpoint; off when absent.
    #[serde(default)]
    pub listen: Option<Str<SocketAddr>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `evpnd=debug`.
    #[serde(default = "default_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_level(),
            format: LogFormat::Text,
        }
    }
}

fn default_level() -> String {
    "info".into()
}

/// RFC 4724 timers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GracefulRestartConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Restart Time advertised to peers (seconds, ≤ 4095).
    #[serde(default = "default_restart_time")]
    pub restart_time: u16,
    /// How long a restarting peer's routes stay stale at most (seconds).
    #[serde(default = "default_stale_time")]
    pub stale_routes_time: u32,
    /// RFC 8538: advertise the N bit. When both sides set it, a
    /// NOTIFICATION other than Hard Reset (and hold-timer expiry) keeps the
    /// peer's routes stale like a lost connection.
    #[serde(default = "yes")]
    pub notification: bool,
}

impl Default for GracefulRestartConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            restart_time: default_restart_time(),
            stale_routes_time: default_stale_time(),
            notification: true,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_restart_time() -> u16 {
    120
}
fn default_stale_time() -> u32 {
    360
}

/// How long a duplicate MAC stays frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freeze {
    Seconds(u32),
    Permanent,
}

impl<'de> Deserialize<'de> for Freeze {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u32),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Freeze::Seconds(n)),
            Raw::S(s) if s == "permanent" => Ok(Freeze::Permanent),
            Raw::S(s) => Err(D::Error::custom(format!(
                "expected seconds or \"permanent\", got {s:?}"
            ))),
        }
    }
}

/// Duplicate address detection (RFC 7432 §15.1): `max_moves` in `window` seconds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DadConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_max_moves")]
    pub max_moves: u32,
    #[serde(default = "default_window")]
    pub window: u32,
    #[serde(default = "default_freeze")]
    pub freeze: Freeze,
}

impl Default for DadConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_moves: default_max_moves(),
            window: default_window(),
            freeze: default_freeze(),
        }
    }
}

fn default_max_moves() -> u32 {
    5
}
fn default_window() -> u32 {
    180
}
fn default_freeze() -> Freeze {
    Freeze::Seconds(30)
}

/// Max-prefix (RFC 4486 Cease/1).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxPrefix {
    pub limit: u32,
    /// Re-establish after this many seconds; never when absent.
    #[serde(default)]
    pub restart: Option<u32>,
    /// Only log when exceeded.
    #[serde(default)]
    pub warning_only: bool,
}

/// One BGP neighbor, or a range of dynamic neighbors.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Neighbor {
    /// The peer's address (exactly one of `address` and `range`).
    #[serde(default)]
    pub address: Option<Str<IpAddr>>,
    /// Accept any peer from this prefix (dynamic neighbors; passive).
    #[serde(default)]
    pub range: Option<Str<IpNetwork>>,
    pub remote_as: u32,
    /// Our AS towards this peer, when it differs from the global `asn`.
    #[serde(default)]
    pub local_as: Option<u32>,
    /// TCP port of the peer (tests run daemons on other ports).
    #[serde(default = "default_bgp_port")]
    pub port: u16,
    /// Only accept connections, never initiate.
    #[serde(default)]
    pub passive: bool,
    #[serde(default = "default_families")]
    pub families: Vec<Str<Family>>,
    #[serde(default)]
    pub hold_time: Option<u16>,
    #[serde(default)]
    pub keepalive: Option<u16>,
    #[serde(default)]
    pub connect_retry: Option<u16>,
    #[serde(default)]
    pub route_reflector_client: bool,
    /// TCP-MD5 key (RFC 2385).
    #[serde(default)]
    pub password: Option<String>,
    /// GTSM (RFC 5082): accept only peers at most this many hops away.
    #[serde(default)]
    pub ttl_security: Option<u8>,
    #[serde(default)]
    pub max_prefix: Option<MaxPrefix>,
    /// Override the global graceful-restart switch for this peer.
    #[serde(default)]
    pub graceful_restart: Option<bool>,
    /// Local address to connect from.
    #[serde(default)]
    pub source_address: Option<Str<IpAddr>>,
    #[serde(default)]
    pub description: Option<String>,
}

fn default_bgp_port() -> u16 {
    179
}
fn default_families() -> Vec<Str<Family>> {
    vec![Str(Family::Evpn)]
}

/// The anycast gateway of one L2 VNI: the same IP and MAC on every leaf.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnycastGateway {
    #[serde(default)]
    pub ipv4: Option<Str<IpNetwork>>,
    #[serde(default)]
    pub ipv6: Option<Str<IpNetwork>>,
    #[serde(default = "default_gateway_mac")]
    pub mac: Str<Mac>,
}

fn default_gateway_mac() -> Str<Mac> {
    Str(Mac([0x00, 0x00, 0x5e, 0x00, 0x01, 0x01]))
}

/// One L2 VNI (a MAC-VRF).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VniConfig {
    pub vni: u32,
    pub bridge: String,
    /// The VXLAN device; defaults to `vxlan<VNI>`.
    #[serde(default)]
    pub vxlan: Option<String>,
    /// The IP-VRF this VNI routes in.
    #[serde(default)]
    pub vrf: Option<String>,
    #[serde(default)]
    pub rd: Option<Str<Rd>>,
    #[serde(default)]
    pub import_rt: Vec<String>,
    #[serde(default)]
    pub export_rt: Vec<String>,
    #[serde(default)]
    pub anycast_gateway: Option<AnycastGateway>,
    /// Answer ARP/ND from remote MAC+IP routes (`neigh_suppress`).
    #[serde(default = "yes")]
    pub arp_suppress: bool,
    /// How broadcast, unknown unicast and multicast reach remote VTEPs.
    #[serde(default)]
    pub flooding: Flooding,
    /// Static flood list (`flooding = "static"`): site-to-site links
    /// without BGP.
    #[serde(default)]
    pub static_vteps: Vec<Str<IpAddr>>,
    /// Single-VXLAN-device mode: this VNI is this VLAN of the `[svd]`
    /// bridge (then `bridge`/`vxlan` name the shared devices).
    #[serde(default)]
    pub vlan: Option<u16>,
}

/// The flood list of an L2 VNI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flooding {
    /// Ingress replication to every VTEP that advertised an RT-3 (IMET)
    /// route for the VNI; we advertise ours.
    #[default]
    IngressReplication,
    /// The configured `static_vteps`, no RT-3 (works without BGP).
    Static,
}

/// Host-route export to the DC core.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostRouteExport {
    /// Neighbor addresses that receive the /32 and /128 routes.
    pub peers: Vec<Str<IpAddr>>,
    /// Only host addresses inside these prefixes are exported.
    #[serde(default)]
    pub prefixes: Vec<Str<IpNetwork>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum L3Backend {
    /// VRF device when the kernel has the driver, else table + rule.
    #[default]
    Auto,
    VrfDevice,
    Table,
}

/// One IP-VRF with an L3 VNI (symmetric IRB, RFC 9135).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrfConfig {
    pub name: String,
    pub l3vni: u32,
    #[serde(default)]
    pub router_mac: Option<Str<Mac>>,
    #[serde(default)]
    pub table: Option<u32>,
    #[serde(default)]
    pub backend: L3Backend,
    #[serde(default)]
    pub rd: Option<Str<Rd>>,
    #[serde(default)]
    pub import_rt: Vec<String>,
    #[serde(default)]
    pub export_rt: Vec<String>,
    /// Prefixes originated as RT-5.
    #[serde(default)]
    pub advertise_prefixes: Vec<Str<IpNetwork>>,
    /// Also originate the anycast-gateway subnets of the member VNIs as RT-5.
    #[serde(default)]
    pub advertise_connected: bool,
    #[serde(default)]
    pub export_host_routes: Option<HostRouteExport>,
}

/// Byte offset → 1-based (line, column in characters).
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count() + 1)
        .unwrap_or(1);
    (line, col)
}

struct Ctx<'a> {
    file: &'a Path,
    src: &'a str,
    errors: Vec<ConfigError>,
}

impl Ctx<'_> {
    fn push(&mut self, span: Option<Range<usize>>, key: String, message: String) {
        let (line, col) = line_col(self.src, span.map(|s| s.start).unwrap_or(0));
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line,
            col,
            key,
            message,
        });
    }

    /// Deserialize one table; on error, find the key under the error's span.
    fn table<T: DeserializeOwned>(
        &mut self,
        prefix: &str,
        table: &Spanned<DeTable<'_>>,
    ) -> Option<T> {
        let de = toml::de::Deserializer::from(table.clone());
        match T::deserialize(de) {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span();
                let key = span
                    .clone()
                    .and_then(|s| key_at(table.get_ref(), &s))
                    .map(|k| join(prefix, &k))
                    .unwrap_or_else(|| prefix.to_string());
                self.push(span, key, e.message().to_string());
                None
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The dotted key whose key or value span contains `span`, deepest first.
fn key_at(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    let inside = |r: Range<usize>| r.start <= span.start && span.end <= r.end.max(r.start + 1);
    for (k, v) in table.iter() {
        let name = k.get_ref().to_string();
        if inside(k.span()) {
            return Some(name);
        }
        if inside(v.span()) {
            return Some(match v.get_ref() {
                DeValue::Table(t) => match key_at(t, span) {
                    Some(sub) => format!("{name}.{sub}"),
                    None => name,
                },
                DeValue::Array(a) => {
                    let mut out = name.clone();
                    for (i, item) in a.iter().enumerate() {
                        if inside(item.span()) {
                            out = format!("{name}[{i}]");
                            if let DeValue::Table(t) = item.get_ref() {
                                if let Some(sub) = key_at(t, span) {
                                    out = format!("{out}.{sub}");
                                }
                            }
                        }
                    }
                    out
                }
                _ => name,
            });
        }
    }
    None
}

const ARRAY_SECTIONS: [&str; 3] = ["neighbor", "vni", "vrf"];

impl Config {
    /// Read and validate a config file; all errors at once.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let src = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: 0,
                col: 0,
                key: String::new(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        Config::parse(path, &src)
    }

    /// Validate `src` as if read from `file` (named in errors).
    pub fn parse(file: &Path, src: &str) -> Result<Config, ConfigErrors> {
        let mut cx = Ctx {
            file,
            src,
            errors: Vec::new(),
        };
        let doc = match DeTable::parse(src) {
            Ok(d) => d,
            Err(e) => {
                cx.push(e.span(), String::new(), e.message().to_string());
                return Err(ConfigErrors(cx.errors));
            }
        };

        // Pass 1: the global table without the array sections.
        let mut global_table = DeTable::new();
        for (k, v) in doc.get_ref().iter() {
            if !ARRAY_SECTIONS.contains(&k.get_ref().as_ref()) {
                global_table.insert(k.clone(), v.clone());
            }
        }
        let global: Option<Global> = cx.table("", &Spanned::new(doc.span(), global_table));

        // Pass 1b: each element of each array section on its own.
        let neighbors: Vec<Neighbor> = array_section(&mut cx, &doc, "neighbor");
        let vnis: Vec<VniConfig> = array_section(&mut cx, &doc, "vni");
        let vrfs: Vec<VrfConfig> = array_section(&mut cx, &doc, "vrf");

        let Some(global) = global else {
            return Err(ConfigErrors(cx.errors));
        };
        let config = Config {
            global,
            neighbors,
            vnis,
            vrfs,
        };
        // Pass 2: relations between keys.
        config.check(&mut cx, &doc);
        if cx.errors.is_empty() {
            Ok(config)
        } else {
            cx.errors.sort_by_key(|e| (e.line, e.col));
            Err(ConfigErrors(cx.errors))
        }
    }

    fn check(&self, cx: &mut Ctx<'_>, doc: &Spanned<DeTable<'_>>) {
        let span = |path: &[PathPart]| span_of(doc, path);
        let g = &self.global;
        if g.asn == 0 {
            cx.push(
                span(&[PathPart::Key("asn")]),
                "asn".into(),
                "AS 0 is reserved (RFC 7607)".into(),
            );
        }
        check_timers(cx, &span, "", g.hold_time, g.keepalive, &[]);
        if g.graceful_restart.restart_time > 4095 {
            cx.push(
                span(&[
                    PathPart::Key("graceful_restart"),
                    PathPart::Key("restart_time"),
                ]),
                "graceful_restart.restart_time".into(),
                "must be ≤ 4095 (12-bit field, RFC 4724 §3)".into(),
            );
        }
        if g.duplicate_detection.max_moves == 0 {
            cx.push(
                span(&[
                    PathPart::Key("duplicate_detection"),
                    PathPart::Key("max_moves"),
                ]),
                "duplicate_detection.max_moves".into(),
                "must be ≥ 1".into(),
            );
        }

        if g.duplicate_detection.window == 0 {
            cx.push(
                span(&[
                    PathPart::Key("duplicate_detection"),
                    PathPart::Key("window"),
                ]),
                "duplicate_detection.window".into(),
                "must be ≥ 1 second".into(),
            );
        }

        let mut seen = BTreeSet::new();
        for (i, n) in self.neighbors.iter().enumerate() {
            let at = |k: &'static str| {
                vec![
                    PathPart::Key("neighbor"),
                    PathPart::Index(i),
                    PathPart::Key(k),
                ]
            };
            let key = |k: &str| format!("neighbor[{i}].{k}");
            match (&n.address, &n.range) {
                (None, None) => cx.push(
                    span(&[PathPart::Key("neighbor"), PathPart::Index(i)]),
                    format!("neighbor[{i}]"),
                    "needs `address` (a peer) or `range` (dynamic peers)".into(),
                ),
                (Some(_), Some(_)) => cx.push(
                    span(&at("range")),
                    key("range"),
                    "give either `address` or `range`, not both".into(),
                ),
                (Some(Str(a)), None) => {
                    if !seen.insert(*a) {
                        cx.push(
                            span(&at("address")),
                            key("address"),
                            format!("neighbor {a} is configured twice"),
                        );
                    }
                }
                (None, Some(_)) => {}
            }
            if n.remote_as == 0 {
                cx.push(
                    span(&at("remote_as")),
                    key("remote_as"),
                    "AS 0 is reserved (RFC 7607)".into(),
                );
            }
            if n.families.is_empty() {
                cx.push(
                    span(&at("families")),
                    key("families"),
                    "at least one address family".into(),
                );
            }
            let hold = n.hold_time.unwrap_or(g.hold_time);
            check_timers(
                cx,
                &span,
                &format!("neighbor[{i}]"),
                hold,
                n.keepalive.or(g.keepalive),
                &[PathPart::Key("neighbor"), PathPart::Index(i)],
            );
            if let Some(p) = &n.password {
                if p.is_empty() || p.len() > 80 {
                    cx.push(
                        span(&at("password")),
                        key("password"),
                        "TCP-MD5 key must be 1..=80 octets".into(),
                    );
                }
            }
            if n.ttl_security == Some(0) {
                cx.push(
                    span(&at("ttl_security")),
                    key("ttl_security"),
                    "hops must be ≥ 1".into(),
                );
            }
        }

        let vrf_names: BTreeSet<&str> = self.vrfs.iter().map(|v| v.name.as_str()).collect();
        let mut vni_seen = BTreeSet::new();
        let mut bridges: std::collections::BTreeMap<&str, usize> = Default::default();
        for (i, v) in self.vnis.iter().enumerate() {
            let at =
                |k: &'static str| vec![PathPart::Key("vni"), PathPart::Index(i), PathPart::Key(k)];
            if Vni::new(v.vni).is_none() || v.vni == 0 {
                cx.push(
                    span(&at("vni")),
                    format!("vni[{i}].vni"),
                    "VNI must be 1..=16777215".into(),
                );
            } else if !vni_seen.insert(v.vni) {
                cx.push(
                    span(&at("vni")),
                    format!("vni[{i}].vni"),
                    format!("VNI {} is configured twice", v.vni),
                );
            }
            if let Some(vrf) = &v.vrf {
                if !vrf_names.contains(vrf.as_str()) {
                    cx.push(
                        span(&at("vrf")),
                        format!("vni[{i}].vrf"),
                        format!("no [[vrf]] named {vrf:?}"),
                    );
                }
            }
            check_rts(cx, &span, "vni", i, &v.import_rt, &v.export_rt);
            self.check_vni_evpn(cx, &span, i, v, &mut bridges);
        }
        for (i, v) in self.vrfs.iter().enumerate() {
            let at =
                |k: &'static str| vec![PathPart::Key("vrf"), PathPart::Index(i), PathPart::Key(k)];
            if Vni::new(v.l3vni).is_none() || v.l3vni == 0 {
                cx.push(
                    span(&at("l3vni")),
                    format!("vrf[{i}].l3vni"),
                    "VNI must be 1..=16777215".into(),
                );
            } else if !vni_seen.insert(v.l3vni) {
                cx.push(
                    span(&at("l3vni")),
                    format!("vrf[{i}].l3vni"),
                    format!("VNI {} is already used", v.l3vni),
                );
            }
            if self.vrfs[..i].iter().any(|o| o.name == v.name) {
                cx.push(
                    span(&at("name")),
                    format!("vrf[{i}].name"),
                    format!("VRF {:?} is configured twice", v.name),
                );
            }
            check_rts(cx, &span, "vrf", i, &v.import_rt, &v.export_rt);
            if let Some(Str(m)) = v.router_mac {
                if m.is_zero() || m.is_multicast() {
                    cx.push(
                        span(&at("router_mac")),
                        format!("vrf[{i}].router_mac"),
                        format!("router MAC {m} must be unicast and non-zero"),
                    );
                }
            }
            if let Some(exp) = &v.export_host_routes {
                for p in &exp.peers {
                    if !self.neighbors.iter().any(|n| n.address.as_ref() == Some(p)) {
                        cx.push(
                            span(&[
                                PathPart::Key("vrf"),
                                PathPart::Index(i),
                                PathPart::Key("export_host_routes"),
                                PathPart::Key("peers"),
                            ]),
                            format!("vrf[{i}].export_host_routes.peers"),
                            format!("{} is not a configured neighbor", p.0),
                        );
                    }
                }
            }
        }
    }

    /// The EVPN rules of one `[[vni]]`: flooding, single-device mode,
    /// anycast gateway, bridge names.
    fn check_vni_evpn<'a>(
        &self,
        cx: &mut Ctx<'_>,
        span: &dyn Fn(&[PathPart]) -> Option<Range<usize>>,
        i: usize,
        v: &'a VniConfig,
        bridges: &mut std::collections::BTreeMap<&'a str, usize>,
    ) {
        let at = |k: &'static str| vec![PathPart::Key("vni"), PathPart::Index(i), PathPart::Key(k)];
        match v.flooding {
            Flooding::Static if v.static_vteps.is_empty() => cx.push(
                span(&at("flooding")),
                format!("vni[{i}].flooding"),
                "flooding = \"static\" needs at least one address in static_vteps".into(),
            ),
            Flooding::IngressReplication if !v.static_vteps.is_empty() => cx.push(
                span(&at("static_vteps")),
                format!("vni[{i}].static_vteps"),
                "static_vteps is only used with flooding = \"static\"".into(),
            ),
            _ => {}
        }
        match v.vlan {
            Some(vlan) => {
                if self.global.svd.is_none() {
                    cx.push(
                        span(&at("vlan")),
                        format!("vni[{i}].vlan"),
                        "single VXLAN device mode needs an [svd] section".into(),
                    );
                }
                if vlan == 0 || vlan > 4094 {
                    cx.push(
                        span(&at("vlan")),
                        format!("vni[{i}].vlan"),
                        "VLAN must be 1..=4094".into(),
                    );
                }
            }
            None => {
                if let Some(j) = bridges.insert(v.bridge.as_str(), i) {
                    cx.push(
                        span(&at("bridge")),
                        format!("vni[{i}].bridge"),
                        format!("bridge {:?} is already used by vni[{j}]", v.bridge),
                    );
                }
            }
        }
        if let Some(gw) = &v.anycast_gateway {
            let gat = |k: &'static str| {
                vec![
                    PathPart::Key("vni"),
                    PathPart::Index(i),
                    PathPart::Key("anycast_gateway"),
                    PathPart::Key(k),
                ]
            };
            let key = |k: &str| format!("vni[{i}].anycast_gateway.{k}");
            if gw.ipv4.is_none() && gw.ipv6.is_none() {
                cx.push(
                    span(&at("anycast_gateway")),
                    format!("vni[{i}].anycast_gateway"),
                    "needs ipv4 or ipv6 (the gateway address with its prefix length)".into(),
                );
            }
            if let Some(Str(p)) = gw.ipv4 {
                if !p.is_ipv4() {
                    cx.push(
                        span(&gat("ipv4")),
                        key("ipv4"),
                        format!("{p} is not an IPv4 prefix"),
                    );
                }
            }
            if let Some(Str(p)) = gw.ipv6 {
                if !p.is_ipv6() {
                    cx.push(
                        span(&gat("ipv6")),
                        key("ipv6"),
                        format!("{p} is not an IPv6 prefix"),
                    );
                }
            }
            let Str(m) = gw.mac;
            if m.is_zero() || m.is_multicast() {
                cx.push(
                    span(&gat("mac")),
                    key("mac"),
                    format!("gateway MAC {m} must be unicast and non-zero"),
                );
            }
        }
    }

    /// Effective keepalive for a hold time: configured, else hold / 3.
    pub fn keepalive_for(hold: u16, configured: Option<u16>) -> u16 {
        configured.unwrap_or(hold / 3)
    }
}

/// Every import/export route target of a `[[vni]]` or `[[vrf]]` parses.
fn check_rts(
    cx: &mut Ctx<'_>,
    span: &dyn Fn(&[PathPart]) -> Option<Range<usize>>,
    section: &'static str,
    i: usize,
    import: &[String],
    export: &[String],
) {
    for (j, rt) in import.iter().chain(export).enumerate() {
        if let Err(e) = evpn_proto::ext_community::RouteTarget::from_str(rt) {
            let k = if j < import.len() {
                "import_rt"
            } else {
                "export_rt"
            };
            cx.push(
                span(&[PathPart::Key(section), PathPart::Index(i), PathPart::Key(k)]),
                format!("{section}[{i}].{k}"),
                e.to_string(),
            );
        }
    }
}

fn check_timers(
    cx: &mut Ctx<'_>,
    span: &dyn Fn(&[PathPart]) -> Option<Range<usize>>,
    prefix: &str,
    hold: u16,
    keepalive: Option<u16>,
    base: &[PathPart],
) {
    let path = |k: &'static str| {
        let mut p = base.to_vec();
        p.push(PathPart::Key(k));
        p
    };
    if hold == 1 || hold == 2 {
        cx.push(
            span(&path("hold_time")),
            join(prefix, "hold_time"),
            "hold time must be 0 or ≥ 3 seconds (RFC 4271 §4.2)".into(),
        );
    }
    if let Some(k) = keepalive {
        if hold != 0 && k >= hold {
            cx.push(
                span(&path("keepalive")),
                join(prefix, "keepalive"),
                format!("keepalive {k} must be below the hold time {hold}"),
            );
        }
    }
}

fn array_section<T: DeserializeOwned>(
    cx: &mut Ctx<'_>,
    doc: &Spanned<DeTable<'_>>,
    name: &str,
) -> Vec<T> {
    let mut out = Vec::new();
    let Some(v) = doc.get_ref().get(name) else {
        return out;
    };
    let DeValue::Array(items) = v.get_ref() else {
        cx.push(
            Some(v.span()),
            name.to_string(),
            format!("expected [[{name}]] tables"),
        );
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        match item.get_ref() {
            DeValue::Table(t) => {
                let t = Spanned::new(item.span(), t.clone());
                if let Some(x) = cx.table(&format!("{name}[{i}]"), &t) {
                    out.push(x);
                }
            }
            _ => cx.push(
                Some(item.span()),
                format!("{name}[{i}]"),
                "expected a table".into(),
            ),
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum PathPart {
    Key(&'static str),
    Index(usize),
}

/// The span of the value at `path`, for errors found after deserializing.
fn span_of(doc: &Spanned<DeTable<'_>>, path: &[PathPart]) -> Option<Range<usize>> {
    let mut cur: &Spanned<DeValue<'_>>;
    let mut table = doc.get_ref();
    let mut span = doc.span();
    let mut i = 0;
    while i < path.len() {
        let PathPart::Key(k) = path[i] else {
            return Some(span);
        };
        cur = table.get(k)?;
        span = cur.span();
        i += 1;
        if let Some(PathPart::Index(n)) = path.get(i) {
            let DeValue::Array(a) = cur.get_ref() else {
                return Some(span);
            };
            cur = a.get(*n)?;
            span = cur.span();
            i += 1;
        }
        match cur.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return Some(span),
        }
    }
    Some(span)
}

#[cfg(test)]
mod tests;
