//! The tracker against reference servers (the baseline, another tracker, or both): measured
//! in turns, comparing throughput, or side by side, comparing the requests each serves per
//! CPU second. This VM's speed drifts by a fifth within a minute, so turns need many rounds;
//! side by side, with every server pinned to one CPU, a drift moves all alike.

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

/// Preloads each reference that keeps state, compares each with the tracker as `args` asks
/// and prints the figures; stops the baseline this tool started. Returns the errors.
pub async fn compare(
    args: &RunArgs,
    workload: &Arc<Workload>,
    tracker_clients: Vec<Client>,
    first: Measured,
    mut references: Vec<Reference>,
) -> u64 {
    let mut errors = 0;
    let mut others = Vec::with_capacity(references.len());
    for reference in &references {
        let mut clients = clients_of(args, workload, reference.addr);
        // A baseline answers without state; another tracker needs the same peers as the first.
        if reference.child.is_none() && !args.no_preload {
            let started = Instant::now();
            let stats;
            (clients, stats) = preload(clients, workload).await;
            let name = format!("preload ({})", reference.role);
            println!("{}", report::phase_line(&name, &stats, started.elapsed()));
            print_errors(&stats);
            errors += stats.error_count();
        }
        others.push(clients);
    }
    errors += if args.side_by_side {
        side_by_side(args, workload, tracker_clients, others, &references).await
    } else {
        in_turns(args, workload, tracker_clients, others, first, &references).await
    };
    for reference in &mut references {
        if let Some(mut child) = reference.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    errors
}

fn numbered(args: &RunArgs, name: &str, round: u32) -> String {
    if args.rounds > 1 { format!("{name} (round {round})") } else { name.to_owned() }
}

/// Measures each reference after the tracker's first measured phase, then all again for the
/// remaining rounds, taking turns; prints the ratio of the medians to each.
async fn in_turns(
    args: &RunArgs,
    workload: &Arc<Workload>,
    mut tracker_clients: Vec<Client>,
    mut others: Vec<Vec<Client>>,
    first: Measured,
    references: &[Reference],
) -> u64 {
    let mut errors = 0;
    let mut tracker = vec![first];
    let mut measured: Vec<Vec<Measured>> = references.iter().map(|_| Vec::new()).collect();
    for round in 1..=args.rounds {
        if round > 1 {
            let name = numbered(args, &args.tracker_name(), round);
            let phase;
            (tracker_clients, phase) =
                measure(args, workload, tracker_clients, args.pid, "tracker", &name).await;
            errors += phase.errors;
            tracker.push(phase);
        }
        for ((reference, clients), phases) in references.iter().zip(&mut others).zip(&mut measured)
        {
            let name = numbered(args, &reference.name, round);
            let phase;
            (*clients, phase) = measure(
                args,
                workload,
                std::mem::take(clients),
                reference.pid,
                reference.role,
                &name,
            )
            .await;
            errors += phase.errors;
            phases.push(phase);
        }
    }
    let rates = |phases: &[Measured]| phases.iter().map(|phase| phase.rate).collect::<Vec<_>>();
    let tracker_rates = rates(&tracker);
    let median = report::median(&tracker_rates);
    for (reference, phases) in references.iter().zip(&measured) {
        let reference_rates = rates(phases);
        let other = report::median(&reference_rates);
        let ratios: Vec<_> =
            tracker_rates.iter().zip(&reference_rates).map(|(t, o)| t / o).collect();
        println!(
            "ratio: the tracker's {median:.0}/s is {:.1}% of the {}'s {other:.0}/s{}",
            100.0 * median / other,
            reference.role,
            by_round(args.rounds, &percentages(&ratios)),
        );
        // Each server alone gets the whole load: where one load thread cannot keep several
        // servers busy at once (UDP), this compares them busy, per CPU second.
        let costs = |phases: &[Measured]| -> Option<Vec<f64>> {
            let cost = |phase: &Measured| {
                let cores = phase.cores.filter(|cores| *cores > 0.0)?;
                Some(report::cpu_micros_a_request(phase.rate, cores))
            };
            phases.iter().map(cost).collect()
        };
        if let (Some(tracker_costs), Some(reference_costs)) = (costs(&tracker), costs(phases)) {
            let ratios: Vec<_> =
                tracker_costs.iter().zip(&reference_costs).map(|(t, r)| r / t).collect();
            println!(
                "per CPU second: the tracker serves {:.1}% as many requests as the {} ({:.0} \
                 against {:.0}){}",
                100.0 * report::median(&ratios),
                reference.role,
                1e6 / report::median(&tracker_costs),
                1e6 / report::median(&reference_costs),
                by_round(args.rounds, &percentages(&ratios)),
            );
        }
        // Paced, the rates match by design and the tail is the figure; it drifts with the
        // machine as the rates do, so it too is a median of the rounds.
        if args.rate.is_some() {
            let p99s =
                |phases: &[Measured]| phases.iter().map(|phase| phase.p99_ms).collect::<Vec<_>>();
            println!("{}", p99_line(args.rounds, reference.role, &p99s(&tracker), &p99s(phases)));
        }
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

/// Measures the tracker and every reference at once, each on its own connections, for every
/// round; prints, for each reference, the median of the rounds' ratios of requests per CPU
/// second.
async fn side_by_side(
    args: &RunArgs,
    workload: &Arc<Workload>,
    mut tracker_clients: Vec<Client>,
    mut others: Vec<Vec<Client>>,
    references: &[Reference],
) -> u64 {
    let mut errors = 0;
    let mut tracker_costs = Vec::new();
    // For each reference, its cost and its ratio to the tracker, round by round.
    let mut costs: Vec<Vec<f64>> = references.iter().map(|_| Vec::new()).collect();
    let mut ratios: Vec<Vec<f64>> = references.iter().map(|_| Vec::new()).collect();
    for round in 1..=args.rounds {
        let phases = references
            .iter()
            .zip(std::mem::take(&mut others))
            .map(|(reference, clients)| measured_phases(args, workload, clients, reference.pid));
        let (tracker, phases) = tokio::join!(
            measured_phases(args, workload, tracker_clients, args.pid),
            futures_util::future::join_all(phases),
        );
        let tracker_name = numbered(args, &args.tracker_name(), round);
        let tracker_measured;
        (tracker_clients, tracker_measured) = report_phase(tracker, "tracker", &tracker_name);
        errors += tracker_measured.errors;
        let cpu = |measured: &Measured| measured.cores.filter(|cores| *cores > 0.0);
        let Some(tracker_cores) = cpu(&tracker_measured) else {
            eprintln!("retracker-load: a side-by-side round without the tracker's CPU figure");
            return errors.max(1);
        };
        let tracker_cost = report::cpu_micros_a_request(tracker_measured.rate, tracker_cores);
        tracker_costs.push(tracker_cost);
        for (i, (reference, mut phase)) in references.iter().zip(phases).enumerate() {
            // The tool's own usage is one figure for all; the tracker's report gives it.
            phase.own = None;
            let name = numbered(args, &reference.name, round);
            let (clients, measured) = report_phase(phase, reference.role, &name);
            others.push(clients);
            errors += measured.errors;
            let Some(cores) = cpu(&measured) else {
                eprintln!(
                    "retracker-load: a side-by-side round without the {}'s CPU figure",
                    reference.role
                );
                return errors.max(1);
            };
            let cost = report::cpu_micros_a_request(measured.rate, cores);
            // Requests per CPU second, the tracker's as a share of the reference's: the CPU
            // each used, not how the scheduler split the core between them, sets the figure.
            ratios[i].push(cost / tracker_cost);
            costs[i].push(cost);
        }
    }
    let tracker_cost = report::median(&tracker_costs);
    for ((reference, costs), ratios) in references.iter().zip(&costs).zip(&ratios) {
        let cost = report::median(costs);
        println!(
            "side by side: the tracker serves {:.1}% as many requests per CPU second as the {} \
             ({:.2} µs of CPU a request against {:.2} µs, {:.0} against {:.0} requests per CPU \
             second; medians of {} rounds; round by round {})",
            100.0 * report::median(ratios),
            reference.role,
            tracker_cost,
            cost,
            1e6 / tracker_cost,
            1e6 / cost,
            args.rounds,
            percentages(ratios),
        );
    }
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
