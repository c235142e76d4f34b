//! Prometheus metrics, built with opentelemetry and exported by opentelemetry-prometheus.
//!
//! The hot path takes no lock shared by all requests: counters are OpenTelemetry instruments
//! bound to their labels once, up front, so a count is an atomic add; request latencies go to
//! the `prometheus` crate's atomic histograms in the same registry (an OpenTelemetry histogram
//! takes a mutex per label set on every record). Torrent and peer gauges are read from the
//! repository when Prometheus scrapes, not counted on every announce.
//!
//! The process's own figures (`process_resident_memory_bytes`, CPU seconds, open file
//! descriptors, start time) come from the `prometheus` crate's process collector, under the
//! names the Go original's client library gave them, for dashboards built on those.
//!
//! The Go original's `requests` and `forwarder_status` keep their exact names, so the exporter
//! adds no `_total` suffix, unit, `target_info` or scope labels of its own; our counters carry
//! `_total` in their names.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{
    BoundCounter, BoundUpDownCounter, Counter, Meter, MeterProvider as _,
};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use parking_lot::Mutex;
use prometheus::{Histogram, HistogramOpts, HistogramVec, Registry, TextEncoder};

use crate::domain::peer::Event;
use crate::ports::metrics::{
    BadPacket, ConnectionRefusal, FailureKind, ForwardOutcome, ForwardStatus, FrontEnd,
    RequestOutcome, Route,
};
use crate::ports::{Metrics, MetricsReport, StoreTotals};

/// Seconds; a tracker answers in microseconds, so the buckets start low.
const REQUEST_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];
/// Seconds; upstream trackers are across the internet.
const FORWARD_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

const EVENTS: [(Option<Event>, &str); 6] = [
    (Some(Event::Started), "started"),
    (Some(Event::Completed), "completed"),
    (Some(Event::Stopped), "stopped"),
    (Some(Event::Paused), "paused"),
    (Some(Event::Periodic), "none"),
    (None, "unknown"),
];
const FAILURES: [(FailureKind, &str); 10] = [
    (FailureKind::MissingField, "missing_field"),
    (FailureKind::InvalidField, "invalid_field"),
    (FailureKind::QueryTooLong, "query_too_long"),
    (FailureKind::TooManyHashes, "too_many_hashes"),
    (FailureKind::BadRealIp, "bad_x_real_ip"),
    (FailureKind::PortZero, "port_zero"),
    (FailureKind::TorrentLimit, "torrent_limit"),
    (FailureKind::PeerIdTaken, "peer_id_taken"),
    (FailureKind::StorageUnavailable, "storage_unavailable"),
    (FailureKind::StorageFull, "storage_full"),
];
const REFUSALS: [(ConnectionRefusal, &str); 1] =
    [(ConnectionRefusal::AddressCap, "max_connections_per_ip")];
const FRONT_ENDS: [(FrontEnd, &str); 2] = [(FrontEnd::Http, "http"), (FrontEnd::Udp, "udp")];
const BAD_PACKETS: [(BadPacket, &str); 7] = [
    (BadPacket::TooShort, "too_short"),
    (BadPacket::TooLong, "too_long"),
    (BadPacket::PortZero, "port_zero"),
    (BadPacket::NoMagic, "no_magic"),
    (BadPacket::ConnectionId, "connection_id"),
    (BadPacket::Malformed, "malformed"),
    (BadPacket::Overloaded, "overloaded"),
];
const OUTCOMES: [(ForwardOutcome, &str); 4] = [
    (ForwardOutcome::Ok, "ok"),
    (ForwardOutcome::Timeout, "timeout"),
    (ForwardOutcome::Error, "error"),
    (ForwardOutcome::RateLimited, "rate_limited"),
];

/// How long one walk of the repository serves the gauges, so that one scrape walks it once.
const TOTALS_FRESH_FOR: Duration = Duration::from_secs(1);

/// Counters bound to one forwarder's labels.
struct ForwarderCounters {
    outcomes: [BoundCounter<u64>; 4],
    latency: Histogram,
}

pub struct PrometheusMetrics {
    registry: Registry,
    // Kept alive: dropping the provider stops collection.
    _provider: SdkMeterProvider,
    go_requests: BoundCounter<u64>,
    /// By front end, event and result.
    announces: [[[BoundCounter<u64>; 2]; EVENTS.len()]; FRONT_ENDS.len()],
    /// By front end and result.
    scrapes: [[BoundCounter<u64>; 2]; FRONT_ENDS.len()],
    failures: [BoundCounter<u64>; FAILURES.len()],
    /// By front end and route.
    request_latency: [[Histogram; 2]; FRONT_ENDS.len()],
    /// Looked up by name on every forwarding announce: foldhash, not SipHash (names come from
    /// the configuration, not from clients).
    forwarders: HashMap<String, ForwarderCounters, foldhash::fast::RandomState>,
    forwarder_status: Counter<u64>,
    forwards: Counter<u64>,
    forward_latency: HistogramVec,
    upstream_peers: BoundCounter<u64>,
    expired: BoundCounter<u64>,
    connections: BoundUpDownCounter<i64>,
    refusals: [BoundCounter<u64>; 1],
    bad_packets: [BoundCounter<u64>; BAD_PACKETS.len()],
}

impl PrometheusMetrics {
    /// Metrics for a tracker forwarding to `forwarders` (by name), with gauges read from
    /// `totals` at scrape time; none where it counts nothing.
    pub fn new(
        forwarders: &[String],
        totals: impl Fn() -> Option<StoreTotals> + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let registry = Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_counter_suffixes()
            .without_units()
            .without_target_info()
            .scope_info_enabled(false)
            .build()
            .map_err(|error| format!("metrics exporter: {error}"))?;
        let provider = SdkMeterProvider::builder().with_reader(exporter).build();
        let meter = provider.meter("retracker");

        let counter = |name: &'static str, help: &'static str| {
            meter.u64_counter(name).with_description(help).build()
        };
        let go_requests =
            counter("requests", "Announce requests (as the Go retracker counts them)").bind(&[]);
        let announces_counter =
            counter("retracker_announces_total", "Announce requests by event and result");
        let announces = FRONT_ENDS.map(|(_, front_end)| {
            EVENTS.map(|(_, event)| {
                ["ok", "failed"].map(|result| {
                    announces_counter.bind(&[
                        KeyValue::new("front_end", front_end),
                        KeyValue::new("event", event),
                        KeyValue::new("result", result),
                    ])
                })
            })
        });
        let scrapes_counter = counter("retracker_scrapes_total", "Scrape requests by result");
        let scrapes = FRONT_ENDS.map(|(_, front_end)| {
            ["ok", "failed"].map(|result| {
                scrapes_counter
                    .bind(&[KeyValue::new("front_end", front_end), KeyValue::new("result", result)])
            })
        });
        let failures_counter =
            counter("retracker_failures_total", "Requests answered with a failure reason, by kind");
        let failures =
            FAILURES.map(|(_, kind)| failures_counter.bind(&[KeyValue::new("kind", kind)]));
        let forwarder_status = counter(
            "forwarder_status",
            "Forwarder answers by HTTP status, or error (as the Go retracker counts them)",
        );
        let forwards =
            counter("retracker_forwards_total", "Announces forwarded, by forwarder and outcome");
        let upstream_peers =
            counter("retracker_upstream_peers_merged_total", "Upstream peers added to answers")
                .bind(&[]);
        let expired = counter(
            "retracker_peers_expired_total",
            "Peers dropped for not announcing within PEER_AGE",
        )
        .bind(&[]);
        let connections = meter
            .i64_up_down_counter("retracker_connections")
            .with_description("Connections open and being served")
            .build()
            .bind(&[]);
        let refusals_counter = counter(
            "retracker_connections_refused_total",
            "Connections closed as soon as they were accepted, by reason",
        );
        let refusals =
            REFUSALS.map(|(_, reason)| refusals_counter.bind(&[KeyValue::new("reason", reason)]));
        let bad_packets_counter = counter(
            "retracker_udp_bad_packets_total",
            "UDP datagrams dropped, or answered only with an error, by reason",
        );
        let bad_packets = BAD_PACKETS
            .map(|(_, reason)| bad_packets_counter.bind(&[KeyValue::new("reason", reason)]));

        let request_latency_vec = histogram(
            &registry,
            "retracker_request_duration_seconds",
            "Time to answer a request, by front end and route",
            &["front_end", "route"],
            REQUEST_BUCKETS,
        )?;
        let request_latency = FRONT_ENDS.map(|(_, front_end)| {
            ["announce", "scrape"]
                .map(|route| request_latency_vec.with_label_values(&[front_end, route]))
        });
        let forward_latency = histogram(
            &registry,
            "retracker_forward_duration_seconds",
            "Time an upstream tracker took to answer, by forwarder",
            &["forwarder"],
            FORWARD_BUCKETS,
        )?;
        let forwarders = forwarders
            .iter()
            .map(|name| {
                let counters = ForwarderCounters {
                    outcomes: OUTCOMES.map(|(_, outcome)| {
                        forwards.bind(&[
                            KeyValue::new("forwarder", name.clone()),
                            KeyValue::new("outcome", outcome),
                        ])
                    }),
                    latency: forward_latency.with_label_values(&[name.as_str()]),
                };
                (name.clone(), counters)
            })
            .collect();

        register_gauges(&meter, totals);
        register_process_collector(&registry)?;
        // Counters appear once touched; touch them so dashboards see zeros.
        let always = [&go_requests, &upstream_peers, &expired].into_iter().chain(&refusals);
        for counter in always.chain(&bad_packets) {
            counter.add(0);
        }
        connections.add(0);

        Ok(Self {
            registry,
            _provider: provider,
            go_requests,
            announces,
            scrapes,
            failures,
            request_latency,
            forwarders,
            forwarder_status,
            forwards,
            forward_latency,
            upstream_peers,
            expired,
            connections,
            refusals,
            bad_packets,
        })
    }
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> Result<HistogramVec, String> {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    let histogram = HistogramVec::new(opts, labels).map_err(|error| format!("{name}: {error}"))?;
    registry.register(Box::new(histogram.clone())).map_err(|error| format!("{name}: {error}"))?;
    Ok(histogram)
}

/// `process_*`: read from /proc when Prometheus scrapes, so Linux only.
fn register_process_collector(registry: &Registry) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let collector = prometheus::process_collector::ProcessCollector::for_self();
        registry.register(Box::new(collector)).map_err(|error| format!("process metrics: {error}"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = registry;
        Ok(())
    }
}

/// Torrents and peers, read from the repository when Prometheus scrapes. A store that does
/// not count gives no gauge rather than a zero that would read as an empty tracker.
fn register_gauges(
    meter: &Meter,
    totals: impl Fn() -> Option<StoreTotals> + Send + Sync + 'static,
) {
    // When the totals were last read, and what they were.
    type Read = (Instant, Option<StoreTotals>);
    let cache: Arc<Mutex<Option<Read>>> = Arc::default();
    let current = Arc::new(move || {
        let mut cached = cache.lock();
        match *cached {
            Some((at, totals)) if at.elapsed() < TOTALS_FRESH_FOR => totals,
            _ => {
                let fresh = totals();
                *cached = Some((Instant::now(), fresh));
                fresh
            }
        }
    });
    let for_torrents = current.clone();
    meter
        .u64_observable_gauge("retracker_torrents")
        .with_description("Torrents tracked")
        .with_callback(move |observer| {
            if let Some(totals) = for_torrents() {
                observer.observe(totals.torrents as u64, &[]);
            }
        })
        .build();
    meter
        .u64_observable_gauge("retracker_peers")
        .with_description("Peers tracked, by role and address family")
        .with_callback(move |observer| {
            let Some(StoreTotals { peers, .. }) = current() else { return };
            for (count, role, family) in [
                (peers.seeders_v4, "seeder", "ipv4"),
                (peers.leechers_v4, "leecher", "ipv4"),
                (peers.seeders_v6, "seeder", "ipv6"),
                (peers.leechers_v6, "leecher", "ipv6"),
            ] {
                observer.observe(
                    count as u64,
                    &[KeyValue::new("role", role), KeyValue::new("family", family)],
                );
            }
        })
        .build();
}

fn event_index(event: Option<Event>) -> usize {
    EVENTS.iter().position(|(e, _)| *e == event).unwrap_or(EVENTS.len() - 1)
}

impl Metrics for PrometheusMetrics {
    fn request(&self, outcome: RequestOutcome, took: Duration) {
        let result = usize::from(outcome.failure.is_some());
        let front_end = FRONT_ENDS
            .iter()
            .position(|(f, _)| *f == outcome.front_end)
            .expect("every front end is listed");
        match outcome.route {
            Route::Announce => {
                self.go_requests.add(1);
                self.announces[front_end][event_index(outcome.event)][result].add(1);
                self.request_latency[front_end][0].observe(took.as_secs_f64());
            }
            Route::Scrape => {
                self.scrapes[front_end][result].add(1);
                self.request_latency[front_end][1].observe(took.as_secs_f64());
            }
        }
        if let Some(kind) = outcome.failure {
            let index =
                FAILURES.iter().position(|(k, _)| *k == kind).expect("every kind is listed");
            self.failures[index].add(1);
        }
    }

    fn forward(
        &self,
        forwarder: &str,
        outcome: ForwardOutcome,
        status: ForwardStatus,
        took: Option<Duration>,
    ) {
        let index =
            OUTCOMES.iter().position(|(o, _)| *o == outcome).expect("every outcome is listed");
        match self.forwarders.get(forwarder) {
            Some(counters) => {
                counters.outcomes[index].add(1);
                if let Some(took) = took {
                    counters.latency.observe(took.as_secs_f64());
                }
            }
            None => {
                let labels = [
                    KeyValue::new("forwarder", forwarder.to_owned()),
                    KeyValue::new("outcome", OUTCOMES[index].1),
                ];
                self.forwards.add(1, &labels);
                if let Some(took) = took {
                    self.forward_latency
                        .with_label_values(&[forwarder])
                        .observe(took.as_secs_f64());
                }
            }
        }
        if outcome != ForwardOutcome::RateLimited {
            self.forwarder_status.add(
                1,
                &[
                    KeyValue::new("name", forwarder.to_owned()),
                    KeyValue::new("status", status_label(status)),
                ],
            );
        }
    }

    fn upstream_peers_merged(&self, peers: usize) {
        self.upstream_peers.add(peers as u64);
    }

    fn peers_expired(&self, peers: usize) {
        self.expired.add(peers as u64);
    }

    fn connection_opened(&self) {
        self.connections.add(1);
    }

    fn connection_closed(&self) {
        self.connections.add(-1);
    }

    fn connection_refused(&self, why: ConnectionRefusal) {
        let index = REFUSALS.iter().position(|(r, _)| *r == why).expect("every refusal is listed");
        self.refusals[index].add(1);
    }

    fn bad_packet(&self, why: BadPacket) {
        let index =
            BAD_PACKETS.iter().position(|(b, _)| *b == why).expect("every reason is listed");
        self.bad_packets[index].add(1);
    }
}

/// `forwarder_status`'s `status`: the code as sent when HTTP defines its class (100 to 599),
/// `other` past that (a status line may carry any three digits, and an upstream must not grow
/// the label set), `error` when no answer came; UDP answers, which have no code, by kind.
fn status_label(status: ForwardStatus) -> String {
    match status {
        ForwardStatus::Http(code @ 100..=599) => code.to_string(),
        ForwardStatus::Http(_) => "other".to_owned(),
        ForwardStatus::NoAnswer => "error".to_owned(),
        ForwardStatus::UdpAnnounce => "udp_ok".to_owned(),
        ForwardStatus::UdpError => "udp_error".to_owned(),
        ForwardStatus::UdpUnreadable => "udp_unreadable".to_owned(),
    }
}

impl MetricsReport for PrometheusMetrics {
    fn render(&self) -> (String, &'static str) {
        let text =
            TextEncoder::new().encode_to_string(&self.registry.gather()).unwrap_or_else(|error| {
                tracing::warn!(%error, "encoding metrics failed");
                String::new()
            });
        (text, prometheus::TEXT_FORMAT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::swarm::PeerCensus;

    #[test]
    fn status_labels_keep_http_codes_and_fold_the_rest() {
        use ForwardStatus::*;
        let labels = [NoAnswer, Http(99), Http(100), Http(200), Http(599), Http(600), Http(999)]
            .map(status_label);
        assert_eq!(labels, ["error", "other", "100", "200", "599", "other", "other"]);
        let udp = [UdpAnnounce, UdpError, UdpUnreadable].map(status_label);
        assert_eq!(udp, ["udp_ok", "udp_error", "udp_unreadable"]);
    }

    #[test]
    fn requests_say_their_front_end_and_bad_packets_their_reason() {
        let metrics = PrometheusMetrics::new(&[], || Some(StoreTotals::default())).unwrap();
        let scrape = RequestOutcome {
            front_end: FrontEnd::Udp,
            route: Route::Scrape,
            event: None,
            failure: None,
        };
        metrics.request(scrape, Duration::ZERO);
        metrics.bad_packet(BadPacket::ConnectionId);
        metrics.bad_packet(BadPacket::ConnectionId);
        let (text, _) = metrics.render();
        for line in [
            r#"retracker_scrapes_total{front_end="udp",result="ok"} 1"#,
            r#"retracker_scrapes_total{front_end="http",result="ok"} 0"#,
            r#"retracker_udp_bad_packets_total{reason="connection_id"} 2"#,
            r#"retracker_udp_bad_packets_total{reason="too_short"} 0"#,
            r#"retracker_request_duration_seconds_count{front_end="udp",route="scrape"} 1"#,
            r#"retracker_request_duration_seconds_count{front_end="http",route="scrape"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line} in\n{text}");
        }
    }

    #[test]
    fn store_counts_become_gauges_and_a_store_that_does_not_count_gives_none() {
        let counted = StoreTotals {
            torrents: 3,
            peers: PeerCensus { seeders_v4: 2, leechers_v6: 1, ..PeerCensus::default() },
        };
        let (text, _) = PrometheusMetrics::new(&[], move || Some(counted)).unwrap().render();
        for line in [
            "retracker_torrents 3",
            r#"retracker_peers{family="ipv4",role="seeder"} 2"#,
            r#"retracker_peers{family="ipv6",role="leecher"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line} in\n{text}");
        }
        let (text, _) = PrometheusMetrics::new(&[], || None).unwrap().render();
        let gauge =
            |l: &str| l.starts_with("retracker_torrents") || l.starts_with("retracker_peers{");
        assert!(!text.lines().any(gauge), "{text}");
        assert!(text.contains("retracker_announces_total"), "the rest is there: {text}");
    }
}
