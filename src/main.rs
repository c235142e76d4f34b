use std::process::ExitCode;

use clap::Parser;
use retracker::app::{self, Config, cli::Cli};

fn main() -> ExitCode {
    let overrides = Cli::parse().overrides();
    let config = match Config::load(&overrides) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("retracker: {error}");
            return ExitCode::from(2);
        }
    };
    app::logging::init(config.debug_mode, config.log_format == "json");
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if config.worker_threads > 0 {
        runtime.worker_threads(config.worker_threads);
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("retracker: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("retracker: {error}");
            ExitCode::FAILURE
        }
    }
}
