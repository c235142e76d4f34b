//! retracker-load: a load generator for HTTP and UDP (BEP 15) trackers, and a bare baseline
//! server to compare against. See docs/benchmarks.md for how the figures there were taken
//! with it.

mod baseline;
mod check;
mod compare;
mod connection;
mod drive;
mod idle;
mod probe;
mod report;
mod udp_answer;
mod udp_baseline;
mod udp_batch;
mod udp_window;
mod workload;

use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum as _};

use compare::Reference;

use drive::{Client, Phase, Protocol, Stats};
use idle::Idle;
use udp_window::{Patience, UdpOptions};
use workload::{Shape, Workload};

#[derive(Parser)]
#[command(version, about = "Load generator for BitTorrent trackers, with a baseline server")]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Send announces and scrapes to a tracker and report throughput, latency and errors.
    Run(Box<RunArgs>),
    /// Serve fixed valid answers, as the ceiling to compare a tracker with.
    Baseline(BaselineArgs),
    /// Time dependent loads from memory, to tell a slower host from slower code between runs.
    Probe(ProbeArgs),
    /// Print the workload's info hashes in hex, one a line: a whitelist for trackers that
    /// need one (Debian's opentracker).
    Hashes(HashesArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The tracker's address (loopback).
    #[arg(long, default_value = "127.0.0.1:8080")]
    target: SocketAddr,
    /// `http`, or `udp` for BEP 15 (each connection is then a socket with a window of
    /// requests outstanding).
    #[arg(long, value_enum, default_value_t = Protocol::Http)]
    protocol: Protocol,
    /// Over UDP: seconds of silence after which a request is sent again.
    #[arg(long, default_value_t = 0.5)]
    udp_timeout: f64,
    /// Over UDP: sends of one request in all before it counts as an error.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    udp_tries: u32,
    /// Over UDP: requests each socket keeps outstanding, each for a different peer, sent and
    /// read in batches. A few sockets with wide windows cost the load generator least.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=udp_window::MAX_WINDOW as i64))]
    udp_window: u32,
    /// Keep-alive connections, each with its own share of the peers.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Threads of the load generator itself.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// How those threads wait for answers: `sleep`, or `poll` without sleeping, which needs
    /// CPUs of their own. Over loopback a server pays for waking a sleeping client; `poll`
    /// measures the server's own cost (see docs/benchmarks.md).
    #[arg(long, value_enum, default_value_t = Idle::Sleep)]
    idle: Idle,
    #[arg(long, default_value_t = 100_000)]
    torrents: u32,
    /// Distinct peers; every one is announced once before the measured phase.
    #[arg(long, default_value_t = 1_000_000)]
    peers: u32,
    /// Zipf exponent of torrent popularity (0: all equally popular).
    #[arg(long, default_value_t = 1.0)]
    skew: f64,
    /// Share of peers that start as seeders.
    #[arg(long, default_value_t = 0.5)]
    seeders: f64,
    /// Chance that an announce is a peer's last (event=stopped; it starts again later).
    #[arg(long, default_value_t = 0.01)]
    churn: f64,
    /// Share of requests that are scrapes.
    #[arg(long, default_value_t = 0.05)]
    scrapes: f64,
    #[arg(long, default_value_t = 50)]
    numwant: u32,
    /// Seconds of the measured phase.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Stop the measured phase after this many requests instead.
    #[arg(long)]
    requests: Option<u64>,
    /// Requests per second in all, on a fixed schedule; unset for as fast as answers come.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of unmeasured load before the measured phase.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Skip announcing every peer first.
    #[arg(long)]
    no_preload: bool,
    /// The tracker's process id, to report its memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Also measure the baseline server, with this many threads (give the tracker's count).
    #[arg(long)]
    baseline_threads: Option<usize>,
    /// CPUs to run the baseline server on (`taskset -c` list), to match a pinned tracker.
    #[arg(long)]
    baseline_cpus: Option<String>,
    /// Compare with another running server, e.g. the same tracker without forwarding, or
    /// another tracker; with a baseline too, all three are measured. It gets the same preload.
    #[arg(long)]
    versus: Option<SocketAddr>,
    /// The --versus server's process id, to report its CPU.
    #[arg(long, requires = "versus")]
    versus_pid: Option<u32>,
    /// With a baseline or --versus: measure each this many times, taking turns, and compare
    /// their medians, since a shared or virtual machine drifts from minute to minute.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// With a baseline or --versus: measure all at once, each on its own connections, and
    /// compare the requests each serves per CPU second (needs --pid, and --versus-pid for a
    /// --versus). Pin every server to one CPU: the machine's drift then moves all alike.
    #[arg(long)]
    side_by_side: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also serve a fake upstream tracker at this address (the baseline's fixed answers) on
    /// this tool's own threads, for a tracker that forwards to it: with `--idle poll` it is
    /// awake, as a remote upstream is to the tracker, which then pays for no wake-ups.
    #[arg(long)]
    upstream: Option<SocketAddr>,
    /// The `interval` the fake upstream states, in seconds: the tracker re-announces each
    /// client to it once per interval (within the tracker's bounds, one minute to an hour).
    #[arg(long, default_value_t = baseline::TYPICAL_INTERVAL_SECS, requires = "upstream")]
    upstream_interval: u32,
    /// Print a line every this many seconds of the measured phase (for long soak runs).
    #[arg(long)]
    report_every: Option<f64>,
}

impl RunArgs {
    /// What the reports call the server under test.
    fn tracker_name(&self) -> String {
        format!("tracker at {}", self.target)
    }

    fn udp_options(&self) -> UdpOptions {
        let patience =
            Patience { timeout: Duration::from_secs_f64(self.udp_timeout), tries: self.udp_tries };
        UdpOptions { patience, window: self.udp_window as usize }
    }
}

#[derive(Args)]
struct BaselineArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Runtime worker threads, as retracker's WORKER_THREADS.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Size of the fixed announce answer.
    #[arg(long, default_value_t = baseline::TYPICAL_ANSWER_BYTES)]
    announce_bytes: usize,
    /// Serve BEP 15 over UDP instead of HTTP.
    #[arg(long)]
    udp: bool,
}

#[derive(Args)]
struct HashesArgs {
    #[arg(long, default_value_t = 100_000)]
    torrents: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args)]
struct ProbeArgs {
    /// The buffer walked through: many times the L3, so that every load misses. At most
    /// 16,383 MiB: the walk's slots are 32-bit.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=16_383))]
    mib: u16,
    #[arg(long, default_value_t = 20_000_000)]
    steps: u64,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Mode::Run(args) => run(*args),
        Mode::Baseline(args) => serve_baseline(args),
        Mode::Probe(args) => {
            println!("{}", probe::memory_latency(args.mib.into(), args.steps, 1).line());
            ExitCode::SUCCESS
        }
        Mode::Hashes(args) => print_hashes(&args),
    }
}

fn print_hashes(args: &HashesArgs) -> ExitCode {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for torrent in 0..args.torrents {
        let hex: String =
            workload::info_hash(torrent, args.seed).iter().map(|b| format!("{b:02x}")).collect();
        if writeln!(out, "{hex}").is_err() {
            return ExitCode::FAILURE;
        }
    }
    if out.flush().is_err() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(idle::WORKER_THREAD)
        .enable_all()
        .build()
        .expect("the async runtime starts")
}

fn serve_baseline(args: BaselineArgs) -> ExitCode {
    if args.udp {
        return serve_udp_baseline(args);
    }
    runtime(args.threads).block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("retracker-load: cannot listen on {}: {error}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().expect("a bound socket has an address");
        println!("listening on {addr}");
        let _ = std::io::stdout().flush();
        let announce =
            baseline::announce_body(args.announce_bytes, baseline::TYPICAL_INTERVAL_SECS).into();
        baseline::serve(listener, announce, baseline::scrape_body().into()).await;
        ExitCode::SUCCESS
    })
}

fn serve_udp_baseline(args: BaselineArgs) -> ExitCode {
    runtime(args.threads).block_on(async {
        let socket = match tokio::net::UdpSocket::bind(args.listen).await {
            Ok(socket) => socket,
            Err(error) => {
                eprintln!("retracker-load: cannot listen on udp {}: {error}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        let addr = socket.local_addr().expect("a bound socket has an address");
        println!("listening on {addr}");
        let _ = std::io::stdout().flush();
        // On a worker thread, as retracker's receive loop: from this one, each wake-up would
        // pass through the worker that polls the socket, a second thread.
        let answers = udp_baseline::Answers::new(args.announce_bytes);
        let _ = tokio::spawn(udp_baseline::serve(socket, answers)).await;
        ExitCode::SUCCESS
    })
}

fn run(args: RunArgs) -> ExitCode {
    if args.torrents == 0 || args.peers < args.torrents || args.connections == 0 {
        eprintln!("retracker-load: need torrents ≥ 1, peers ≥ torrents and connections ≥ 1");
        return ExitCode::from(2);
    }
    if !(args.udp_timeout > 0.0 && args.udp_timeout <= 60.0) {
        eprintln!("retracker-load: --udp-timeout is in seconds, above 0 and at most 60");
        return ExitCode::from(2);
    }
    let reference_given = args.versus.is_some() || args.baseline_threads.is_some();
    let pids_given = args.pid.is_some() && (args.versus.is_none() || args.versus_pid.is_some());
    if args.side_by_side && !(reference_given && pids_given) {
        eprintln!(
            "retracker-load: --side-by-side compares CPU: it needs --baseline-threads or \
             --versus, with --pid (and --versus-pid)"
        );
        return ExitCode::from(2);
    }
    let shape = Shape {
        torrents: args.torrents,
        peers: args.peers,
        skew: args.skew,
        seeder_share: args.seeders,
        churn: args.churn,
        scrape_share: args.scrapes,
        numwant: args.numwant,
        seed: args.seed,
    };
    let workload = Arc::new(Workload::new(shape, args.target.to_string()));
    println!(
        "retracker-load: {} {} connections on {} thread(s) that {} for answers; {} torrents, {} \
         peers (skew {}), numwant {}, {:.0}% scrapes, churn {}",
        args.connections,
        args.protocol.to_possible_value().expect("no protocol is hidden").get_name(),
        args.threads,
        args.idle.to_possible_value().expect("no mode is hidden").get_name(),
        args.torrents,
        args.peers,
        args.skew,
        args.numwant,
        args.scrapes * 100.0,
        args.churn,
    );
    let runtime = runtime(args.threads);
    if args.idle == Idle::Poll {
        idle::keep_awake(&runtime, args.threads);
    }
    if let Some(addr) = args.upstream {
        match runtime.block_on(tokio::net::TcpListener::bind(addr)) {
            Ok(listener) => {
                println!("fake upstream at {addr}, on this tool's threads");
                let announce =
                    baseline::announce_body(baseline::TYPICAL_ANSWER_BYTES, args.upstream_interval)
                        .into();
                runtime.spawn(baseline::serve(listener, announce, baseline::scrape_body().into()));
            }
            Err(error) => {
                eprintln!("retracker-load: cannot serve a fake upstream on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    let (target, clients) = runtime.block_on(measure_target(&args, &workload));
    let mut failed = target.errors > 0;
    let mut references = Vec::new();
    if let Some(addr) = args.versus {
        references.push(Reference {
            role: "versus",
            name: format!("versus at {addr}"),
            addr,
            pid: args.versus_pid,
            child: None,
        });
    }
    if let Some(threads) = args.baseline_threads {
        // With no announce answered, a size of an answer without peers.
        let answer_bytes = match args.protocol {
            Protocol::Http => target.announce_answer_bytes.max(60),
            Protocol::Udp => target.announce_answer_bytes.max(udp_answer::ANNOUNCE_HEAD_LEN),
        };
        let cpus = args.baseline_cpus.as_deref();
        match start_baseline(threads, answer_bytes, cpus, args.protocol) {
            Ok((child, addr)) => references.push(Reference {
                role: "baseline",
                name: format!(
                    "baseline at {addr} ({threads} thread(s), {answer_bytes}-byte answers)"
                ),
                addr,
                pid: Some(child.id()),
                child: Some(child),
            }),
            Err(error) => {
                eprintln!("retracker-load: baseline server: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !references.is_empty() {
        failed |=
            runtime.block_on(compare::compare(&args, &workload, clients, target, references)) > 0;
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// What the comparison needs from a measured phase.
struct Measured {
    rate: f64,
    p99_ms: f64,
    /// The server's CPU meanwhile, in cores, given its pid.
    cores: Option<f64>,
    errors: u64,
    announce_answer_bytes: usize,
}

async fn measure_target(args: &RunArgs, workload: &Arc<Workload>) -> (Measured, Vec<Client>) {
    let clients = clients_of(args, workload, args.target);
    let rss_before = args.pid.and_then(report::rss_bytes);
    let (clients, preload_errors) = if args.no_preload {
        (clients, 0)
    } else {
        let started = Instant::now();
        let (clients, stats) = preload(clients, workload).await;
        println!("{}", report::phase_line("preload", &stats, started.elapsed()));
        print_errors(&stats);
        (clients, stats.error_count())
    };
    if let Some(pid) = args.pid {
        print_memory(pid, rss_before, args.peers);
    }
    let name = args.tracker_name();
    let (clients, mut measured) =
        measure(args, workload, clients, args.pid, "tracker", &name).await;
    if let Some(rss) = args.pid.and_then(report::rss_bytes) {
        println!("tracker RSS after the run: {:.1} MiB", report::mib(rss));
    }
    measured.errors += preload_errors;
    (measured, clients)
}

/// The simulated clients, one per connection, talking to `server`.
fn clients_of(args: &RunArgs, workload: &Arc<Workload>, server: SocketAddr) -> Vec<Client> {
    (0..args.connections)
        .map(|i| {
            let udp = args.udp_options();
            Client::new(workload, server, i, args.connections, args.protocol, udp)
        })
        .collect()
}

/// Announces every peer once, so that the measured phases run against full swarms.
async fn preload(clients: Vec<Client>, workload: &Arc<Workload>) -> (Vec<Client>, Stats) {
    drive::run_all(clients, workload, |mut client, workload| async move {
        let mut stats = Stats::new();
        client.preload(&workload, &mut stats).await;
        (client, stats)
    })
    .await
}

/// One warm-up and measured phase against the server the clients talk to, reported as `name`
/// (its CPU line as `role`'s).
async fn measure(
    args: &RunArgs,
    workload: &Arc<Workload>,
    clients: Vec<Client>,
    server: Option<u32>,
    role: &str,
    name: &str,
) -> (Vec<Client>, Measured) {
    report_phase(measured_phases(args, workload, clients, server).await, role, name)
}

/// Prints a measured phase as `name`'s (its CPU line as `role`'s) and keeps what a comparison
/// needs of it.
fn report_phase(phase: PhaseOutcome, role: &str, name: &str) -> (Vec<Client>, Measured) {
    let PhaseOutcome { clients, stats, elapsed, cores, runnable, own } = phase;
    println!("{}", report::phase_line(name, &stats, elapsed));
    print_cpu(role, cores, runnable);
    if let Some(own) = own {
        println!("{}", report::own_usage_line(own.cores, own.sleeps, report::requests(&stats)));
    }
    print_errors(&stats);
    let measured = Measured {
        rate: report::requests_per_second(&stats, elapsed),
        p99_ms: report::latency_ms(&stats, 0.99),
        cores,
        errors: stats.error_count(),
        announce_answer_bytes: stats.announce_body_bytes.checked_div(stats.announces).unwrap_or(0)
            as usize,
    };
    (clients, measured)
}

/// What one warm-up and measured phase gave.
struct PhaseOutcome {
    /// The clients, to go on with.
    clients: Vec<Client>,
    stats: Stats,
    elapsed: Duration,
    /// The server's CPU meanwhile, in cores, given its pid.
    cores: Option<f64>,
    /// The share of the time the server's threads were running or waiting for a CPU.
    runnable: Option<f64>,
    /// What the phase cost this tool, where /proc tells.
    own: Option<OwnUsage>,
}

/// What a measured phase cost the load generator itself: its CPU says whether it, not the
/// server, was the limit; each of its sleeps was a wake-up the server paid for, over loopback.
struct OwnUsage {
    cores: f64,
    sleeps: u64,
}

/// CPU seconds this process has used, and how often its runtime workers have slept.
fn own_usage_so_far() -> Option<(f64, u64)> {
    Some((report::cpu_seconds(std::process::id())?, idle::sleeps(idle::WORKER_THREAD)?))
}

/// The warm-up, then the measured phase against `server` (its pid, for its CPU).
async fn measured_phases(
    args: &RunArgs,
    workload: &Arc<Workload>,
    clients: Vec<Client>,
    server: Option<u32>,
) -> PhaseOutcome {
    let pace = args.rate.map(|rate| Duration::from_secs_f64(f64::from(args.connections) / rate));
    let warmup =
        Phase { until: Instant::now() + Duration::from_secs_f64(args.warmup), budget: None, pace };
    let (clients, warmup_stats) = drive::run_all(clients, workload, move |client, workload| {
        let phase = warmup.clone();
        run_phase(client, workload, phase)
    })
    .await;
    print_errors(&warmup_stats);
    let started = Instant::now();
    let cpu_before = server.and_then(report::cpu_seconds);
    let runnable_before = server.and_then(report::runnable_seconds);
    let own_before = own_usage_so_far();
    let until = started + Duration::from_secs_f64(args.duration);
    let budget = args.requests.map(|n| Arc::new(AtomicU64::new(n)));
    // With --report-every, the measured phase runs in slices with a line each, for soak runs.
    let slice = args.report_every.map_or(Duration::MAX, Duration::from_secs_f64);
    let mut clients = clients;
    let mut stats = Stats::new();
    loop {
        let slice_started = Instant::now();
        let slice_cpu = server.and_then(report::cpu_seconds);
        let phase = Phase {
            until: until.min(slice_started.checked_add(slice).unwrap_or(until)),
            budget: budget.clone(),
            pace,
        };
        let (returned, slice_stats) = drive::run_all(clients, workload, move |client, workload| {
            let phase = phase.clone();
            run_phase(client, workload, phase)
        })
        .await;
        clients = returned;
        stats.merge(&slice_stats);
        let done = Instant::now() >= until
            || budget.as_ref().is_some_and(|left| left.load(Ordering::Relaxed) == 0);
        if args.report_every.is_some() {
            print_slice(started, slice_started, &slice_stats, server, slice_cpu);
        }
        if done {
            break;
        }
    }
    let elapsed = started.elapsed();
    let cpu_after = server.and_then(report::cpu_seconds);
    let cores =
        cpu_before.zip(cpu_after).map(|(before, after)| (after - before) / elapsed.as_secs_f64());
    let runnable = runnable_before
        .zip(server.and_then(report::runnable_seconds))
        .map(|(before, after)| (after - before) / elapsed.as_secs_f64());
    let own = own_before.zip(own_usage_so_far()).map(|((cpu, sleeps), (cpu_now, sleeps_now))| {
        OwnUsage { cores: (cpu_now - cpu) / elapsed.as_secs_f64(), sleeps: sleeps_now - sleeps }
    });
    for (what, count) in warmup_stats.errors {
        *stats.errors.entry(format!("(warm-up) {what}")).or_default() += count;
    }
    PhaseOutcome { clients, stats, elapsed, cores, runnable, own }
}

async fn run_phase(mut client: Client, workload: Arc<Workload>, phase: Phase) -> (Client, Stats) {
    let mut stats = Stats::new();
    client.run(&workload, &phase, &mut stats).await;
    (client, stats)
}

/// Starts `retracker-load baseline` as a child process and reads the address it bound.
fn start_baseline(
    threads: usize,
    answer_bytes: usize,
    cpus: Option<&str>,
    protocol: Protocol,
) -> std::io::Result<(Child, SocketAddr)> {
    let exe = std::env::current_exe()?;
    // taskset execs the server in place, so the child's pid stays the server's.
    let mut command = match cpus {
        Some(cpus) => {
            let mut taskset = Command::new("taskset");
            taskset.args(["-c", cpus]).arg(exe);
            taskset
        }
        None => Command::new(exe),
    };
    let mut child = command
        .args([
            "baseline",
            "--threads",
            &threads.to_string(),
            "--announce-bytes",
            &answer_bytes.to_string(),
        ])
        .args((protocol == Protocol::Udp).then_some("--udp"))
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    BufReader::new(stdout).read_line(&mut line)?;
    match line.trim().strip_prefix("listening on ").and_then(|addr| addr.parse().ok()) {
        Some(addr) => Ok((child, addr)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(std::io::Error::other(format!("unexpected first line {line:?}")))
        }
    }
}

fn print_memory(pid: u32, before: Option<u64>, peers: u32) {
    let Some(after) = report::rss_bytes(pid) else {
        eprintln!("retracker-load: cannot read /proc/{pid}/status");
        return;
    };
    let per_peer = after as f64 / f64::from(peers);
    let mut line = format!(
        "tracker RSS with every peer live: {:.1} MiB = {per_peer:.0} B per peer",
        report::mib(after)
    );
    if let Some(before) = before {
        let added = after.saturating_sub(before) as f64 / f64::from(peers);
        line += &format!(
            " ({:.1} MiB before the preload; {added:.0} B per peer added)",
            report::mib(before)
        );
    }
    println!("{line}");
}

/// One slice of a long run: when, how fast, and the server's memory and CPU meanwhile.
fn print_slice(
    run_started: Instant,
    slice_started: Instant,
    stats: &Stats,
    server: Option<u32>,
    cpu_before: Option<f64>,
) {
    let name = format!("[{:>5.0} s]", run_started.elapsed().as_secs_f64());
    let mut line = report::phase_line(&name, stats, slice_started.elapsed());
    if let Some(pid) = server {
        if let Some(rss) = report::rss_bytes(pid) {
            line += &format!("; server RSS {:.1} MiB", report::mib(rss));
        }
        if let Some((before, after)) = cpu_before.zip(report::cpu_seconds(pid)) {
            line += &format!(
                ", CPU {:.0}%",
                100.0 * (after - before) / slice_started.elapsed().as_secs_f64()
            );
        }
    }
    println!("{line}");
    for line in report::error_lines(stats) {
        println!("{line}");
    }
}

/// The server's CPU use, and how much of the time it had work: near its thread count when
/// it, not the load generator, is the limit. On a shared core (side by side, or beside other
/// work) its CPU share is lower, and the runnable share tells whether it ever waited for us.
fn print_cpu(server: &str, cores: Option<f64>, runnable: Option<f64>) {
    let Some(cores) = cores else { return };
    let mut line =
        format!("{server} CPU during the measured phase: {:.0}% of one core", cores * 100.0);
    if let Some(runnable) = runnable {
        line += &format!("; running or ready to run {:.0}% of the time", runnable * 100.0);
    }
    println!("{line}");
}

fn print_errors(stats: &Stats) {
    for line in report::error_lines(stats) {
        println!("{line}");
    }
}
