//! The tracker against a reference server (the baseline, or another tracker): measured in
//! turns, comparing throughput, or side by side, comparing the requests each serves per CPU
//! second. This VM's speed drifts by a fifth within a minute, so turns need many rounds; side
//! by side, with both servers pinned to one CPU, a drift moves both alike.

use std::net::SocketAddr;
use std::process::Child;
use std::sync::Arc;
use std::time::Instant;

use crate::drive::Client;
use crate::workload::Workload;
use crate::{Measured, RunArgs, clients_of, measure, measured_phases, preload, print_errors};
use crate::{report, report_phase};

/// The server the tracker is compared with.
pub struct Reference {
    /// "baseline" or "versus", as the report calls it.
    pub role: &'static str,
    pub name: String,
    pub addr: SocketAddr,
    pub pid: Option<u32>,
    /// The baseline server, when this tool started it.
    pub child: Option<Child>,
}

/// Preloads the reference if it keeps state, compares it with the tracker as `args` asks and
/// prints the figure; stops the baseline this tool started. Returns the errors.
pub async fn compare(
    args: &RunArgs,
    workload: &Arc<Workload>,
    tracker_clients: Vec<Client>,
    first: Measured,
    mut reference: Reference,
) -> u64 {
    let mut clients = clients_of(args, workload, reference.addr);
    let mut errors = 0;
    // A baseline answers without state; another tracker needs the same peers as the first.
    if reference.child.is_none() && !args.no_preload {
        let started = Instant::now();
        let stats;
        (clients, stats) = preload(clients, workload).await;
        println!("{}", report::phase_line("preload (versus)", &stats, started.elapsed()));
        print_errors(&stats);
        errors += stats.error_count();
    }
    errors += if args.side_by_side {
        side_by_side(args, workload, tracker_clients, clients, &reference).await
    } else {
        in_turns(args, workload, tracker_clients, clients, first, &reference).await
    };
    if let Some(mut child) = reference.child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
    errors
}

fn numbered(args: &RunArgs, name: &str, round: u32) -> String {
    if args.rounds > 1 { format!("{name} (round {round})") } else { name.to_owned() }
}

/// Measures the reference after the tracker's first measured phase, then both again for the
/// remaining rounds, taking turns; prints the ratio of the medians.
async fn in_turns(
    args: &RunArgs,
    workload: &Arc<Workload>,
    mut tracker_clients: Vec<Client>,
    mut clients: Vec<Client>,
    first: Measured,
    reference: &Reference,
) -> u64 {
    let mut errors = 0;
    let (mut tracker, mut references) = (vec![first], Vec::new());
    for round in 1..=args.rounds {
        if round > 1 {
            let name = numbered(args, &args.tracker_name(), round);
            let measured;
            (tracker_clients, measured) =
                measure(args, workload, tracker_clients, args.pid, "tracker", &name).await;
            errors += measured.errors;
            tracker.push(measured);
        }
        let measured;
        let name = numbered(args, &reference.name, round);
        (clients, measured) =
            measure(args, workload, clients, reference.pid, reference.role, &name).await;
        errors += measured.errors;
        references.push(measured);
    }
    let rates = |phases: &[Measured]| phases.iter().map(|phase| phase.rate).collect::<Vec<_>>();
    let (tracker_rates, reference_rates) = (rates(&tracker), rates(&references));
    let (median, other) = (report::median(&tracker_rates), report::median(&reference_rates));
    let ratios: Vec<_> = tracker_rates.iter().zip(&reference_rates).map(|(t, o)| t / o).collect();
    println!(
        "ratio: the tracker's {median:.0}/s is {:.1}% of the {}'s {other:.0}/s{}",
        100.0 * median / other,
        reference.role,
        by_round(args.rounds, &percentages(&ratios)),
    );
    // Paced, the rates match by design and the tail is the figure; it drifts with the machine
    // as the rates do, so it too is a median of the rounds.
    if args.rate.is_some() {
        let p99s =
            |phases: &[Measured]| phases.iter().map(|phase| phase.p99_ms).collect::<Vec<_>>();
        println!("{}", p99_line(args.rounds, reference.role, &p99s(&tracker), &p99s(&references)));
    }
    errors
}

fn p99_line(rounds: u32, role: &str, tracker: &[f64], reference: &[f64]) -> String {
    let pairs: Vec<_> =
        tracker.iter().zip(reference).map(|(t, r)| format!("{t:.2}/{r:.2}")).collect();
    format!(
        "p99: the tracker's {:.3} ms against the {role}'s {:.3} ms{}",
        report::median(tracker),
        report::median(reference),
        by_round(rounds, &format!("{} ms", pairs.join(", "))),
    )
}

/// What a comparison over several rounds adds to its figure: that it is a median, and each
/// round's own.
fn by_round(rounds: u32, each: &str) -> String {
    if rounds > 1 {
        format!(" (medians of {rounds} rounds; round by round {each})")
    } else {
        String::new()
    }
}

/// Measures the tracker and the reference at once, each on its own connections, for every
/// round; prints the median of the rounds' ratios of requests per CPU second.
async fn side_by_side(
    args: &RunArgs,
    workload: &Arc<Workload>,
    mut tracker_clients: Vec<Client>,
    mut clients: Vec<Client>,
    reference: &Reference,
) -> u64 {
    let mut errors = 0;
    let (mut ratios, mut tracker_costs, mut reference_costs) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        let (tracker, mut other) = tokio::join!(
            measured_phases(args, workload, tracker_clients, args.pid),
            measured_phases(args, workload, clients, reference.pid),
        );
        // The tool's own usage is one figure for both; the tracker's report gives it.
        other.own = None;
        let tracker_name = numbered(args, &args.tracker_name(), round);
        let (tracker_measured, other_measured);
        (tracker_clients, tracker_measured) = report_phase(tracker, "tracker", &tracker_name);
        let other_name = numbered(args, &reference.name, round);
        (clients, other_measured) = report_phase(other, reference.role, &other_name);
        errors += tracker_measured.errors + other_measured.errors;
        let cpu = |measured: &Measured| measured.cores.filter(|cores| *cores > 0.0);
        let (Some(tracker_cores), Some(other_cores)) =
            (cpu(&tracker_measured), cpu(&other_measured))
        else {
            eprintln!("retracker-load: a side-by-side round without both servers' CPU figures");
            return errors.max(1);
        };
        let tracker_cost = report::cpu_micros_a_request(tracker_measured.rate, tracker_cores);
        let other_cost = report::cpu_micros_a_request(other_measured.rate, other_cores);
        // Requests per CPU second, the tracker's as a share of the reference's: the CPU each
        // used, not how the scheduler split the core between them, sets the figure.
        ratios.push(other_cost / tracker_cost);
        tracker_costs.push(tracker_cost);
        reference_costs.push(other_cost);
    }
    println!(
        "side by side: the tracker serves {:.1}% as many requests per CPU second as the {} \
         ({:.2} µs of CPU a request against {:.2} µs; medians of {} rounds; round by round {})",
        100.0 * report::median(&ratios),
        reference.role,
        report::median(&tracker_costs),
        report::median(&reference_costs),
        args.rounds,
        percentages(&ratios),
    );
    errors
}

fn percentages(ratios: &[f64]) -> String {
    ratios.iter().map(|ratio| format!("{:.1}%", 100.0 * ratio)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::p99_line;

    #[test]
    fn the_p99_line_gives_the_medians_and_each_round() {
        let line = p99_line(3, "baseline", &[0.5, 2.0, 0.7], &[0.4, 1.0, 0.3]);
        assert_eq!(
            line,
            "p99: the tracker's 0.700 ms against the baseline's 0.400 ms (medians of 3 rounds; \
             round by round 0.50/0.40, 2.00/1.00, 0.70/0.30 ms)"
        );
        assert_eq!(
            p99_line(1, "versus", &[1.25], &[1.0]),
            "p99: the tracker's 1.250 ms against the versus's 1.000 ms"
        );
    }
}
