//! Turns what a phase recorded into the lines the user reads, and reads a process's RSS.

use std::time::Duration;

use crate::drive::Stats;

/// One line: rate, errors, latency percentiles and the typical announce answer.
pub fn phase_line(name: &str, stats: &Stats, elapsed: Duration) -> String {
    let total = requests(stats);
    let rate = requests_per_second(stats, elapsed);
    let ms = |quantile: f64| latency_ms(stats, quantile);
    let mut line = format!(
        "{name}: {total} requests in {:.1} s = {rate:.0}/s, {} errors; latency p50 {:.3} ms, p99 {:.3} ms, \
         p99.9 {:.3} ms, max {:.3} ms",
        elapsed.as_secs_f64(),
        stats.error_count(),
        ms(0.5),
        ms(0.99),
        ms(0.999),
        stats.latency.max() as f64 / 1000.0,
    );
    if stats.announces > 0 {
        let announces = stats.announces as f64;
        line += &format!(
            "; {:.0}-byte announce answers with {:.1} peers on average, {} scrapes",
            stats.announce_body_bytes as f64 / announces,
            stats.peers_received as f64 / announces,
            stats.scrapes,
        );
    }
    if stats.resends > 0 {
        line += &format!("; {} UDP requests sent again after a silence", stats.resends);
    }
    line
}

/// The most frequent errors, one per line, so a broken run says why.
pub fn error_lines(stats: &Stats) -> Vec<String> {
    let mut errors: Vec<_> = stats.errors.iter().collect();
    errors.sort_by(|a, b| b.1.cmp(a.1));
    errors.into_iter().take(5).map(|(what, count)| format!("  {count} × {what}")).collect()
}

/// Requests sent and settled, answered or not.
pub fn requests(stats: &Stats) -> u64 {
    stats.answered + stats.error_count()
}

pub fn requests_per_second(stats: &Stats, elapsed: Duration) -> f64 {
    requests(stats) as f64 / elapsed.as_secs_f64()
}

/// What a phase cost this tool: a tool at a full core may have been the limit, and each of
/// its sleeps was a wake-up the server paid for.
pub fn own_usage_line(cores: f64, sleeps: u64, requests: u64) -> String {
    format!(
        "load generator during the measured phase: {:.0}% of one core, its workers slept {sleeps} \
         times ({:.3} a request)",
        cores * 100.0,
        sleeps as f64 / requests.max(1) as f64,
    )
}

/// The latency at `quantile` of a phase, in milliseconds.
pub fn latency_ms(stats: &Stats, quantile: f64) -> f64 {
    stats.latency.value_at_quantile(quantile) as f64 / 1000.0
}

/// Microseconds of CPU a request at `rate` requests a second on `cores`.
pub fn cpu_micros_a_request(rate: f64, cores: f64) -> f64 {
    cores * 1e6 / rate
}

/// Resident set size of process `pid`, from `/proc/<pid>/status`.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time process `pid` has used, user and system, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields we want follow its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // /proc reports in USER_HZ, which Linux fixes at 100 for user space.
    Some(ticks as f64 / 100.0)
}

/// Seconds the threads of process `pid` have spent running or ready to run, waiting for a
/// CPU, from each one's `/proc/<pid>/task/<tid>/schedstat`; the rest of their time they
/// slept, waiting for work. A server runnable all the time is kept busy, whatever share of
/// the core others take from it.
pub fn runnable_seconds(pid: u32) -> Option<f64> {
    let mut nanos = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let Ok(line) = std::fs::read_to_string(task.path().join("schedstat")) else { continue };
        let mut fields = line.split_whitespace().map(str::parse::<u64>);
        if let (Some(Ok(running)), Some(Ok(waiting))) = (fields.next(), fields.next()) {
            nanos += running + waiting;
        }
    }
    Some(nanos as f64 / 1e9)
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The middle value (the mean of the middle two for an even count); NaN for none.
pub fn median(rates: &[f64]) -> f64 {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_gives_rate_errors_and_percentiles() {
        let mut stats = Stats::new();
        for micros in 1..=1000 {
            stats.latency.record(micros).unwrap();
        }
        stats.answered = 999;
        stats.errors.insert("HTTP status 500".into(), 1);
        stats.announces = 10;
        stats.announce_body_bytes = 1200;
        stats.peers_received = 25;
        let line = phase_line("target", &stats, Duration::from_secs(2));
        assert!(line.starts_with("target: 1000 requests in 2.0 s = 500/s, 1 errors;"), "{line}");
        assert!(line.contains("p50 0.500 ms, p99 0.990 ms"), "{line}");
        assert!(line.contains("120-byte announce answers with 2.5 peers"), "{line}");
        assert_eq!(error_lines(&stats), ["  1 × HTTP status 500"]);
    }

    #[test]
    fn a_request_costs_the_cpu_over_the_rate() {
        assert_eq!(cpu_micros_a_request(50_000.0, 0.5), 10.0);
        // At the same rate on half the CPU, half the cost.
        assert_eq!(cpu_micros_a_request(50_000.0, 0.25), 5.0);
        // Faster on more CPU than its speed buys: 60,000/s on 0.6 costs what 40,000/s on 0.4 does.
        let (faster, slower) =
            (cpu_micros_a_request(60_000.0, 0.6), cpu_micros_a_request(40_000.0, 0.4));
        assert!((faster - slower).abs() < 1e-9);
    }

    #[test]
    fn the_own_usage_line_gives_sleeps_a_request() {
        let line = own_usage_line(0.995, 40, 400);
        assert_eq!(
            line,
            "load generator during the measured phase: 100% of one core, its workers slept 40 \
             times (0.100 a request)"
        );
        assert!(own_usage_line(0.5, 3, 0).ends_with("(3.000 a request)"));
    }

    #[test]
    fn our_own_cpu_time_grows_as_we_work() {
        let before = cpu_seconds(std::process::id()).unwrap();
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while started.elapsed() < Duration::from_millis(100) {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        let after = cpu_seconds(std::process::id()).unwrap();
        assert!(after > before, "{before} → {after}");
    }

    #[test]
    fn a_spinning_thread_is_runnable_and_a_sleeping_one_is_not() {
        let pid = std::process::id();
        let before = runnable_seconds(pid).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let slept = runnable_seconds(pid).unwrap() - before;
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while started.elapsed() < Duration::from_millis(200) {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        let spun = runnable_seconds(pid).unwrap() - before - slept;
        // Other test threads may run meanwhile; this one adds its whole spin.
        assert!(spun >= 0.19 && spun > slept, "slept {slept}, spun {spun}");
    }

    #[test]
    fn our_own_rss_is_readable() {
        let rss = rss_bytes(std::process::id()).unwrap();
        assert!(rss > 1024 * 1024, "{rss}");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
        assert!(median(&[]).is_nan());
    }
}
