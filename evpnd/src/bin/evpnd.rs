//! `evpnd`: the BGP EVPN daemon.
//!
//! ```text
//! evpnd -c FILE [--socket PATH] [--log-format text|json] [-v]...
//! evpnd --check FILE
//! ```
//! Every path an instance uses is settable here, so tests run many instances
//! side by side (one per network namespace).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use clap::{ArgGroup, Parser, ValueEnum};

use evpnd::config::{Config, LogFormat};
use evpnd::core::{Core, CoreOptions};
use evpnd::shell::{self, Options};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "evpnd",
    version,
    about = "BGP EVPN control plane for Linux leaf switches"
)]
#[command(group(ArgGroup::new("mode").required(true).args(["config", "check"])))]
struct Args {
    /// Run with this configuration file.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate FILE, print every error (exit 1) or `FILE: ok` (exit 0).
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
    /// API socket; overrides the config's `api.socket`.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Log format; overrides the config's `log.format`.
    #[arg(long, value_enum, value_name = "FORMAT")]
    log_format: Option<Format>,
    /// More log output (-v debug, -vv trace); `RUST_LOG` overrides both.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// State directory; overrides the config's `state_dir`.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Do not program the kernel (no netlink): a route reflector or a
    /// BGP-only speaker. EVPN routes are still exchanged.
    #[arg(long)]
    no_dataplane: bool,
    /// Seed for timer jitter (default: from the clock and pid).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = &args.check {
        return match Config::load(path) {
            Ok(_) => {
                println!("{}: ok", path.display());
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for e in &errors.0 {
                    eprintln!("{e}");
                }
                ExitCode::FAILURE
            }
        };
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("evpnd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let path = args
        .config
        .clone()
        .ok_or_else(|| anyhow!("no config file (-c FILE)"))?;
    let config = Config::load(&path).map_err(|errors| anyhow!("{errors}"))?;
    let format = match args.log_format {
        Some(Format::Text) => LogFormat::Text,
        Some(Format::Json) => LogFormat::Json,
        None => config.global.log.format,
    };
    shell::log::init(format, args.verbose, &config.global.log.level)?;
    let socket = args
        .socket
        .clone()
        .unwrap_or_else(|| config.global.api.socket.clone());
    let seed = args.seed.unwrap_or_else(|| {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        t ^ u64::from(std::process::id()).rotate_left(32)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| config.global.state_dir.clone());
    let options = restart_state(&state_dir)?;
    tracing::info!(
        restarting = options.restarting,
        state_dir = %state_dir.display(),
        "starting"
    );
    let core = Core::with_options(&config, Instant::now(), seed, options);
    let opts = Options::new(path, socket);
    // The core task runs on this thread (block_on); readers, writers and
    // the API clients run on the workers.
    if args.no_dataplane {
        return runtime.block_on(shell::run(core, config, opts));
    }
    let dp_state = state_dir.join("dataplane.state");
    runtime.block_on(async move {
        let dp = netlink_glue::Netlink::new(netlink_glue::Config::new(&dp_state))
            .with_context(|| format!("dataplane (ownership file {})", dp_state.display()))?;
        shell::run_with_dataplane(core, config, opts, dp).await
    })
}

/// Were we running before (RFC 4724 restarting speaker)? A marker in the
/// state directory says so; evpnd never removes kernel state it programmed
/// (neither on a crash nor on a graceful stop), so a restart finds its
/// forwarding state in place and sets the F bit.
fn restart_state(state_dir: &Path) -> Result<CoreOptions> {
    let marker = state_dir.join("evpnd.ran");
    let restarting = marker.exists();
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("create state directory {}", state_dir.display()))?;
    std::fs::write(&marker, format!("{}\n", std::process::id()))
        .with_context(|| format!("write {}", marker.display()))?;
    Ok(CoreOptions {
        restarting,
        forwarding_preserved: restarting,
    })
}
