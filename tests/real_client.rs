//! End to end with a real, independently written BitTorrent client: one aria2 process seeds a
//! random file, a second downloads it, and the tracker binary on loopback is the only way they
//! can find each other (DHT, peer exchange and local peer discovery are off; aria2 has no
//! UPnP or NAT-PMP). Skipped, loudly, when aria2 is not installed, unless
//! RETRACKER_REQUIRE_REAL_CLIENT=1 says it must run.

mod common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use retracker::adapters::bencode::encode;
use sha1::{Digest, Sha1};

use common::scrape;

const TRACKER: &str = env!("CARGO_BIN_EXE_retracker");
const CLIENT: &str = "aria2c";
const SKIP_MESSAGE: &str = "real-client test skipped: install aria2 (apt-get install aria2)";
/// The whole exchange, from starting the tracker to the last scrape.
const TIME_LIMIT: Duration = Duration::from_secs(120);
const PIECE_LENGTH: usize = 256 * 1024;
/// Not a whole number of pieces, so the short last piece is exchanged too.
const FILE_LENGTH: usize = 4 * 1024 * 1024 + 12_345;
const FILE_NAME: &str = "payload.bin";

#[tokio::test(flavor = "multi_thread")]
async fn aria2_downloads_a_file_from_an_aria2_seeder_found_only_through_the_tracker() {
    if !client_is_installed() {
        let required = std::env::var("RETRACKER_REQUIRE_REAL_CLIENT").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{CLIENT} not found and RETRACKER_REQUIRE_REAL_CLIENT=1: {SKIP_MESSAGE}"
        );
        // Straight to the stream: libtest would hide eprintln! output of a passing test.
        let _ = writeln!(std::io::stderr(), "\n*** {SKIP_MESSAGE} ***\n");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let logs = Logs::new(work.path());
    match tokio::time::timeout(TIME_LIMIT, exchange(work.path(), &logs)).await {
        Ok(()) => {}
        Err(_) => panic!("the exchange took longer than {TIME_LIMIT:?}\n{}", logs.report()),
    }
}

fn client_is_installed() -> bool {
    match Command::new(CLIENT).arg("--version").stdout(Stdio::null()).status() {
        Ok(status) => status.success(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => panic!("cannot run {CLIENT}: {error}"),
    }
}

/// Tracker, seeder, leecher and checks. Each process is a guard, killed when this returns,
/// panics, or is dropped at the time limit.
async fn exchange(work: &Path, logs: &Logs) {
    let tracker = Tracker::start(logs);
    let announce_url = format!("http://{}/announce", tracker.addr);
    let base = format!("http://{}", tracker.addr);

    let seed_dir = work.join("seeder");
    let leech_dir = work.join("leecher");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::create_dir_all(&leech_dir).unwrap();
    let content = random_content(FILE_LENGTH);
    std::fs::write(seed_dir.join(FILE_NAME), &content).unwrap();
    let (torrent, info_hash) = torrent_file(&announce_url, FILE_NAME, &content);
    let torrent_path = work.join("payload.torrent");
    std::fs::write(&torrent_path, torrent).unwrap();

    let _seeder = Process::spawn(
        "seeder",
        client(work, "seeder", &seed_dir, &torrent_path)
            // Check the file against the torrent, then seed until killed (the time bound and
            // --stop-with-process end it should this test die without its guards running).
            .args(["--check-integrity=true", "--seed-ratio=0.0", "--seed-time=5"]),
    );
    // The leecher learns of the seeder from its first announce when the seeder's came first.
    let seeder_seen =
        wait_for_scrape(&base, info_hash, logs, |(complete, _, _)| complete == 1).await;
    assert_eq!(seeder_seen, (1, 0, 0), "one seeder, nothing else\n{}", logs.report());

    let mut leecher = Process::spawn(
        "leecher",
        client(work, "leecher", &leech_dir, &torrent_path)
            // Seeding a moment first makes aria2 send event=completed before event=stopped.
            .args(["--seed-time=0.05", "--bt-stop-timeout=60"]),
    );
    let status = leecher.wait().await;
    assert!(status.success(), "the leecher failed: {status}\n{}", logs.report());

    let downloaded = std::fs::read(leech_dir.join(FILE_NAME)).unwrap();
    assert_eq!(downloaded.len(), content.len(), "{}", logs.report());
    assert_eq!(sha1(&downloaded), sha1(&content), "the downloaded file differs\n{}", logs.report());

    // The leecher completed (counted once) and then stopped (removed); the seeder stays.
    let after = wait_for_scrape(&base, info_hash, logs, |(_, downloaded, incomplete)| {
        downloaded == 1 && incomplete == 0
    })
    .await;
    assert_eq!(after, (1, 1, 0), "(complete, downloaded, incomplete)\n{}", logs.report());
}

/// Scrapes until `done` holds for (complete, downloaded, incomplete), returning that answer;
/// the caller's time limit ends a wait that never succeeds.
async fn wait_for_scrape(
    base: &str,
    info_hash: [u8; 20],
    logs: &Logs,
    done: impl Fn((i64, i64, i64)) -> bool,
) -> (i64, i64, i64) {
    loop {
        let counts = scrape(base, &[info_hash]).await[0];
        if done(counts) {
            return counts;
        }
        logs.note(format!("scrape: (complete, downloaded, incomplete) = {counts:?}"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// aria2 set up to reach nothing but loopback and find peers only through the tracker.
fn client(work: &Path, name: &str, dir: &Path, torrent: &Path) -> Command {
    let port = free_port().to_string();
    let log = work.join(format!("{name}.aria2.log"));
    let mut command = Command::new(CLIENT);
    command
        // No proxy variables, and a home of its own, so no user settings or DHT state apply.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", work.join(format!("{name}-home")))
        .args([
            "--no-conf=true",
            "--enable-dht=false",
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
        .arg(flag("--log=", &log))
        .arg(flag("--dir=", dir))
        .arg(torrent);
    command
}

fn flag(name: &str, path: &Path) -> std::ffi::OsString {
    let mut flag = OsStr::new(name).to_os_string();
    flag.push(path);
    flag
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn random_content(len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::new();
    (0..len).map(|_| rng.u8(..)).collect()
}

fn sha1(bytes: &[u8]) -> [u8; 20] {
    Sha1::digest(bytes).into()
}

/// A single-file .torrent announcing only to `announce_url`, and its info hash.
fn torrent_file(announce_url: &str, name: &str, content: &[u8]) -> (Vec<u8>, [u8; 20]) {
    let mut pieces = Vec::new();
    for piece in content.chunks(PIECE_LENGTH) {
        pieces.extend_from_slice(&sha1(piece));
    }
    // Keys in sorted order, as bencode requires.
    let mut info = Vec::new();
    encode::dict_start(&mut info);
    encode::key_integer(&mut info, "length", content.len() as u64);
    encode::bytes(&mut info, b"name");
    encode::bytes(&mut info, name.as_bytes());
    encode::key_integer(&mut info, "piece length", PIECE_LENGTH as u64);
    encode::bytes(&mut info, b"pieces");
    encode::bytes(&mut info, &pieces);
    encode::end(&mut info);

    let mut torrent = Vec::new();
    encode::dict_start(&mut torrent);
    encode::bytes(&mut torrent, b"announce");
    encode::bytes(&mut torrent, announce_url.as_bytes());
    encode::bytes(&mut torrent, b"info");
    torrent.extend_from_slice(&info);
    encode::end(&mut torrent);
    (torrent, sha1(&info))
}

/// The tracker's log lines and the clients' log files, shown when the test fails.
struct Logs {
    work: PathBuf,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Logs {
    fn new(work: &Path) -> Self {
        Self { work: work.to_path_buf(), lines: Arc::default() }
    }

    fn note(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    fn report(&self) -> String {
        let mut report = String::from("--- tracker (-d) and scrapes ---\n");
        for line in self.lines.lock().unwrap().iter() {
            report.push_str(line);
            report.push('\n');
        }
        for name in ["seeder", "leecher"] {
            let path = self.work.join(format!("{name}.aria2.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // The tail is where a failure shows; the whole log can be long.
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            report.push_str(&format!("--- {name}: last lines of {} ---\n", path.display()));
            for line in tail.into_iter().rev() {
                report.push_str(line);
                report.push('\n');
            }
        }
        report
    }
}

/// The tracker binary on an address the system picks, logging each request.
struct Tracker {
    addr: String,
    _process: Process,
}

impl Tracker {
    fn start(logs: &Logs) -> Self {
        let mut command = Command::new(TRACKER);
        // A short interval so clients that re-announce do so quickly; no settings from outside.
        command.env_clear().args(["-l", "127.0.0.1:0", "-d", "-i", "2"]);
        let mut process = Process::spawn_piped("tracker", &mut command);
        let stderr = process.child.stderr.take().unwrap();
        let (send_addr, addr) = std::sync::mpsc::channel();
        let lines = logs.lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split_whitespace().find_map(|w| w.strip_prefix("listen="))
                {
                    let _ = send_addr.send(addr.to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = addr
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the tracker logged no listen address\n{}", logs.report()));
        Self { addr, _process: process }
    }
}

/// A started process, killed by its id when dropped.
struct Process {
    name: &'static str,
    child: Child,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command) -> Self {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {name}: {e}"));
        Self { name, child }
    }

    fn spawn_piped(name: &'static str, command: &mut Command) -> Self {
        command.stderr(Stdio::piped());
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {name}: {e}"));
        Self { name, child }
    }

    /// Waits for the process to exit; the caller's time limit bounds the wait.
    async fn wait(&mut self) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                eprintln!("the {} exited after {:?}", self.name, started.elapsed());
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Child::kill signals this child's own pid; a no-op error if it already exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
