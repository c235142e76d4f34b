//! A `redis-server` of the test's own on a free loopback port, for two trackers to share,
//! killed by its pid when dropped. Skipped, loudly, where redis-server is missing, unless
//! RETRACKER_REQUIRE_REDIS=1 (as CI sets it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::Process;

pub struct Redis {
    pub port: u16,
    _dir: tempfile::TempDir,
    _process: Process,
}

impl Redis {
    /// Starts the server and waits until it answers PING; `None` (after saying why) when
    /// there is no redis-server to start.
    pub fn start() -> Option<Self> {
        if !installed() {
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path());
        let process = Process::spawn("redis-server", &mut command, Stdio::null());
        let redis = Self { port, _dir: dir, _process: process };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis.answers_ping() {
            assert!(Instant::now() < deadline, "redis-server did not answer within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let mut answer = [0; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }
}

fn installed() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return true;
    }
    let required = std::env::var("RETRACKER_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    assert!(!required, "redis-server is missing, and RETRACKER_REQUIRE_REDIS=1 says it must run");
    let _ = writeln!(
        std::io::stderr(),
        "\n*** real-client test skipped: redis-server is missing (apt-get install redis-server) ***\n"
    );
    false
}
