//! The UDP mode is only worth its figures if it checks what it is answered: against a real
//! tracker it must see no error and compare with the UDP ceiling; against servers that answer
//! wrong (another transaction id, too many peers) or not at all, it must say so and fail.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::Arc;

use retracker::adapters::clock::SystemClock;
use retracker::app::{self, Config, Running};

/// Starts a tracker in this process that serves UDP only, on a port the system picks.
async fn start_udp(config: Config) -> (Running, SocketAddr) {
    let config =
        Config { listen_addr: "off".into(), udp_listen_addr: "127.0.0.1:0".into(), ..config };
    let running = app::start(&config, Arc::new(SystemClock)).await.expect("tracker starts");
    let addr = running.udp_local_addr().expect("UDP is on");
    (running, addr)
}

/// Runs `retracker-load run --protocol udp` against `target` for 400 requests.
async fn load(target: SocketAddr, extra: &[&str]) -> Output {
    load_for(target, "400", extra).await
}

async fn load_for(target: SocketAddr, requests: &str, extra: &[&str]) -> Output {
    load_on(target, "4", requests, extra).await
}

/// Runs `requests` requests against `target` from `connections` sockets.
async fn load_on(target: SocketAddr, connections: &str, requests: &str, extra: &[&str]) -> Output {
    let target = target.to_string();
    let mut args = vec!["run", "--protocol", "udp", "--target", &target];
    args.extend_from_slice(&["--connections", connections]);
    args.extend_from_slice(&["--torrents", "20", "--peers", "200", "--requests", requests]);
    args.extend_from_slice(&["--duration", "60", "--warmup", "0"]);
    args.extend_from_slice(extra);
    let args: Vec<String> = args.into_iter().map(String::from).collect();
    let command = move || Command::new(env!("CARGO_BIN_EXE_retracker-load")).args(&args).output();
    tokio::task::spawn_blocking(command).await.unwrap().expect("the load generator runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_tracker_is_measured_and_compared_with_the_udp_ceiling() {
    let (running, udp) = start_udp(Config::default()).await;
    let output = load(udp, &["--churn", "0", "--baseline-threads", "1"]).await;
    let stdout = stdout(&output);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("4 udp connections"), "{stdout}");
    let preload = stdout.lines().find(|line| line.starts_with("preload:")).expect(&stdout);
    assert!(preload.starts_with("preload: 200 requests in ") && preload.contains(" 0 errors"));
    let measured = stdout.lines().find(|line| line.starts_with("tracker at ")).expect(&stdout);
    assert!(measured.contains(": 400 requests in ") && measured.contains(" 0 errors"));
    // A swarm of ten peers on average: answers carry peers, 6 bytes each after 20.
    assert!(measured.contains("-byte announce answers with "), "{measured}");
    let baseline = stdout.lines().find(|line| line.starts_with("baseline at ")).expect(&stdout);
    assert!(baseline.contains(": 400 requests in ") && baseline.contains(" 0 errors"));
    assert!(stdout.contains("ratio: the tracker's "), "{stdout}");
    running.stop().await;
}

/// A fake BEP 15 server on this runtime: answers each datagram with what `answer` makes of
/// it (nothing for `None`).
async fn fake(answer: fn(&[u8]) -> Option<Vec<u8>>) -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut packet = [0u8; 2048];
        while let Ok((len, from)) = socket.recv_from(&mut packet).await {
            if let Some(answer) = answer(&packet[..len]) {
                let _ = socket.send_to(&answer, from).await;
            }
        }
    });
    addr
}

/// A well-formed answer to `request` with `peers` peers in announce answers, and the
/// transaction id `request`'s plus `shift`.
fn answer_to(request: &[u8], peers: usize, shift: u32) -> Vec<u8> {
    let action = u32::from_be_bytes(request[8..12].try_into().unwrap());
    let transaction = u32::from_be_bytes(request[12..16].try_into().unwrap()).wrapping_add(shift);
    let mut answer = [action.to_be_bytes(), transaction.to_be_bytes()].concat();
    match action {
        0 => answer.extend(42u64.to_be_bytes()),
        1 => {
            answer.extend([1800u32, 0, 100].iter().flat_map(|n| n.to_be_bytes()));
            answer.extend(std::iter::repeat_n([127, 0, 0, 1, 0x1a, 0xe1], peers).flatten());
        }
        _ => answer.extend([0u8; 12]),
    }
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_answer_passes_and_a_wrong_transaction_id_fails_the_run() {
    // The same fake with the right id passes: the failure below is the id's alone.
    let right = fake(|request| Some(answer_to(request, 3, 0))).await;
    let output = load(right, &["--no-preload"]).await;
    assert!(output.status.success(), "{}", stdout(&output));

    let wrong = fake(|request| Some(answer_to(request, 3, 1))).await;
    let output = load(wrong, &["--no-preload"]).await;
    let stdout = stdout(&output);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("while waiting for "), "{stdout}");
    let measured = stdout.lines().find(|line| line.starts_with("tracker at ")).expect(&stdout);
    assert!(measured.contains(": 400 requests in ") && !measured.contains(" 0 errors"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_peers_than_asked_for_fail_the_run() {
    let generous = fake(|request| Some(answer_to(request, 51, 0))).await;
    let output = load(generous, &["--no-preload"]).await;
    let stdout = stdout(&output);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("× 51 peers for num_want 50"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_is_retried_then_counted() {
    // Connects are answered, nothing else: every announce goes unanswered.
    let mute = fake(|request| (request[11] == 0).then(|| answer_to(request, 0, 0))).await;
    let patience = ["--no-preload", "--udp-timeout", "0.01", "--udp-tries", "2"];
    let output = load_for(mute, "20", &patience).await;
    let stdout = stdout(&output);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("× no answer to 2 tries"), "{stdout}");
    assert!(stdout.contains("UDP requests sent again after a silence"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tracker_and_the_ceiling_are_measured_in_one_run() {
    let (measured, udp) = start_udp(Config::default()).await;
    let (versus, other) = start_udp(Config::default()).await;
    let other = other.to_string();
    let three = ["--churn", "0", "--versus", &other, "--baseline-threads", "1", "--rounds", "2"];
    // Both trackers live in this process: its CPU stands for each, enough to see the lines.
    // Phases long enough for /proc's 10 ms ticks to count the baseline's CPU.
    let pid = std::process::id().to_string();
    let pids = ["--pid", &pid, "--versus-pid", &pid];
    let output = load_for(udp, "4000", &[&three[..], &pids].concat()).await;
    let stdout = stdout(&output);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let lines = |start: &str| stdout.lines().filter(|line| line.starts_with(start)).count();
    assert_eq!(lines("tracker at "), 2, "{stdout}");
    assert_eq!((lines("versus at "), lines("baseline at ")), (2, 2), "{stdout}");
    assert!(!stdout.contains(" 0% of one core"), "{stdout}");
    assert!(stdout.contains("preload (versus): 200 requests"), "{stdout}");
    assert_eq!(lines("preload ("), 1, "the ceiling keeps no state: {stdout}");
    let ratios: Vec<_> = stdout.lines().filter(|line| line.starts_with("ratio: ")).collect();
    assert_eq!(ratios.len(), 2, "{stdout}");
    assert!(ratios[0].contains("of the versus's") && ratios[1].contains("of the baseline's"));
    let per_cpu: Vec<_> =
        stdout.lines().filter(|line| line.starts_with("per CPU second: ")).collect();
    assert_eq!(per_cpu.len(), 2, "{stdout}");
    assert!(per_cpu[0].contains("as the versus (") && per_cpu[1].contains("as the baseline ("));
    assert!(stdout.contains("of one core; running or ready to run "), "{stdout}");
    measured.stop().await;
    versus.stop().await;
}

/// With many requests outstanding on each socket, answers come back in batches and in any
/// order: each must still be matched to its own request and checked.
const WINDOW: [&str; 2] = ["--udp-window", "16"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_of_requests_is_answered_without_error_by_a_real_tracker() {
    let (running, udp) = start_udp(Config::default()).await;
    let output = load(udp, &[&WINDOW[..], &["--churn", "0"]].concat()).await;
    let stdout = stdout(&output);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let measured = stdout.lines().find(|line| line.starts_with("tracker at ")).expect(&stdout);
    assert!(measured.contains(": 400 requests in ") && measured.contains(" 0 errors"));
    assert!(!stdout.contains("sent again"), "loopback loses nothing here: {stdout}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_still_catches_a_wrong_transaction_id_and_too_many_peers() {
    let right = fake(|request| Some(answer_to(request, 3, 0))).await;
    let output = load(right, &[&WINDOW[..], &["--no-preload"]].concat()).await;
    assert!(output.status.success(), "{}", stdout(&output));

    // Connects are answered right, so that windows fill. Shifted by one, an announce's
    // answer names the next place in the window, where another request is outstanding: it
    // must not pass for that one's answer.
    let shifted = fake(|request| Some(answer_to(request, 3, u32::from(request[11] != 0)))).await;
    let output = load(shifted, &[&WINDOW[..], &["--no-preload"]].concat()).await;
    let stdout_shifted = stdout(&output);
    assert!(!output.status.success(), "{stdout_shifted}");
    assert!(stdout_shifted.contains("while waiting for "), "{stdout_shifted}");
    let measured = stdout_shifted.lines().find(|line| line.starts_with("tracker at ")).unwrap();
    // Every request fails on its wrong answer; none is taken as answered and none waits.
    assert!(measured.contains(": 400 requests in ") && measured.contains(" 400 errors"));
    assert!(!stdout_shifted.contains("sent again"), "{stdout_shifted}");

    let generous = fake(|request| Some(answer_to(request, 51, 0))).await;
    let output = load(generous, &[&WINDOW[..], &["--no-preload"]].concat()).await;
    let stdout = stdout(&output);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("× 51 peers for num_want 50"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_retries_silence_then_counts_it() {
    let mute = fake(|request| (request[11] == 0).then(|| answer_to(request, 0, 0))).await;
    let patience = ["--no-preload", "--udp-timeout", "0.01", "--udp-tries", "2"];
    let output = load_for(mute, "40", &[&WINDOW[..], &patience].concat()).await;
    let stdout = stdout(&output);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("× no answer to 2 tries"), "{stdout}");
    let measured = stdout.lines().find(|line| line.starts_with("tracker at ")).expect(&stdout);
    assert!(measured.contains(": 40 requests in "), "{measured}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_wider_than_a_batch_sends_every_request_again_once() {
    let mute = fake(|request| (request[11] == 0).then(|| answer_to(request, 0, 0))).await;
    // One socket for all 200 peers: 200 requests due again at once, in several batches.
    let wide = ["--no-preload", "--udp-window", "200", "--udp-timeout", "0.01", "--udp-tries", "2"];
    let output = load_on(mute, "1", "300", &wide).await;
    let stdout = stdout(&output);
    assert!(!output.status.success(), "{stdout}");
    let measured = stdout.lines().find(|line| line.starts_with("tracker at ")).expect(&stdout);
    assert!(measured.contains(": 300 requests in ") && measured.contains(" 300 errors"));
    assert!(measured.ends_with("; 300 UDP requests sent again after a silence"), "{measured}");
    assert!(stdout.contains("300 × no answer to 2 tries"), "{stdout}");
}
