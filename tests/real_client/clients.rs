//! The real clients a test can run, and the rule for one that is not installed: skip loudly,
//! or fail when RETRACKER_REQUIRE_REAL_CLIENT=1 (as CI sets it).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{aria2, libtorrent};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    Aria2,
    Libtorrent,
}

/// Which tracker URL a client's torrent names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontEnd {
    Http,
    Udp,
}

/// What a client is asked to do with the torrent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Check the file, then seed until killed.
    Seed,
    /// Download, tell the tracker `completed` and then `stopped`, and exit 0.
    Leech,
}

impl Client {
    /// The command that plays `role` for `torrent` in `dir`, announcing over `front_end`,
    /// logging to `log`.
    pub fn command(
        self,
        role: Role,
        front_end: FrontEnd,
        work: &Path,
        dir: &Path,
        torrent: &Path,
        log: &Path,
    ) -> Command {
        match self {
            Client::Aria2 => aria2::command(role, front_end, work, dir, torrent, log),
            Client::Libtorrent => libtorrent::command(role, dir, torrent, log),
        }
    }

    /// Whether the torrent must be private for this client to announce over `front_end`.
    pub fn needs_private(self, front_end: FrontEnd) -> bool {
        self == Client::Aria2 && front_end == FrontEnd::Udp
    }

    fn name(self) -> &'static str {
        match self {
            Client::Aria2 => "aria2",
            Client::Libtorrent => "libtorrent's Python binding",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Client::Aria2 => "apt-get install aria2",
            Client::Libtorrent => "apt-get install python3-libtorrent",
        }
    }

    fn version_check(self) -> Command {
        match self {
            Client::Aria2 => aria2::version_check(),
            Client::Libtorrent => libtorrent::import_check(),
        }
    }

    fn is_installed(self) -> bool {
        let mut check = self.version_check();
        let status =
            check.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
        match status {
            Ok(status) => status.success(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
            Err(error) => panic!("cannot run {check:?}: {error}"),
        }
    }
}

/// True when every client in `clients` is installed. Otherwise says which one is missing
/// and returns false, or panics when the environment requires real clients.
pub fn all_installed(clients: &[Client]) -> bool {
    let required = std::env::var("RETRACKER_REQUIRE_REAL_CLIENT").is_ok_and(|v| v == "1");
    for &client in clients {
        if client.is_installed() {
            continue;
        }
        let missing = format!("{} is missing ({})", client.name(), client.install_hint());
        assert!(
            !required,
            "{missing}, and RETRACKER_REQUIRE_REAL_CLIENT=1 says this test must run"
        );
        // Straight to the stream: libtest would hide eprintln! output of a passing test.
        let _ = writeln!(std::io::stderr(), "\n*** real-client test skipped: {missing} ***\n");
        return false;
    }
    true
}
