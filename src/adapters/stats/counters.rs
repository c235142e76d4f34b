//! What the status page counts as requests come and go: atomics, so that counting costs an
//! announce one relaxed add per figure and takes no lock.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use super::latency::LatencyHistogram;
use crate::ports::metrics::{FailureKind, FrontEnd, RequestOutcome, Route};

/// Each kind of failure and its name in `/stats.json`, as `/metrics` labels it.
pub const FAILURES: [(FailureKind, &str); 8] = [
    (FailureKind::MissingField, "missing_field"),
    (FailureKind::InvalidField, "invalid_field"),
    (FailureKind::QueryTooLong, "query_too_long"),
    (FailureKind::TooManyHashes, "too_many_hashes"),
    (FailureKind::BadRealIp, "bad_x_real_ip"),
    (FailureKind::PortZero, "port_zero"),
    (FailureKind::TorrentLimit, "torrent_limit"),
    (FailureKind::PeerIdTaken, "peer_id_taken"),
];

/// Requests answered so far, by front end and route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestTotals {
    /// Indexed by [`front_end_index`], then [`route_index`].
    pub by_front_end: [[u64; 2]; 2],
}

#[derive(Default)]
pub struct Counters {
    requests: [[AtomicU64; 2]; 2],
    failures: [AtomicU64; FAILURES.len()],
    latency: [LatencyHistogram; 2],
    connections: AtomicI64,
}

pub fn front_end_index(front_end: FrontEnd) -> usize {
    match front_end {
        FrontEnd::Http => 0,
        FrontEnd::Udp => 1,
    }
}

pub fn route_index(route: Route) -> usize {
    match route {
        Route::Announce => 0,
        Route::Scrape => 1,
    }
}

impl Counters {
    pub fn request(&self, outcome: RequestOutcome, took: Duration) {
        let route = route_index(outcome.route);
        self.requests[front_end_index(outcome.front_end)][route].fetch_add(1, Ordering::Relaxed);
        self.latency[route].record(took);
        if let Some(kind) = outcome.failure {
            if let Some(index) = FAILURES.iter().position(|(k, _)| *k == kind) {
                self.failures[index].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn connections(&self) -> u64 {
        u64::try_from(self.connections.load(Ordering::Relaxed)).unwrap_or(0)
    }

    pub fn requests(&self) -> RequestTotals {
        let by_front_end = self
            .requests
            .each_ref()
            .map(|routes| routes.each_ref().map(|count| count.load(Ordering::Relaxed)));
        RequestTotals { by_front_end }
    }

    /// Failures so far, by kind, in the order of [`FAILURES`].
    pub fn failures(&self) -> [u64; FAILURES.len()] {
        self.failures.each_ref().map(|count| count.load(Ordering::Relaxed))
    }

    /// p50 and p99 of `route`'s answers since start, in microseconds.
    pub fn latency(&self, route: Route) -> (Option<u64>, Option<u64>) {
        let histogram = &self.latency[route_index(route)];
        (histogram.quantile_micros(0.5), histogram.quantile_micros(0.99))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(front_end: FrontEnd, route: Route, failure: Option<FailureKind>) -> RequestOutcome {
        RequestOutcome { front_end, route, event: None, failure }
    }

    #[test]
    fn requests_count_by_front_end_and_route_and_failures_by_kind() {
        let counters = Counters::default();
        let took = Duration::from_micros(10);
        counters.request(outcome(FrontEnd::Http, Route::Announce, None), took);
        counters.request(outcome(FrontEnd::Http, Route::Announce, None), took);
        counters.request(outcome(FrontEnd::Udp, Route::Scrape, Some(FailureKind::PortZero)), took);
        assert_eq!(counters.requests().by_front_end, [[2, 0], [0, 1]]);
        let failures = counters.failures();
        assert_eq!(failures.iter().sum::<u64>(), 1);
        assert_eq!(failures[5], 1, "port_zero");
        assert_eq!(counters.latency(Route::Announce), (Some(16), Some(16)));
        counters.connection_opened();
        counters.connection_opened();
        counters.connection_closed();
        assert_eq!(counters.connections(), 1);
    }
}
