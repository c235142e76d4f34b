//! aria2 set up to reach nothing but loopback and find peers only through the tracker.

use std::ffi::OsStr;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;

use crate::clients::{FrontEnd, Role};

const PROGRAM: &str = "aria2c";

pub fn version_check() -> Command {
    let mut command = Command::new(PROGRAM);
    command.arg("--version");
    command
}

pub fn command(
    role: Role,
    front_end: FrontEnd,
    work: &Path,
    dir: &Path,
    torrent: &Path,
    log: &Path,
) -> Command {
    let port = free_port().to_string();
    let name = dir.file_name().unwrap().to_string_lossy();
    let home = work.join(format!("{name}-home"));
    let mut command = Command::new(PROGRAM);
    command
        // No proxy variables, and a home of its own, so no user settings or DHT state apply.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .args([
            "--no-conf=true",
            "--enable-dht6=false",
            "--enable-peer-exchange=false",
            "--bt-enable-lpd=false",
            "--disable-ipv6=true",
            "--interface=127.0.0.1",
            "--async-dns=false",
            "--file-allocation=none",
            "--summary-interval=0",
            "--enable-color=false",
            "--log-level=info",
        ])
        .arg(format!("--listen-port={port}"))
        .arg(format!("--stop-with-process={}", std::process::id()))
        .arg(flag("--log=", log))
        .arg(flag("--dir=", dir));
    match front_end {
        FrontEnd::Http => command.arg("--enable-dht=false"),
        // aria2 sends udp:// announces only from its DHT socket, so DHT must be on. It stays
        // silent with no entry point, a fresh empty routing table and a private torrent
        // (the caller's, see Client::needs_private); --interface keeps the socket on loopback.
        FrontEnd::Udp => command
            .arg("--enable-dht=true")
            .arg(format!("--dht-listen-port={}", free_udp_port()))
            .arg(flag("--dht-file-path=", &work.join(format!("{name}-dht.dat")))),
    };
    match role {
        // Check the file against the torrent, then seed until killed (the time bound and
        // --stop-with-process end it should the test die without its guards running).
        Role::Seed => command.args(["--check-integrity=true", "--seed-ratio=0.0", "--seed-time=5"]),
        // Seeding a moment first makes aria2 send event=completed before event=stopped.
        Role::Leech => command.args(["--seed-time=0.05", "--bt-stop-timeout=60"]),
    };
    command.arg(torrent);
    command
}

fn flag(name: &str, path: &Path) -> std::ffi::OsString {
    let mut flag = OsStr::new(name).to_os_string();
    flag.push(path);
    flag
}

/// A TCP port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A UDP port that was free a moment ago.
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
