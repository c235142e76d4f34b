//! The real binary: flags, environment, listening, the open file limit, and shutting down on
//! a signal.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BINARY: &str = env!("CARGO_BIN_EXE_retracker");

fn retracker(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.args(args).env_remove("RUST_LOG");
    for key in
        ["LISTEN_ADDR", "PEER_AGE", "DEBUG_MODE", "X_REAL_IP", "CONFIG_FILE", "ENABLE_PROMETHEUS"]
    {
        command.env_remove(key);
    }
    command
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A started binary, stopped by its process id when dropped.
struct Server {
    child: Child,
    stderr_lines: std::sync::mpsc::Receiver<String>,
}

impl Server {
    fn start(command: &mut Command) -> Self {
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, stderr_lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Self { child, stderr_lines }
    }

    /// Waits until a line containing `text` is logged, returning every line seen so far.
    fn wait_for_line(&self, text: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = self.stderr_lines.recv_timeout(Duration::from_millis(100)) {
                let found = line.contains(text);
                seen.push(line);
                if found {
                    return seen;
                }
            }
        }
        panic!("no line containing '{text}' within 20 s; saw {seen:#?}");
    }

    /// Every line logged within `period` from now.
    fn lines_within(&self, period: Duration) -> Vec<String> {
        let deadline = Instant::now() + period;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Ok(line) = self.stderr_lines.recv_timeout(left) {
                seen.push(line);
            }
        }
        seen
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: sends SIGTERM to the child we started, by its id.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the tracker did not stop within 15 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn help_lists_every_flag_and_environment_variable() {
    let output = retracker(&["-h"]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in ["-l", "-a", "-d", "-x", "-t", "-p", "-i", "-f", "-v", "-h"] {
        assert!(help.contains(&format!("{flag},")), "help lacks {flag}:\n{help}");
    }
    for var in [
        "LISTEN_ADDR",
        "PEER_AGE",
        "DEBUG_MODE",
        "X_REAL_IP",
        "FORWARD_TIMEOUT",
        "ENABLE_PROMETHEUS",
        "ANNOUNCE_INTERVAL",
        "FORWARDS_FILE",
        "MAX_TORRENTS",
    ] {
        assert!(help.contains(var), "help lacks {var}");
    }
    assert!(help.contains("[default: :80]"));
}

#[test]
fn version_prints_the_version() {
    let output = retracker(&["-v"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.trim(), format!("retracker {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_bad_setting_is_named_and_nothing_starts() {
    let output = retracker(&[]).env("PEER_AGE", "-3").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains("invalid peer_age"), "{text}");

    let output = retracker(&["-l", "nowhere"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr).unwrap().contains("invalid listen_addr"));
}

#[test]
fn a_failed_bind_says_why_and_suggests_a_port() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut output =
        retracker(&["-l", &addr]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let status = output.wait().unwrap();
    let mut text = String::new();
    output.stderr.take().unwrap().read_to_string(&mut text).unwrap();
    assert!(!status.success());
    assert!(text.contains(&format!("cannot listen on {addr}")), "{text}");
    assert!(text.contains("-l :8080"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn listening_on_a_bare_port_serves_ipv4_and_ipv6_and_sigterm_stops_it() {
    let port = free_port();
    let mut server = Server::start(&mut retracker(&["-l", &format!(":{port}"), "-d"]));
    server.wait_for_line("serving");

    let over_v4 = format!("http://127.0.0.1:{port}");
    let over_v6 = format!("http://[::1]:{port}");
    let (a, b) = (Announce::new(1, 1), Announce::new(1, 2));
    announce(&over_v4, &a).await;
    let answer = announce(&over_v6, &b).await;
    assert_eq!(answer.peers, vec![SocketAddr::from(([127, 0, 0, 1], a.port))]);
    let answer = announce(&over_v4, &a).await;
    assert_eq!(answer.peers, vec![SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, b.port))]);

    let lines = server.wait_for_line("announce");
    assert!(lines.iter().any(|line| line.contains("DEBUG")), "-d logs each request: {lines:#?}");

    let status = server.terminate();
    assert!(status.success(), "a clean exit on SIGTERM, got {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn environment_variables_configure_the_binary() {
    let port = free_port();
    let mut server = Server::start(
        retracker(&[])
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("ANNOUNCE_INTERVAL", "77"),
    );
    server.wait_for_line("serving");
    let answer = announce(&format!("http://127.0.0.1:{port}"), &Announce::new(1, 1)).await;
    assert_eq!(answer.interval, 77);
    assert!(server.terminate().success());
}

/// Runs `command` with its open file limits set to `soft` and `hard`.
fn with_open_file_limits(command: &mut Command, soft: u64, hard: u64) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only setrlimit runs, which is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// The soft and hard open file limits of process `pid`, as /proc shows them.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|line| line.starts_with("Max open files")).unwrap();
    let mut fields = line.trim_start_matches("Max open files").split_whitespace();
    (fields.next().unwrap().to_owned(), fields.next().unwrap().to_owned())
}

#[cfg(target_os = "linux")]
#[test]
fn the_soft_open_file_limit_is_raised_to_the_hard_limit() {
    let (_, hard) = open_file_limits(std::process::id());
    let Ok(hard) = hard.parse::<u64>() else {
        eprintln!("skipped: no finite hard open file limit here ({hard})");
        return;
    };
    if hard <= 512 {
        eprintln!("skipped: the hard open file limit, {hard}, leaves no room to raise");
        return;
    }
    let port = free_port();
    let mut command = retracker(&["-l", &format!("127.0.0.1:{port}")]);
    let mut server = Server::start(with_open_file_limits(&mut command, 512, hard));
    let lines = server.wait_for_line("serving");
    let (soft, _) = open_file_limits(server.child.id());
    assert_eq!(soft, hard.to_string(), "soft limit raised to the hard one; logged {lines:#?}");
    assert!(lines.iter().any(|line| line.contains("raised the open file limit")), "{lines:#?}");
    assert!(server.terminate().success());
}

#[cfg(target_os = "linux")]
#[test]
fn a_low_hard_limit_is_warned_of_and_failed_accepts_are_logged_once_a_minute() {
    let port = free_port();
    let mut command = retracker(&["-l", &format!("127.0.0.1:{port}")]);
    let mut server = Server::start(with_open_file_limits(&mut command, 64, 64));
    let lines = server.wait_for_line("serving");
    let warned = lines
        .iter()
        .chain(&server.lines_within(Duration::from_millis(300)))
        .any(|line| line.contains("open file limit is below") && line.contains("needed=10064"));
    assert!(warned, "a warning that 64 descriptors are too few: {lines:#?}");

    // More connections than descriptors: the rest wait in the backlog and every accept of
    // them fails, over and over.
    let _connections: Vec<TcpStream> =
        (0..100).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let lines = server.lines_within(Duration::from_millis(1_500));
    let failures = lines.iter().filter(|line| line.contains("accepting a connection failed"));
    assert_eq!(failures.count(), 1, "logged once, not every 50 ms: {lines:#?}");
    assert!(server.terminate().success());
}

#[test]
fn a_bad_forwarders_file_stops_start_up_naming_the_file_and_entry() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "- uri: http://127.0.0.1:1/announce\n- uri: gopher://127.0.0.1/x").unwrap();
    let path = file.path().to_string_lossy().into_owned();
    let output = retracker(&["-l", "127.0.0.1:0", "-f", &path]).output().unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains(&format!("forwarders file {path}")), "{text}");
    assert!(text.contains("entry 2 (uri \"gopher://127.0.0.1/x\")"), "{text}");
}

/// The tracker's heap is on transparent huge pages where the kernel gives them on request,
/// and `_RJEM_MALLOC_CONF=thp:never` turns that off (src/main.rs).
#[cfg(target_os = "linux")]
#[test]
fn the_heap_is_on_huge_pages_unless_turned_off() {
    let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
    if !mode.as_deref().is_ok_and(|mode| mode.contains("[madvise]")) {
        eprintln!("skipped: huge pages are not given on request here ({mode:?})");
        return;
    }
    for (options, huge) in [(None, true), (Some("thp:never"), false)] {
        let port = free_port();
        let mut command = retracker(&["-l", &format!("127.0.0.1:{port}")]);
        command.env_remove("_RJEM_MALLOC_CONF");
        if let Some(options) = options {
            command.env("_RJEM_MALLOC_CONF", options);
        }
        let mut server = Server::start(&mut command);
        server.wait_for_line("serving");
        let memory = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", server.child.id()));
        let huge_kib: u64 = memory
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix("AnonHugePages:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("smaps_rollup counts AnonHugePages");
        assert_eq!(huge_kib > 0, huge, "{options:?}: {huge_kib} KiB on huge pages");
        let status = server.terminate();
        assert!(status.success(), "{options:?}: stopped with {status}");
    }
}
