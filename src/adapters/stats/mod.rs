//! The status page's figures: counted as the `Metrics` port reports events, sampled every few
//! seconds for the charts, and read from the repository for the census and busiest torrents.
//!
//! Serving the page costs announces nothing: counts are relaxed atomic adds, and the walk of
//! every torrent (census and busiest) goes a shard at a time and at most once a second, however
//! often the page is asked for.

mod counters;
mod forwarders;
mod history;
mod latency;
mod page;
mod process;
mod snapshot;

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use counters::{Counters, FAILURES, RequestTotals};
pub use forwarders::ForwarderLabel;
use forwarders::Forwarders;
use history::{History, Sample};
use snapshot::{
    BusyTorrent, Failure, Forwarder, FrontEnds, HistorySeries, Latencies, Quantiles, Requests,
    Snapshot,
};

use crate::domain::ids::InfoHash;
use crate::domain::swarm::SwarmStats;
use crate::ports::metrics::{
    BadPacket, ConnectionRefusal, ForwardOutcome, ForwardStatus, RequestOutcome, Route,
};
use crate::ports::{Metrics, PeerRepository, StatusReport, StoreTotals};

/// Seconds between two samples of the charts.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples kept: an hour of them.
const SAMPLES: usize = 360;
/// Torrents listed as the busiest.
const BUSIEST: usize = 20;
/// How long one walk of the repository serves the page.
const STORE_FRESH_FOR: Duration = Duration::from_secs(1);
/// A rate is taken over at least this long, so that a sample just taken does not make it
/// jump about.
const RATE_WINDOW_FLOOR: Duration = Duration::from_secs(5);

/// What one walk of the repository found.
#[derive(Clone)]
struct StoreView {
    /// None from a store that does not count.
    totals: Option<StoreTotals>,
    busiest: Vec<(InfoHash, SwarmStats)>,
}

/// Request totals when the last two samples were taken, for rates.
#[derive(Default)]
struct Ticks {
    latest: Option<(Instant, RequestTotals)>,
    previous: Option<(Instant, RequestTotals)>,
}

pub struct StatusPage {
    repository: Arc<dyn PeerRepository>,
    started: Instant,
    counters: Counters,
    forwarders: Forwarders,
    history: Mutex<History>,
    ticks: Mutex<Ticks>,
    store: Mutex<Option<(Instant, StoreView)>>,
}

impl StatusPage {
    /// A page over `repository`, for a tracker forwarding to `forwarders`, which leaves a
    /// failed forwarder alone for `retry_after`.
    pub fn new(
        repository: Arc<dyn PeerRepository>,
        forwarders: Vec<ForwarderLabel>,
        retry_after: Duration,
    ) -> Self {
        Self {
            repository,
            started: Instant::now(),
            counters: Counters::default(),
            forwarders: Forwarders::new(forwarders, retry_after),
            history: Mutex::new(History::new(SAMPLES)),
            ticks: Mutex::default(),
            store: Mutex::default(),
        }
    }

    /// Takes one sample for the charts and the rates: call every [`SAMPLE_EVERY`]. Walks
    /// every torrent, a shard at a time.
    pub fn sample(&self) {
        // A store that does not count leaves the charts empty rather than flat at zero.
        if let Some(totals) = self.repository.totals() {
            let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            let sample = Sample {
                at_secs: count(self.started.elapsed().as_secs() as usize),
                torrents: count(totals.torrents),
                seeders: count(totals.peers.seeders_v4 + totals.peers.seeders_v6),
                leechers: count(totals.peers.leechers_v4 + totals.peers.leechers_v6),
            };
            self.history.lock().push(sample);
        }
        let mut ticks = self.ticks.lock();
        ticks.previous = ticks.latest.take();
        ticks.latest = Some((Instant::now(), self.counters.requests()));
    }

    /// The census and busiest torrents, walked again only when the last walk is a second old.
    fn store_view(&self) -> StoreView {
        let mut cached = self.store.lock();
        if let Some((at, view)) = cached.as_ref() {
            if at.elapsed() < STORE_FRESH_FOR {
                return view.clone();
            }
        }
        let view = StoreView {
            totals: self.repository.totals(),
            busiest: self.repository.busiest(BUSIEST),
        };
        *cached = Some((Instant::now(), view.clone()));
        view
    }

    /// Requests per second since the newest sample at least [`RATE_WINDOW_FLOOR`] old (or
    /// since the oldest there is).
    fn rates(&self, now: RequestTotals) -> [[f64; 2]; 2] {
        let ticks = self.ticks.lock();
        let reference = match (ticks.latest, ticks.previous) {
            (Some(latest), _) if latest.0.elapsed() >= RATE_WINDOW_FLOOR => Some(latest),
            (Some(latest), None) => Some(latest),
            (_, previous) => previous,
        };
        let Some((at, then)) = reference else {
            return [[0.0; 2]; 2];
        };
        let secs = at.elapsed().as_secs_f64().max(0.001);
        let rate = |front_end: usize, route: usize| {
            let done = now.by_front_end[front_end][route] - then.by_front_end[front_end][route];
            done as f64 / secs
        };
        [[rate(0, 0), rate(0, 1)], [rate(1, 0), rate(1, 1)]]
    }

    fn snapshot(&self) -> Snapshot {
        let store = self.store_view();
        let requests = self.counters.requests();
        let rates = self.rates(requests);
        let front_end = |index: usize| Requests {
            announces: requests.by_front_end[index][0],
            scrapes: requests.by_front_end[index][1],
            announces_per_sec: rates[index][0],
            scrapes_per_sec: rates[index][1],
        };
        let quantiles = |route: Route| {
            let (p50, p99) = self.counters.latency(route);
            Quantiles { p50, p99 }
        };
        let failures = FAILURES
            .iter()
            .zip(self.counters.failures())
            .map(|((_, kind), count)| Failure { kind, count })
            .collect();
        let busiest = store
            .busiest
            .iter()
            .map(|(hash, stats)| BusyTorrent {
                info_hash: hash.to_string(),
                seeders: stats.complete,
                leechers: stats.incomplete,
                completed: stats.downloaded,
            })
            .collect();
        let forwarders = self
            .forwarders
            .views()
            .into_iter()
            .map(|view| Forwarder {
                name: view.label.name,
                uri: view.label.uri,
                last_status: view.last_status,
                last_answer_secs_ago: view.last_answer_ago.map(|ago| ago.as_secs()),
                peers: view.peers,
                backing_off: view.backing_off,
            })
            .collect();
        let samples = self.history.lock().oldest_first();
        let history = HistorySeries {
            interval_secs: SAMPLE_EVERY.as_secs(),
            at_secs: samples.iter().map(|s| s.at_secs).collect(),
            torrents: samples.iter().map(|s| s.torrents).collect(),
            seeders: samples.iter().map(|s| s.seeders).collect(),
            leechers: samples.iter().map(|s| s.leechers).collect(),
        };
        let counted =
            |count: fn(&StoreTotals) -> usize| store.totals.as_ref().map(|t| count(t) as u64);
        Snapshot {
            version: env!("CARGO_PKG_VERSION"),
            uptime_secs: self.started.elapsed().as_secs(),
            torrents: counted(|t| t.torrents),
            peers: counted(|t| {
                let p = t.peers;
                p.seeders_v4 + p.leechers_v4 + p.seeders_v6 + p.leechers_v6
            }),
            seeders: counted(|t| t.peers.seeders_v4 + t.peers.seeders_v6),
            leechers: counted(|t| t.peers.leechers_v4 + t.peers.leechers_v6),
            ipv4: counted(|t| t.peers.seeders_v4 + t.peers.leechers_v4),
            ipv6: counted(|t| t.peers.seeders_v6 + t.peers.leechers_v6),
            front_ends: FrontEnds { http: front_end(0), udp: front_end(1) },
            failures,
            latency_micros: Latencies {
                announce: quantiles(Route::Announce),
                scrape: quantiles(Route::Scrape),
            },
            busiest,
            forwarders,
            memory_rss_bytes: process::resident_bytes(),
            connections: self.counters.connections(),
            history,
        }
    }
}

impl StatusReport for StatusPage {
    fn html(&self) -> String {
        page::render(&self.snapshot())
    }

    fn json(&self) -> String {
        serde_json::to_string_pretty(&self.snapshot()).unwrap_or_else(|error| {
            tracing::warn!(%error, "encoding the status as JSON failed");
            String::from("{}")
        })
    }
}

impl Metrics for StatusPage {
    fn request(&self, outcome: RequestOutcome, took: Duration) {
        self.counters.request(outcome, took);
    }

    fn forward(
        &self,
        forwarder: &str,
        outcome: ForwardOutcome,
        status: ForwardStatus,
        _took: Option<Duration>,
    ) {
        self.forwarders.forward(forwarder, outcome, status);
    }

    fn forwarder_peers(&self, forwarder: &str, peers: usize) {
        self.forwarders.peers(forwarder, peers);
    }

    fn upstream_peers_merged(&self, _: usize) {}

    fn peers_expired(&self, _: usize) {}

    fn connection_opened(&self) {
        self.counters.connection_opened();
    }

    fn connection_closed(&self) {
        self.counters.connection_closed();
    }

    fn connection_refused(&self, _: ConnectionRefusal) {}

    fn bad_packet(&self, _: BadPacket) {}
}

#[cfg(test)]
mod tests;
