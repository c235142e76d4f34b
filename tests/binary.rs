//! The real binary: flags, environment, listening, the open file limit, and shutting down on
//! a signal.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::fake_upstream::{Behaviour, FakeUpstream};
use common::*;

const BINARY: &str = env!("CARGO_BIN_EXE_retracker");

fn retracker(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.args(args).env_remove("RUST_LOG");
    for key in [
        "LISTEN_ADDR",
        "UDP_LISTEN_ADDR",
        "PEER_AGE",
        "DEBUG_MODE",
        "X_REAL_IP",
        "CONFIG_FILE",
        "ENABLE_PROMETHEUS",
    ] {
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

    /// Every line not yet read; call it once the tracker has stopped, when the log ends.
    fn rest_of_log(&self) -> Vec<String> {
        self.stderr_lines.iter().collect()
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

    let output = retracker(&["-l", "off"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "neither HTTP nor UDP");
    assert!(String::from_utf8(output.stderr).unwrap().contains("invalid listen_addr: off"));
}

#[test]
fn udp_alone_answers_a_connect_and_stops_on_sigterm() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = Server::start(&mut retracker(&["-l", "off", "--udp", &addr]));
    let lines = server.wait_for_line("serving");
    let serving = lines.last().unwrap();
    assert!(
        serving.contains("listen=off") && serving.contains(&format!("udp={addr}")),
        "{serving}"
    );
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut connect = 0x0417_2710_1980u64.to_be_bytes().to_vec();
    connect.extend([0, 0, 0, 0, 0, 0, 0, 9]); // action connect, transaction id 9
    socket.send_to(&connect, &addr).unwrap();
    let mut answer = [0; 64];
    let (len, _) = socket.recv_from(&mut answer).unwrap();
    assert_eq!((len, answer[..8].to_vec()), (16, vec![0, 0, 0, 0, 0, 0, 0, 9]));
    let status = server.terminate();
    assert!(status.success(), "a clean exit on SIGTERM, got {status}");
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

/// A connection that had one request answered and is kept open (keep-alive).
fn idle_keep_alive_connection(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: tracker\r\n\r\n").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while !answer.ends_with(b"ok\n") {
        let read = stream.read(&mut chunk).unwrap();
        assert!(read > 0, "closed before answering: {answer:?}");
        answer.extend_from_slice(&chunk[..read]);
    }
    stream
}

/// A connection that has sent the start of a request head and no more, as a slow client does.
fn half_a_request(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"GET /announce?info_hash=").unwrap();
    stream
}

/// Whether the server closed `stream` (end of file, or a reset) within `patience`.
fn closed_by_server(stream: &mut TcpStream, patience: Duration) -> bool {
    use std::io::ErrorKind::{TimedOut, WouldBlock};
    stream.set_read_timeout(Some(patience)).unwrap();
    match stream.read(&mut [0u8; 1]) {
        Ok(read) => read == 0,
        Err(error) => !matches!(error.kind(), WouldBlock | TimedOut),
    }
}

/// Shutdown's grace period for requests in flight (src/app/run.rs).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[test]
fn sigterm_closes_connections_between_requests_at_once() {
    let port = free_port();
    let mut server = Server::start(&mut retracker(&["-l", &format!("127.0.0.1:{port}")]));
    server.wait_for_line("serving");
    let mut idle = idle_keep_alive_connection(port);
    let _silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _half_a_request = half_a_request(port);
    std::thread::sleep(Duration::from_millis(200)); // accepted and read by the tracker

    let asked = Instant::now();
    let status = server.terminate();
    let took = asked.elapsed();
    assert!(status.success(), "a clean exit on SIGTERM, got {status}");
    assert!(
        took < Duration::from_secs(1),
        "stopped {took:?} after SIGTERM; no request was in flight (the grace is {SHUTDOWN_GRACE:?})"
    );
    assert!(closed_by_server(&mut idle, Duration::from_secs(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_answers_a_request_in_flight_and_stops_as_soon_as_it_is_answered() {
    let delay = Duration::from_millis(1_500);
    let upstream_peer = "198.51.100.7:1007".parse().unwrap();
    let upstream = FakeUpstream::start(Behaviour::Slow { delay, peers: vec![upstream_peer] }).await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "- uri: {}", upstream.announce_url()).unwrap();
    let port = free_port();
    let path = file.path().to_string_lossy().into_owned();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Server::start(&mut retracker(&["-l", &listen, "-f", &path, "-t", "10"]));
    server.wait_for_line("serving");
    let _half_a_request = half_a_request(port);

    let base = format!("http://{listen}");
    let in_flight = tokio::spawn(async move { announce(&base, &Announce::new(1, 1)).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while upstream.requests().is_empty() {
        assert!(Instant::now() < deadline, "the announce never reached the upstream");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = Instant::now();
    let (status, _server) =
        tokio::task::spawn_blocking(move || (server.terminate(), server)).await.unwrap();
    let took = asked.elapsed();
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.peers, vec![SocketAddr::V4(upstream_peer)], "answered with the upstream's");
    assert!(status.success(), "a clean exit on SIGTERM, got {status}");
    assert!(
        took < delay + Duration::from_secs(1),
        "stopped {took:?} after SIGTERM: the request in flight needed under {delay:?}, and \
         the half-sent one nothing (the grace is {SHUTDOWN_GRACE:?})"
    );
}

/// Resident memory of process `pid`, in bytes.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Opens `count` connections to `port`, each with one announce answered and kept open.
fn idle_announce_connections(port: u16, count: usize) -> Vec<TcpStream> {
    let request =
        format!("GET /announce?{} HTTP/1.1\r\nHost: tracker\r\n\r\n", Announce::new(1, 1).query());
    let mut opened = Vec::with_capacity(count);
    let mut chunk = [0u8; 4096];
    for _ in 0..count {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // One small answer, bencoded: it ends with the dictionary's `e`.
        let mut answer = Vec::new();
        while !answer.ends_with(b"e") {
            let read = stream.read(&mut chunk).unwrap();
            assert!(read > 0, "closed before answering: {answer:?}");
            answer.extend_from_slice(&chunk[..read]);
        }
        opened.push(stream);
    }
    opened
}

/// What a connection costs the tracker's memory while it waits: one that has sent nothing
/// yet, and one kept alive after an answer (hyper's two 8 KiB buffers, its slot for an answer
/// in the works, the connection's task and watchdog; docs/limits.md). The figures for
/// docs/limits.md: `cargo test --release --test binary waiting_connection -- --nocapture`.
#[cfg(target_os = "linux")]
#[test]
fn a_waiting_connection_costs_little_memory() {
    const CONNECTIONS: usize = 2_000;
    let port = free_port();
    let mut command = retracker(&["-l", &format!("127.0.0.1:{port}")]);
    command.env("HEADER_READ_TIMEOUT", "600").env("MAX_CONNECTIONS_PER_IP", "0");
    let mut server = Server::start(&mut command);
    server.wait_for_line("serving");
    let pid = server.child.id();
    // Warm up: the runtime's and allocator's own first allocations are not a connection's.
    drop(idle_announce_connections(port, 200));
    std::thread::sleep(Duration::from_millis(500));

    let per_connection = |open: &dyn Fn() -> Vec<TcpStream>| {
        let before = resident_bytes(pid);
        let connections = open();
        std::thread::sleep(Duration::from_millis(500));
        let grown = resident_bytes(pid).saturating_sub(before);
        (grown / CONNECTIONS as u64, connections)
    };
    let connect =
        || (0..CONNECTIONS).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let (silent, _silent) = per_connection(&connect);
    let (idle, _idle) = per_connection(&|| idle_announce_connections(port, CONNECTIONS));
    eprintln!("RSS per connection: {silent} bytes having sent nothing, {idle} kept alive idle");
    // hyper's buffers alone are 16 KiB: a connection gets them once it sends something.
    assert!(silent < 8 * 1024, "{silent} bytes per connection that sent nothing");
    assert!(idle < 32 * 1024, "{idle} bytes per idle keep-alive connection");
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

/// A forwarders file holding `entries`.
fn forwarders_file(entries: &[String]) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for entry in entries {
        writeln!(file, "{entry}").unwrap();
    }
    file
}

fn upstream_with_peers(peers: &[&str]) -> Behaviour {
    Behaviour::Compact { peers: peers.iter().map(|p| p.parse().unwrap()).collect(), interval: 600 }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_debug_line_of_an_announce_counts_upstream_peers_too() {
    let upstream =
        FakeUpstream::start(upstream_with_peers(&["198.51.100.1:1001", "198.51.100.2:1002"])).await;
    let file = forwarders_file(&[format!("- uri: {}", upstream.announce_url())]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let path = file.path().to_string_lossy().into_owned();
    let mut server = Server::start(&mut retracker(&["-l", &listen, "-d", "-f", &path]));
    server.wait_for_line("serving");

    let answer = announce(&format!("http://{listen}"), &Announce::new(1, 1)).await;
    assert_eq!(answer.peers.len(), 2, "both upstream peers reached the client");
    let lines = server.wait_for_line("announce ip=");
    let line = lines.last().unwrap();
    assert!(line.contains("peers=2"), "{line}");
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarders_passwords_and_passkeys_stay_out_of_logs_and_metrics() {
    const PASSWORD: &str = "PASSWORDSECRET";
    const PASSKEY: &str = "PASSKEYSECRET";
    let upstream = FakeUpstream::start(upstream_with_peers(&["198.51.100.1:1001"])).await;
    let refused = free_port(); // nothing listens there: the forward fails
    let file = forwarders_file(&[
        format!("- uri: http://user:{PASSWORD}@{}/announce?passkey={PASSKEY}", upstream.addr),
        format!("- uri: http://user:{PASSWORD}@127.0.0.1:{refused}/announce?passkey={PASSKEY}"),
    ]);
    let listen = format!("127.0.0.1:{}", free_port());
    let path = file.path().to_string_lossy().into_owned();
    let mut server = Server::start(&mut retracker(&["-l", &listen, "-d", "-p", "-f", &path]));
    let mut log = server.wait_for_line("serving");

    let answer = announce(&format!("http://{listen}"), &Announce::new(1, 1)).await;
    assert_eq!(answer.peers.len(), 1);
    log.extend(server.wait_for_line("announce ip="));
    let (_, metrics) = get(&format!("http://{listen}/metrics")).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(server.terminate().success());
    log.extend(server.rest_of_log());

    let log = log.join("\n");
    assert!(
        log.contains(&format!("127.0.0.1:{refused}/announce")),
        "the forwarder is named: {log}"
    );
    assert!(log.contains("forward failed"), "{log}");
    assert!(upstream.requests()[0].param("passkey").as_deref() == Some(PASSKEY), "still sent");
    for secret in [PASSWORD, PASSKEY] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        assert!(!metrics.contains(secret), "{secret} in /metrics:\n{metrics}");
    }
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

/// A minimal image or a chroot has no CA store: http:// forwarders need none, so the tracker
/// starts there; https:// ones do, and start-up says which file it looked for and the fix.
#[test]
fn a_ca_store_is_needed_only_for_https_forwarders() {
    let missing = "/nonexistent/ca-certificates.crt";
    let http_only = forwarders_file(&["- uri: http://127.0.0.1:1/announce".into()]);
    let port = free_port();
    let path = http_only.path().to_string_lossy().into_owned();
    let mut command = retracker(&["-l", &format!("127.0.0.1:{port}"), "-f", &path]);
    command.env("SSL_CERT_FILE", missing).env_remove("SSL_CERT_DIR");
    let mut server = Server::start(&mut command);
    server.wait_for_line("serving");
    assert!(server.terminate().success());

    let https = forwarders_file(&["- uri: https://127.0.0.1:1/announce".into()]);
    let path = https.path().to_string_lossy().into_owned();
    let mut command = retracker(&["-l", "127.0.0.1:0", "-f", &path]);
    command.env("SSL_CERT_FILE", missing).env_remove("SSL_CERT_DIR");
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains(missing), "{text}");
    assert!(text.contains("ca-certificates") && text.contains("SSL_CERT_FILE"), "{text}");

    // With the system's store (the Debian file, as in the image) https:// ones start.
    let store = "/etc/ssl/certs/ca-certificates.crt";
    if std::path::Path::new(store).exists() {
        let port = free_port();
        let mut command = retracker(&["-l", &format!("127.0.0.1:{port}"), "-f", &path]);
        command.env("SSL_CERT_FILE", store).env_remove("SSL_CERT_DIR");
        let mut server = Server::start(&mut command);
        server.wait_for_line("serving");
        assert!(server.terminate().success());
    }
}
