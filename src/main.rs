use std::process::ExitCode;

use clap::Parser;
use retracker::app::{self, Config, cli::Cli};

/// jemalloc's options for the tracker (read before `main`): its heap on transparent huge
/// pages, where the kernel's THP mode is `madvise` (with `always` they are anyway, with
/// `never` this does nothing). A million peers are read at random; on 4 KiB pages nearly each
/// such read also missed the TLB, and the page walk cost as much as the read (2b7dc0c:
/// +9.7% requests a CPU second, 102 B of RSS a peer against 93; docs/benchmarks.md).
/// `_RJEM_MALLOC_CONF=thp:never` in the environment turns it off.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_OPTIONS: Option<&std::ffi::c_char> =
    // SAFETY: the pointer is to a static, NUL-terminated string, so the reference is valid for
    // the whole run.
    Some(unsafe { &*c"thp:always".as_ptr() });

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
    // Before the runtime starts its threads, which inherit it.
    #[cfg(target_os = "linux")]
    app::capability::raise_bind_service();
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
