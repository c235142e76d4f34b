//! Log set-up: `info` by default, `debug` (a line per request) with `-d`; `RUST_LOG` wins.

use tracing_subscriber::EnvFilter;

pub fn init(debug: bool) {
    let default = if debug {
        "retracker=debug,info"
    } else {
        "info"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A second call (tests starting several trackers) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
