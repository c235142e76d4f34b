//! The wiring: builds the adapters around the tracker, starts serving, and stops cleanly.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::config::{Config, ListenAddr, Storage};
use super::forwarders::{self, ForwarderSpec, ForwardersError};
use super::forwarding::Forwarding;
use super::metrics_fan_out::MetricsFanOut;
use super::open_files;
use super::redacted_uri::RedactedUri;
use super::stats_sampler::sample_periodically;
use super::sweeper::sweep_periodically;
use super::tracker::Tracker;
use crate::adapters::clock::SystemClock;
use crate::adapters::forwarder::{self, HttpUpstream, UdpUpstream};
use crate::adapters::http::{self, Endpoints, Pages, RequestLimits, ServerSettings};
use crate::adapters::memory::MemoryRepository;
use crate::adapters::metrics::PrometheusMetrics;
use crate::adapters::redis::RedisRepository;
use crate::adapters::stats::{ForwarderLabel, StatusPage};
use crate::adapters::udp::{self, ConnectionIds, UdpFrontEnd, UdpSettings};
use crate::domain::forwarding::ForwardRules;
use crate::ports::metrics::NoMetrics;
use crate::ports::{
    Clock, Metrics, MetricsReport, PeerRepository, StatusReport, SweepReport, TrackerService,
    UpstreamTracker,
};

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// An upstream's `interval` until it states one, and the bounds put on what it states: no
/// hammering for an upstream that says 0, and a fresh peer list at least hourly.
const UPSTREAM_DEFAULT_INTERVAL: Duration = Duration::from_secs(30 * 60);
const UPSTREAM_INTERVAL_FLOOR: Duration = Duration::from_secs(60);
const UPSTREAM_INTERVAL_CEILING: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {listen}: {source}{hint}")]
    Bind { listen: String, source: io::Error, hint: &'static str },
    #[error("cannot listen for UDP on {listen}: {source}{hint}")]
    BindUdp { listen: String, source: io::Error, hint: &'static str },
    #[error("cannot draw the secret for UDP connection ids from the OS: {0}")]
    Secret(String),
    #[error("{0}")]
    Forwarders(#[from] ForwardersError),
    #[error("cannot set up forwarding: {0}")]
    Forwarding(String),
    #[error("cannot set up metrics: {0}")]
    Metrics(String),
    #[error("cannot use the Redis at redis_url: {0}")]
    Storage(String),
}

/// A tracker that is serving; [`Running::stop`] shuts it down.
pub struct Running {
    local_addr: Option<SocketAddr>,
    udp_addr: Option<SocketAddr>,
    tracker: Arc<Tracker>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// Upstream trackers announces are forwarded to.
    forwarders: usize,
}

impl Running {
    /// Where it serves HTTP, if it does; with port 0 in the config, the port the system picked.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Where it serves UDP, if it does; with port 0 in the config, the port the system picked.
    pub fn udp_local_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// Runs a sweep now rather than at the next tick.
    pub fn sweep_now(&self) -> SweepReport {
        self.tracker.sweep()
    }

    /// Stops accepting, lets requests in flight finish, and stops the sweeper.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Builds the tracker from `config` and starts serving on its listen address.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> Result<Running, StartError> {
    let repository: Arc<dyn PeerRepository> = match config.storage() {
        Storage::Memory => Arc::new(MemoryRepository::new(config.max_torrents)),
        Storage::Redis(settings) => RedisRepository::connect(&settings)
            .await
            .map_err(|error| StartError::Storage(error.to_string()))?,
    };
    let forwarders = match config.forwards_file() {
        Some(path) => forwarders::load(&path)?,
        None => Vec::new(),
    };
    let prometheus = prometheus(config, &forwarders, repository.clone())?;
    let status = status_page(config, &forwarders, repository.clone());
    let mut all_metrics: Vec<Arc<dyn Metrics>> = Vec::new();
    all_metrics.extend(prometheus.clone().map(|prometheus| prometheus as Arc<dyn Metrics>));
    all_metrics.extend(status.clone().map(|status| status as Arc<dyn Metrics>));
    let metrics: Arc<dyn Metrics> = match all_metrics.len() {
        0 => Arc::new(NoMetrics),
        // One needs no fan-out, and announces no extra indirection.
        1 => all_metrics.remove(0),
        _ => Arc::new(MetricsFanOut(all_metrics)),
    };
    let pages = Pages {
        metrics: prometheus.map(|prometheus| prometheus as Arc<dyn MetricsReport>),
        status: status.clone().map(|status| status as Arc<dyn StatusReport>),
    };

    let forwarder_count = forwarders.len();
    let mut tracker = Tracker::new(repository.clone(), clock.clone(), config.tracker_settings())
        .with_metrics(metrics.clone());
    if !forwarders.is_empty() {
        let forwarding =
            forwarding(config, forwarders, repository, clock.clone(), metrics.clone())?;
        tracker = tracker.with_forwarding(Arc::new(forwarding));
    }
    let tracker = Arc::new(tracker);

    let listener = match config.listen() {
        Some(listen) => Some(bind(config, listen)?),
        None => None,
    };
    let local_addr = match &listener {
        Some(listener) => Some(listener.local_addr().map_err(|source| bind_error(config, source))?),
        None => None,
    };
    let udp_socket = match config.udp_listen() {
        Some(listen) => {
            let ids =
                ConnectionIds::new().map_err(|error| StartError::Secret(error.to_string()))?;
            Some((bind_udp(config, listen)?, ids))
        }
        None => None,
    };
    let udp_addr = match &udp_socket {
        Some((socket, _)) => {
            Some(socket.local_addr().map_err(|source| udp_bind_error(config, source))?)
        }
        None => None,
    };

    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let service = tracker.clone() as Arc<dyn TrackerService>;
    if let Some(listener) = listener {
        let limits = RequestLimits {
            max_query_length: config.max_query_length,
            max_scrape_hashes: config.max_scrape_hashes,
        };
        let endpoints = Endpoints { tracker: service.clone(), metrics: metrics.clone(), limits };
        let front_end = http::front_end(endpoints, pages, config.x_real_ip);
        let settings = ServerSettings {
            header_read_timeout: Duration::from_secs(config.header_read_timeout),
            max_connections: config.max_connections,
            max_connections_per_ip: config.connections_per_address(),
            max_header_bytes: config.max_header_bytes,
            shutdown_grace: SHUTDOWN_GRACE,
        };
        let shutdown = stopped_signal(stopped.clone());
        tasks.push(tokio::spawn(http::serve(
            listener,
            front_end,
            settings,
            metrics.clone(),
            shutdown,
        )));
    }
    if let Some((socket, ids)) = udp_socket {
        let settings = UdpSettings {
            max_scrape_hashes: config.max_scrape_hashes,
            max_in_flight: config.udp_max_in_flight,
            shutdown_grace: SHUTDOWN_GRACE,
        };
        let front_end = UdpFrontEnd { tracker: service, metrics, clock, ids, settings };
        let shutdown = stopped_signal(stopped.clone());
        tasks.push(tokio::spawn(udp::serve(socket, front_end, shutdown)));
    }
    if let Some(status) = status {
        tasks.push(tokio::spawn(sample_periodically(status, stopped.clone())));
    }
    let sweep_every = Duration::from_secs(config.sweep_interval);
    tasks.push(tokio::spawn(sweep_periodically(tracker.clone(), sweep_every, stopped)));

    Ok(Running { local_addr, udp_addr, tracker, stop, tasks, forwarders: forwarder_count })
}

/// An address as the start-up log shows it: the bare address (tests and scripts read it), or
/// `off`.
fn shown(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "off".to_owned(), |addr| addr.to_string())
}

/// Resolves once `stopped` says so: each server's shutdown signal.
async fn stopped_signal(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stopped| *stopped).await;
}

/// Runs the tracker until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<(), StartError> {
    let stop = stop_requested();
    let file_limit = open_files::raise_and_log();
    let running = start(&config, Arc::new(SystemClock)).await?;
    tracing::info!(
        listen = %shown(running.local_addr()),
        udp = %shown(running.udp_local_addr()),
        peer_age_minutes = config.peer_age,
        interval_secs = config.announce_interval,
        x_real_ip = config.x_real_ip,
        prometheus = config.enable_prometheus,
        stats = config.enable_stats,
        forwards_file = %config.forwards_file,
        max_torrents = config.max_torrents,
        max_peers_per_swarm = config.max_peers_per_swarm,
        max_connections = config.max_connections,
        "retracker {} serving",
        env!("CARGO_PKG_VERSION"),
    );
    if let Some(limit) = file_limit {
        let needed = open_files::descriptors_needed(config.max_connections, running.forwarders);
        open_files::warn_if_below(limit, needed);
    }
    stop.await;
    tracing::info!("shutting down");
    running.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// Prometheus metrics, when they are on.
fn prometheus(
    config: &Config,
    forwarders: &[ForwarderSpec],
    repository: Arc<dyn PeerRepository>,
) -> Result<Option<Arc<PrometheusMetrics>>, StartError> {
    if !config.enable_prometheus {
        return Ok(None);
    }
    let names: Vec<String> = forwarders.iter().map(|spec| spec.name.clone()).collect();
    let metrics =
        PrometheusMetrics::new(&names, move || repository.totals()).map_err(StartError::Metrics)?;
    Ok(Some(Arc::new(metrics)))
}

/// The status page, when it is on.
fn status_page(
    config: &Config,
    forwarders: &[ForwarderSpec],
    repository: Arc<dyn PeerRepository>,
) -> Option<Arc<StatusPage>> {
    if !config.enable_stats {
        return None;
    }
    let labels = forwarders
        .iter()
        .map(|spec| ForwarderLabel {
            name: spec.name.clone(),
            uri: RedactedUri(&spec.uri).to_string(),
        })
        .collect();
    let retry_after = Duration::from_secs(config.forward_retry_after);
    Some(Arc::new(StatusPage::new(repository, labels, retry_after)))
}

/// A `udp://` forwarder; `forwarders::load` has checked its port and that its `ip` is IPv4.
fn udp_upstream(spec: ForwarderSpec) -> UdpUpstream {
    // The bare address, not `host_str`'s bracketed IPv6 form, which no resolver takes.
    let host = match spec.uri.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(host) => host.to_string(),
        None => String::new(),
    };
    let port = spec.uri.port().unwrap_or_default();
    let ip = match spec.ip {
        Some(std::net::IpAddr::V4(ip)) => Some(ip),
        _ => None,
    };
    UdpUpstream::new(spec.name, host, port, ip)
}

/// Forwarding to the upstream trackers of the forwarders file.
fn forwarding(
    config: &Config,
    specs: Vec<ForwarderSpec>,
    repository: Arc<dyn PeerRepository>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn Metrics>,
) -> Result<Forwarding, StartError> {
    let https = specs.iter().any(|spec| spec.uri.scheme() == "https");
    let client =
        forwarder::client(https).map_err(|error| StartError::Forwarding(error.to_string()))?;
    let mut upstreams: Vec<Arc<dyn UpstreamTracker>> = Vec::with_capacity(specs.len());
    for spec in specs {
        let uri = RedactedUri(&spec.uri);
        tracing::info!(name = %spec.name, %uri, ip = ?spec.ip, host = ?spec.host, "forwarding announces");
        if spec.uri.scheme() == "udp" {
            upstreams.push(Arc::new(udp_upstream(spec)));
            continue;
        }
        let upstream = HttpUpstream::new(
            spec.name,
            client.clone(),
            spec.uri,
            spec.ip,
            spec.host.as_deref(),
            config.max_upstream_response_bytes,
        )
        .map_err(StartError::Forwarding)?;
        upstreams.push(Arc::new(upstream));
    }
    let rules = ForwardRules {
        default_interval: UPSTREAM_DEFAULT_INTERVAL,
        interval_floor: UPSTREAM_INTERVAL_FLOOR,
        interval_ceiling: UPSTREAM_INTERVAL_CEILING,
        retry_after_failure: Duration::from_secs(config.forward_retry_after),
        max_owed: config.max_peers_per_swarm,
    };
    let timeout = Duration::from_secs(config.forward_timeout);
    Ok(Forwarding::new(upstreams, repository, clock, metrics, timeout, rules))
}

fn bind(config: &Config, listen: ListenAddr) -> Result<tokio::net::TcpListener, StartError> {
    let mut last_error = None;
    for addr in listen.candidates() {
        match http::bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    let error = last_error.unwrap_or_else(|| io::Error::other("no address to bind"));
    Err(bind_error(config, error))
}

fn bind_udp(config: &Config, listen: ListenAddr) -> Result<tokio::net::UdpSocket, StartError> {
    let mut last_error = None;
    for addr in listen.candidates() {
        match udp::bind(addr) {
            Ok(socket) => return Ok(socket),
            Err(error) => last_error = Some(error),
        }
    }
    let error = last_error.unwrap_or_else(|| io::Error::other("no address to bind"));
    Err(udp_bind_error(config, error))
}

fn udp_bind_error(config: &Config, source: io::Error) -> StartError {
    let hint = match source.kind() {
        io::ErrorKind::PermissionDenied => {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE); try --udp :6969"
        }
        io::ErrorKind::AddrInUse => {
            " (another program uses that UDP port); pick another, e.g. --udp :6969"
        }
        io::ErrorKind::AddrNotAvailable => " (no interface has that address); try --udp :6969",
        _ => "; try --udp :6969",
    };
    StartError::BindUdp { listen: config.udp_listen_addr.clone(), source, hint }
}

fn bind_error(config: &Config, source: io::Error) -> StartError {
    let hint = match source.kind() {
        io::ErrorKind::PermissionDenied => {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE); try -l :8080"
        }
        io::ErrorKind::AddrInUse => {
            " (another program listens there); pick another port, e.g. -l :8080"
        }
        io::ErrorKind::AddrNotAvailable => " (no interface has that address); try -l :8080",
        _ => "; try -l :8080",
    };
    StartError::Bind { listen: config.listen_addr.clone(), source, hint }
}

/// Resolves on SIGINT or SIGTERM, listened for from the moment this is called (not first
/// polled): a stop sent as soon as "serving" is logged is then a clean one.
fn stop_requested() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let signals = signal(SignalKind::interrupt())
            .and_then(|interrupt| Ok((interrupt, signal(SignalKind::terminate())?)));
        async move {
            match signals {
                Ok((mut interrupt, mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
