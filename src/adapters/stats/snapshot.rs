//! The figures the status page shows, in the shape `/stats.json` gives them (docs/stats.md).
//! Field names are the schema: renaming one breaks scripts that read it.

use serde::Serialize;

/// Everything on the page at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub version: &'static str,
    pub uptime_secs: u64,
    /// The counts are None where the store does not count (it is shared with other
    /// instances).
    pub torrents: Option<u64>,
    pub peers: Option<u64>,
    pub seeders: Option<u64>,
    pub leechers: Option<u64>,
    pub ipv4: Option<u64>,
    pub ipv6: Option<u64>,
    pub front_ends: FrontEnds,
    /// Requests answered with a failure reason since start, by kind.
    pub failures: Vec<Failure>,
    pub latency_micros: Latencies,
    pub busiest: Vec<BusyTorrent>,
    pub forwarders: Vec<Forwarder>,
    /// None where the system does not say (not Linux).
    pub memory_rss_bytes: Option<u64>,
    pub connections: u64,
    pub history: HistorySeries,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct FrontEnds {
    pub http: Requests,
    pub udp: Requests,
}

/// One front end's requests: totals since start, and the rate over the last ten seconds or so.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Requests {
    pub announces: u64,
    pub scrapes: u64,
    pub announces_per_sec: f64,
    pub scrapes_per_sec: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub kind: &'static str,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latencies {
    pub announce: Quantiles,
    pub scrape: Quantiles,
}

/// Since start, as a power-of-two bound in microseconds; none before the first request.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Quantiles {
    pub p50: Option<u64>,
    pub p99: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusyTorrent {
    /// 40 lowercase hex digits.
    pub info_hash: String,
    pub seeders: u32,
    pub leechers: u32,
    pub completed: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Forwarder {
    pub name: String,
    /// Its URI with user info and query values shown as `***`.
    pub uri: String,
    pub last_status: Option<String>,
    pub last_answer_secs_ago: Option<u64>,
    pub peers: u64,
    pub backing_off: bool,
}

/// Counts sampled every `interval_secs`, oldest first; the arrays have one entry per sample.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HistorySeries {
    pub interval_secs: u64,
    /// Seconds since start of each sample.
    pub at_secs: Vec<u32>,
    pub torrents: Vec<u32>,
    pub seeders: Vec<u32>,
    pub leechers: Vec<u32>,
}
