//! Log set-up: `info` by default, `debug` (a line per request) with `-d`; `RUST_LOG` wins.
//! Logs go to standard error: as text, coloured only on a terminal, or as JSON lines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(debug: bool, json: bool) {
    let default = if debug { "retracker=debug,info" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    // A second call keeps the first subscriber.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).try_init()
    };
}
