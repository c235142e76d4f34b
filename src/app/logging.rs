//! Log set-up: `info` by default, `debug` (a line per request) with `-d`; `RUST_LOG` wins.
//! Logs go to standard error, coloured only on a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(debug: bool) {
    let default = if debug { "retracker=debug,info" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A second call keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
