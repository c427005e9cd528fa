//! Tracing setup: text or JSON lines on stderr, with the level taken from
//! (highest priority first) `RUST_LOG`, `-v` on the command line, the
//! config's `log.level`.

use std::io::IsTerminal;

use anyhow::{anyhow, Result};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// `-v` → debug, `-vv` and more → trace; none → the configured level.
pub fn level_for(verbose: u8, configured: &str) -> String {
    match verbose {
        0 => configured.to_string(),
        1 => "debug".to_string(),
        _ => "trace".to_string(),
    }
}

/// Install the global subscriber. Call once, before the runtime starts work.
pub fn init(format: LogFormat, verbose: u8, configured_level: &str) -> Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.is_empty() => {
            EnvFilter::try_new(&s).map_err(|e| anyhow!("RUST_LOG={s:?}: {e}"))?
        }
        _ => {
            let level = level_for(verbose, configured_level);
            EnvFilter::try_new(&level).map_err(|e| anyhow!("log level {level:?}: {e}"))?
        }
    };
    // Colours only for a terminal: logs in files stay plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let r = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    r.map_err(|e| anyhow!("cannot install the log subscriber: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_overrides_the_configured_level() {
        assert_eq!(level_for(0, "warn"), "warn");
        assert_eq!(level_for(1, "warn"), "debug");
        assert_eq!(level_for(3, "warn"), "trace");
    }
}
