//! What the load generator's threads do while they wait for answers, and how often they slept.
//!
//! Over loopback a server's `writev` runs the client's side of TCP in the server's own system
//! call, and wakes the client's thread if it sleeps: on this VM that wake-up (an interrupt
//! sent to the other CPU, with interrupts off meanwhile) cost retracker a tenth of its throughput
//! (docs/benchmarks.md). A server slower than the client leaves it idle, so it pays for a
//! wake-up nearly every answer; a faster one keeps it busy and pays almost never. Sleeping
//! clients thus charge the slower server of a comparison for work that is not its own, which
//! a client across a network does on its own machine. Polling keeps the client awake.

/// How the load generator waits for answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Idle {
    /// In the kernel, as an ordinary client: right when this tool shares a CPU.
    Sleep,
    /// Never sleeping, polling its sockets: needs a CPU of its own (`taskset`).
    Poll,
}

/// Keeps `threads` worker threads of `runtime` from sleeping: a task for each that only
/// yields. A worker holding nothing but yielded tasks checks its sockets without waiting
/// (`epoll_wait` with a zero timeout) before it runs them again, so it never parks.
pub fn keep_awake(runtime: &tokio::runtime::Runtime, threads: usize) {
    for _ in 0..threads {
        runtime.spawn(async {
            loop {
                tokio::task::yield_now().await;
            }
        });
    }
}

/// The name of the load generator's runtime threads, by which `sleeps` finds them.
pub const WORKER_THREAD: &str = "load-worker";

/// How many times this process's threads named `thread_name` (15 bytes at most, as Linux
/// keeps) have slept, in all: their voluntary context switches, from `/proc/self/task`.
pub fn sleeps(thread_name: &str) -> Option<u64> {
    let mut sleeps = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let Ok(name) = std::fs::read_to_string(path.join("comm")) else { continue };
        if name.trim_end() != thread_name {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(path.join("status")) else { continue };
        sleeps += voluntary_switches(&status)?;
    }
    Some(sleeps)
}

fn voluntary_switches(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("voluntary_ctxt_switches:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voluntary_switches_are_read_from_a_status_file() {
        let status = "Name:\ttokio-runtime-w\nvoluntary_ctxt_switches:\t1234\n\
                      nonvoluntary_ctxt_switches:\t56\n";
        assert_eq!(voluntary_switches(status), Some(1234));
        assert_eq!(voluntary_switches("Name:\tx\n"), None);
    }

    /// Sleeps of a one-worker runtime named `name` while a task on it waits for five timers.
    fn sleeps_over_five_timers(name: &str, idle: Idle) -> u64 {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()
            .unwrap();
        if idle == Idle::Poll {
            keep_awake(&runtime, 1);
        }
        let before = sleeps(name).unwrap();
        runtime.block_on(async {
            tokio::spawn(async {
                for _ in 0..5 {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            })
            .await
            .unwrap();
        });
        sleeps(name).unwrap() - before
    }

    #[test]
    fn a_sleeping_worker_sleeps_for_each_timer_and_a_polling_one_does_not() {
        assert!(sleeps_over_five_timers("idle-sleep-test", Idle::Sleep) >= 5);
        assert!(sleeps_over_five_timers("idle-poll-test", Idle::Poll) < 5);
    }
}
