//! libtorrent through our driver script, tests/clients/libtorrent_client.py, which sets it up
//! to reach nothing but loopback and find peers only through the torrent's trackers.

use std::path::Path;
use std::process::Command;

use crate::clients::Role;

/// Debian's interpreter: python3-libtorrent lives in its dist-packages, which another
/// python3 on PATH (a pyenv build, say) does not see.
const PYTHON: &str = "/usr/bin/python3";
const DRIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/libtorrent_client.py");

pub fn import_check() -> Command {
    let mut command = Command::new(PYTHON);
    command.args(["-I", "-c", "import libtorrent"]);
    command
}

pub fn command(role: Role, dir: &Path, torrent: &Path, log: &Path) -> Command {
    let mut command = Command::new(PYTHON);
    let role = match role {
        Role::Seed => "seed",
        Role::Leech => "leech",
    };
    // -I: no PYTHON* variables and no user site-packages; nothing from outside applies.
    command.env_clear().arg("-I").arg(DRIVER).args(["--role", role]);
    command.arg("--torrent").arg(torrent).arg("--dir").arg(dir).arg("--log").arg(log);
    command
}
