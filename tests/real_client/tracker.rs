//! The tracker binary on loopback, HTTP and UDP on ports the system picks, logging each
//! request into the test's logs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::logs::Logs;
use crate::process::Process;

const TRACKER: &str = env!("CARGO_BIN_EXE_retracker");

pub struct Tracker {
    /// `IP:PORT` of the HTTP front end.
    pub http: String,
    /// `IP:PORT` of the UDP front end.
    pub udp: String,
    _process: Process,
}

impl Tracker {
    pub fn start(logs: &Logs) -> Self {
        Self::start_with(logs, &[])
    }

    /// `start`, with `extra` flags.
    pub fn start_with(logs: &Logs, extra: &[&str]) -> Self {
        let mut command = Command::new(TRACKER);
        // A short interval so clients that re-announce do so quickly; no settings from outside.
        command.env_clear().args(["-l", "127.0.0.1:0", "--udp", "127.0.0.1:0", "-d", "-i", "2"]);
        command.args(extra);
        let mut process = Process::spawn("tracker", &mut command, Stdio::piped());
        let stderr = process.child.stderr.take().unwrap();
        let (send_addrs, addrs) = std::sync::mpsc::channel();
        let lines = logs.lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // The start line names both addresses: `listen=IP:PORT udp=IP:PORT`.
                let field = |name: &str| {
                    line.split_whitespace().find_map(|w| w.strip_prefix(name)).map(str::to_owned)
                };
                if let (Some(http), Some(udp)) = (field("listen="), field("udp=")) {
                    let _ = send_addrs.send((http, udp));
                }
                lines.lock().unwrap().push(line);
            }
        });
        let (http, udp) = addrs.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| {
            panic!("the tracker logged no listen addresses\n{}", logs.report())
        });
        Self { http, udp, _process: process }
    }
}
