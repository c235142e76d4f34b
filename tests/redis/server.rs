//! A `redis-server` of the test's own, on a free loopback port, killed by its process id.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether `redis-server` can be run here; says so loudly when the test is skipped.
pub fn redis_installed() -> bool {
    installed("redis-server", "--version", "redis-server")
}

/// Whether `program` runs (asked for its version with `version_argument`); a test that needs
/// it is skipped, loudly, without it, unless RETRACKER_REQUIRE_REDIS=1 makes that a failure.
pub fn installed(program: &str, version_argument: &str, package: &str) -> bool {
    let found = Command::new(program)
        .arg(version_argument)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            std::env::var("RETRACKER_REQUIRE_REDIS").as_deref() != Ok("1"),
            "{program} is missing and RETRACKER_REQUIRE_REDIS=1: apt-get install {package}"
        );
        eprintln!("SKIPPED: {program} is not installed (apt-get install {package})");
    }
    found
}

/// A `redis-server` of our own, killed by its process id when dropped.
pub struct Redis {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// Arguments beyond the port, the address, no persistence and the directory.
    pub extra: Vec<String>,
}

impl Redis {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_on(free_port(), extra)
    }

    pub fn start_on(port: u16, extra: &[&str]) -> Self {
        let mut redis = Self {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            extra: extra.iter().map(|arg| arg.to_string()).collect(),
        };
        redis.restart();
        redis
    }

    /// Starts the server again on the same port, after `kill`.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.answers_ping() {
            assert!(Instant::now() < deadline, "redis-server did not answer within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            // A server that wants a password is up too.
            && (&reply == b"+PONG\r\n" || &reply == b"-NOAUTH")
    }

    /// What `redis-cli` prints for `command` sent to this server.
    pub fn cli(&self, command: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(command)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn cluster_ok(&self) -> bool {
        self.cli(&["cluster", "info"]).contains("cluster_state:ok")
    }

    pub fn key_count(&self) -> u64 {
        self.cli(&["dbsize"]).trim().parse().unwrap_or(0)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
