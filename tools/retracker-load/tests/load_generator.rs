//! The load generator is only worth its figures if it checks what it is answered: run it
//! against a healthy tracker (no errors, a ratio to the baseline) and against one that
//! refuses (it must say so and fail).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::sync::Arc;

use retracker::adapters::clock::SystemClock;
use retracker::app::{self, Config, Running};

struct Tracker {
    running: Running,
    base: String,
}

/// Starts a tracker in this process on a port the system picks.
async fn start(config: Config) -> Tracker {
    let config = Config { listen_addr: "127.0.0.1:0".into(), ..config };
    let running = app::start(&config, Arc::new(SystemClock)).await.expect("tracker starts");
    let base = format!("http://{}", running.local_addr().expect("HTTP is on"));
    Tracker { running, base }
}

/// The body of `GET path` from `base`, over a connection that closes after the answer.
async fn get(base: &str, path: &str) -> String {
    let host = base.trim_start_matches("http://").to_owned();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let fetch = move || {
        let mut stream = TcpStream::connect(&host)?;
        stream.write_all(request.as_bytes())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::task::spawn_blocking(fetch).await.unwrap().expect("an answer");
    let (_, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    body.to_owned()
}

/// Runs `retracker-load run` against `base` for a few hundred requests.
async fn load(base: &str, extra: &[&str]) -> Output {
    let target = base.trim_start_matches("http://").to_owned();
    let mut args = vec![
        "run",
        "--target",
        &target,
        "--connections",
        "4",
        "--torrents",
        "20",
        "--peers",
        "200",
    ];
    args.extend_from_slice(&["--requests", "400", "--duration", "60", "--warmup", "0"]);
    args.extend_from_slice(extra);
    let args: Vec<String> = args.into_iter().map(String::from).collect();
    let command = move || Command::new(env!("CARGO_BIN_EXE_retracker-load")).args(&args).output();
    tokio::task::spawn_blocking(command).await.unwrap().expect("the load generator runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_tracker_is_measured_and_compared_with_the_baseline() {
    let config = Config { enable_prometheus: true, ..Config::default() };
    let tracker = start(config).await;
    let pid = std::process::id().to_string();
    // No churn: every peer stays, so the tracker's counts are known.
    let output =
        load(&tracker.base, &["--churn", "0", "--baseline-threads", "1", "--pid", &pid]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));

    let preload = stdout.lines().find(|line| line.starts_with("preload:")).expect(&stdout);
    assert!(
        preload.starts_with("preload: 200 requests in ") && preload.contains(" 0 errors"),
        "{preload}"
    );
    let measured = stdout.lines().find(|line| line.starts_with("tracker at ")).expect(&stdout);
    assert!(
        measured.contains(": 400 requests in ") && measured.contains(" 0 errors"),
        "{measured}"
    );
    assert!(stdout.contains("tracker RSS with every peer live: "), "{stdout}");
    let baseline = stdout.lines().find(|line| line.starts_with("baseline at ")).expect(&stdout);
    assert!(
        baseline.contains(": 400 requests in ") && baseline.contains(" 0 errors"),
        "{baseline}"
    );
    assert!(stdout.contains("ratio: the tracker's "), "{stdout}");
    // Waiting for answers, the default way, its workers slept in the kernel.
    assert!(worker_sleeps(&stdout).iter().all(|&sleeps| sleeps > 0), "{stdout}");

    // The preload announced every peer, in every torrent, and none stopped.
    let metrics = get(&tracker.base, "/metrics").await;
    assert!(metrics.lines().any(|line| line == "retracker_torrents 20"), "{metrics}");
    let peers: f64 = metrics
        .lines()
        .filter(|line| line.starts_with("retracker_peers{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(peers, 200.0, "{metrics}");
    tracker.running.stop().await;
}

/// How often the load generator's workers slept in each measured phase, as it reports.
fn worker_sleeps(stdout: &str) -> Vec<u64> {
    let sleeps: Vec<u64> = stdout
        .lines()
        .filter_map(|line| line.split_once("its workers slept ")?.1.split(' ').next()?.parse().ok())
        .collect();
    assert!(!sleeps.is_empty(), "no load generator line: {stdout}");
    sleeps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_load_generator_does_not_sleep_waiting_for_answers() {
    let tracker = start(Config::default()).await;
    let output = load(&tracker.base, &["--idle", "poll", "--baseline-threads", "1"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("thread(s) that poll for answers"), "{stdout}");
    // Against the tracker and the baseline alike: 400 answers each, next to no sleeps (a
    // sleeping client sleeps about once an answer).
    let sleeps = worker_sleeps(&stdout);
    assert_eq!(sleeps.len(), 2, "{stdout}");
    assert!(sleeps.iter().all(|&sleeps| sleeps < 20), "{stdout}");
    tracker.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_upstream_it_serves_answers_a_forwarding_tracker() {
    // A free port for the upstream, which only the load generator will serve.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut forwarders = tempfile::NamedTempFile::new().unwrap();
    writeln!(forwarders, "- uri: http://{upstream}/announce\n  name: fake").unwrap();
    let config = Config {
        enable_prometheus: true,
        forwards_file: forwarders.path().to_string_lossy().into_owned(),
        ..Config::default()
    };
    let tracker = start(config).await;
    let upstream = upstream.to_string();
    let output = load(&tracker.base, &["--idle", "poll", "--upstream", &upstream]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(&format!("fake upstream at {upstream}")), "{stdout}");

    // Each torrent's first announce was forwarded, and answered with the fixed peer list.
    let metrics = get(&tracker.base, "/metrics").await;
    let ok = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(r#"retracker_forwards_total{forwarder="fake",outcome="ok"} "#)
        })
        .and_then(|value| value.parse::<f64>().ok());
    assert!(ok.is_some_and(|forwards| forwards >= 20.0), "{metrics}");
    tracker.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_reasons_are_counted_as_errors_and_fail_the_run() {
    // Room for 5 torrents only: announces for the other 15 get a failure reason.
    let tracker = start(Config { max_torrents: 5, ..Config::default() }).await;
    let output = load(&tracker.base, &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("× failure reason: "), "{stdout}");
    let measured = stdout.lines().find(|line| line.starts_with("tracker at ")).expect(&stdout);
    assert!(!measured.contains(" 0 errors"), "{measured}");
    tracker.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_trackers_are_compared_in_rounds_each_preloaded() {
    let config = || Config { enable_prometheus: true, ..Config::default() };
    let (measured, versus) = (start(config()).await, start(config()).await);
    let other = versus.base.trim_start_matches("http://").to_owned();
    let output = load(&measured.base, &["--churn", "0", "--versus", &other, "--rounds", "3"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let lines = |start: &str| stdout.lines().filter(|line| line.starts_with(start)).count();
    assert_eq!((lines("tracker at "), lines("versus at ")), (3, 3), "{stdout}");
    assert!(stdout.contains("preload (versus): 200 requests"), "{stdout}");
    let ratio = stdout.lines().find(|line| line.starts_with("ratio: ")).expect(&stdout);
    assert!(ratio.contains("of the versus's") && ratio.contains("medians of 3 rounds"), "{ratio}");
    assert!(!stdout.contains("\np99: "), "unpaced, the rates are the figure: {stdout}");
    // The reference got the same peers as the measured tracker.
    let metrics = get(&versus.base, "/metrics").await;
    assert!(metrics.lines().any(|line| line == "retracker_torrents 20"), "{metrics}");
    measured.running.stop().await;
    versus.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_rounds_compare_the_tails_with_the_baseline() {
    let tracker = start(Config::default()).await;
    let paced = ["--churn", "0", "--rate", "4000", "--rounds", "2", "--baseline-threads", "1"];
    let output = load(&tracker.base, &paced).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let p99 = stdout.lines().find(|line| line.starts_with("p99: ")).expect(&stdout);
    assert!(p99.contains("the tracker's ") && p99.contains(" ms against the baseline's "), "{p99}");
    // Two rounds, each a pair of tails.
    let rounds = p99.split_once("round by round ").expect(p99).1;
    assert_eq!(rounds.matches('/').count(), 2, "{p99}");
    tracker.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_trackers_are_compared_side_by_side_by_their_cpu() {
    let (measured, versus) = (start(Config::default()).await, start(Config::default()).await);
    let other = versus.base.trim_start_matches("http://").to_owned();
    // Both trackers live in this test process, so each side's CPU figure is the process's.
    let pid = std::process::id().to_string();
    let comparison = ["--churn", "0", "--versus", &other, "--rounds", "2", "--side-by-side"];
    let refused = load(&measured.base, &comparison).await;
    assert_eq!(refused.status.code(), Some(2), "without pids there is no CPU to compare");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--side-by-side compares CPU"));

    let pids = ["--pid", &pid, "--versus-pid", &pid];
    let output = load(&measured.base, &[&comparison[..], &pids].concat()).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let lines = |start: &str| stdout.lines().filter(|line| line.starts_with(start)).count();
    // The first line is the tracker alone, before the versus is preloaded; then two rounds.
    assert_eq!((lines("tracker at "), lines("versus at ")), (3, 2), "{stdout}");
    assert_eq!(lines("load generator during the measured phase"), 3, "once a phase: {stdout}");
    let side = stdout.lines().find(|line| line.starts_with("side by side: ")).expect(&stdout);
    assert!(side.contains("requests per CPU second as the versus"), "{side}");
    assert!(side.contains("medians of 2 rounds"), "{side}");
    assert!(!stdout.contains("ratio: "), "no ratio in turns: {stdout}");
    measured.running.stop().await;
    versus.running.stop().await;
}

#[test]
fn the_memory_probe_reports_a_latency_for_the_walk_it_was_asked() {
    let output = Command::new(env!("CARGO_BIN_EXE_retracker-load"))
        .args(["probe", "--mib", "2", "--steps", "50000"])
        .output()
        .expect("the load generator runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let (far, rest) = stdout
        .strip_prefix("memory: ")
        .and_then(|rest| rest.split_once(" ns a dependent load over 2 MiB, "))
        .expect(&stdout);
    let near = rest
        .trim_end()
        .strip_suffix(" ns within the L1 (50000 steps of a random walk each)")
        .expect(&stdout);
    for nanos in [far, near] {
        assert!(nanos.parse::<f64>().is_ok_and(|nanos| nanos > 0.0), "{stdout}");
    }

    // A walk past its 32-bit slots is refused up front, not a panic.
    let refused = Command::new(env!("CARGO_BIN_EXE_retracker-load"))
        .args(["probe", "--mib", "16384"])
        .output()
        .expect("the load generator runs");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not in 1..=16383"));
}
