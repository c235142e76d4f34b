//! The configuration: built-in defaults, then an optional config file, then environment
//! variables, then command-line flags, each overriding the one before.
//!
//! Every setting has one name: `snake_case` in a config file, `UPPER_CASE` in the
//! environment (`peer_age` / `PEER_AGE`). Flags exist for the Go original's settings.

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::tracker::TrackerSettings;
use crate::adapters::redis::RedisSettings;
use crate::domain::announce::NumwantLimits;
use crate::domain::time::PeerAge;

/// Bytes a request head needs besides its query string: the request line's method, path and
/// version, and a handful of ordinary headers.
const HEAD_ROOM: usize = 1024;
/// The `listen_addr` that turns HTTP off.
const HTTP_OFF: &str = "off";
/// Far past any file descriptor limit; it keeps the connection semaphore (and the UDP
/// announce one) within its bounds.
const MAX_CONNECTIONS_CEILING: usize = 10_000_000;

/// A URL the Redis client takes: plain, or TLS (`rediss`), with a host after the scheme.
fn is_redis_url(url: &str) -> bool {
    let rest = url.strip_prefix("redis://").or_else(|| url.strip_prefix("rediss://"));
    rest.is_some_and(|rest| !rest.is_empty())
}

/// The raw settings, in the units users write them in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `:PORT` (every interface, IPv4 and IPv6), `IP:PORT` or `[IPv6]:PORT`; `off` for no
    /// HTTP (a UDP-only tracker).
    pub listen_addr: String,
    /// UDP (BEP 15) address, as `listen_addr`; empty (the default) for no UDP.
    pub udp_listen_addr: String,
    /// UDP announces answered at once (each may wait on forwarders); past it, new ones are
    /// dropped and their clients retry.
    pub udp_max_in_flight: usize,
    /// Minutes a peer stays listed after its last announce. Fractions are allowed.
    pub peer_age: f64,
    /// Debug logs: one line per request.
    pub debug_mode: bool,
    /// `text` for people, `json` (one object per line) for log shippers.
    pub log_format: String,
    /// Take the client's address from the `X-Real-IP` header (behind nginx).
    pub x_real_ip: bool,
    /// Seconds to wait for each forwarder.
    pub forward_timeout: u64,
    /// Serve `/metrics`.
    pub enable_prometheus: bool,
    /// Serve the status page at `/stats` and `/stats.json`.
    pub enable_stats: bool,
    /// Seconds clients are told to wait between announces (`interval`).
    pub announce_interval: u64,
    /// Seconds clients must wait at least (`min interval`); never more than the interval.
    pub min_announce_interval: u64,
    /// YAML list of trackers to forward announces to; empty for none.
    pub forwards_file: String,
    /// Honour a client's `ip=` parameter. Off: it lets anyone list a third party's address.
    pub allow_ip_param: bool,
    /// Peers handed out when the client does not say how many (`numwant`).
    pub default_numwant: usize,
    /// Peers handed out at most, whatever the client asks.
    pub max_numwant: usize,
    /// Peers kept per torrent; newcomers past it are answered but not listed.
    pub max_peers_per_swarm: usize,
    /// Torrents kept in all; announces for new ones past it get a failure reason.
    pub max_torrents: usize,
    /// Bytes of query string accepted; longer requests get a failure reason.
    pub max_query_length: usize,
    /// `info_hash` values accepted in one scrape.
    pub max_scrape_hashes: usize,
    /// Seconds a whole sweep takes, freeing expired peers and empty torrents a part at a time.
    pub sweep_interval: u64,
    /// Seconds after which a connection that began no request, and has none being answered,
    /// is closed (checked once a period, so within one to two): a client that sends nothing
    /// or its head a byte at a time, and an idle keep-alive connection.
    pub header_read_timeout: u64,
    /// Connections served at once; past it, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Connections open at once from one address (an IPv6 /64) as the socket sees it; past
    /// it, a new one is closed at once. 0 turns the cap off; with `x_real_ip` it is off.
    pub max_connections_per_ip: usize,
    /// Bytes of request line and headers accepted; a longer head is answered 431.
    pub max_header_bytes: usize,
    /// Bytes of an upstream tracker's answer read at most; a longer one counts as a failure.
    pub max_upstream_response_bytes: usize,
    /// Seconds an upstream tracker is left alone after it failed or timed out.
    pub forward_retry_after: u64,
    /// Threads answering requests; 0 for one per CPU core.
    pub worker_threads: usize,
    /// Where swarms live: `memory` (this process) or `redis` (shared by every instance on
    /// the same Redis).
    pub storage: String,
    /// With `storage = "redis"`: a `redis://` or `rediss://` URL; a comma-separated list of
    /// them for the nodes of a Redis Cluster.
    pub redis_url: String,
    /// Seconds a call to the storage may take before the client is told it is unavailable.
    /// Fractions are allowed.
    pub storage_timeout: f64,
}

/// Where swarms live.
#[derive(Debug, Clone, PartialEq)]
pub enum Storage {
    Memory,
    Redis(RedisSettings),
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen_addr: ":80".into(),
            udp_listen_addr: String::new(),
            udp_max_in_flight: 10_000,
            peer_age: 180.0,
            debug_mode: false,
            log_format: "text".into(),
            x_real_ip: false,
            forward_timeout: 2,
            enable_prometheus: false,
            enable_stats: false,
            announce_interval: 30,
            min_announce_interval: 15,
            forwards_file: String::new(),
            allow_ip_param: false,
            default_numwant: 50,
            max_numwant: 200,
            max_peers_per_swarm: 250_000,
            max_torrents: 2_000_000,
            max_query_length: 8_192,
            max_scrape_hashes: 100,
            sweep_interval: 60,
            header_read_timeout: 10,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            max_header_bytes: 16 * 1024,
            max_upstream_response_bytes: 256 * 1024,
            forward_retry_after: 60,
            worker_threads: 0,
            storage: "memory".into(),
            redis_url: "redis://127.0.0.1:6379/0".into(),
            storage_timeout: 0.5,
        }
    }
}

/// The settings flags can override; `None` (or `false`) leaves the layer below in force.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen_addr: Option<String>,
    pub udp_listen_addr: Option<String>,
    pub peer_age: Option<f64>,
    pub debug_mode: bool,
    pub log_format: Option<String>,
    pub x_real_ip: bool,
    pub forward_timeout: Option<u64>,
    pub enable_prometheus: bool,
    pub enable_stats: bool,
    pub announce_interval: Option<u64>,
    pub forwards_file: Option<String>,
    pub storage: Option<String>,
    pub redis_url: Option<String>,
    pub storage_timeout: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid {key}: {problem}")]
    Invalid { key: &'static str, problem: String },
}

/// Where to listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenAddr {
    /// `:PORT`: every interface, as Go's `net.Listen` reads it.
    AllInterfaces(u16),
    Specific(SocketAddr),
}

impl ListenAddr {
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(port) = text.strip_prefix(':') {
            return port.parse().map(Self::AllInterfaces).map_err(|_| {
                format!("'{text}': the port after ':' must be a number from 0 to 65535")
            });
        }
        let mut resolved = text.to_socket_addrs().map_err(|error| {
            format!("'{text}': {error}; expected :PORT, IP:PORT or [IPv6]:PORT, e.g. :8080")
        })?;
        resolved.next().map(Self::Specific).ok_or_else(|| format!("'{text}' names no address"))
    }

    /// The addresses to try binding, in order: all-interfaces prefers one dual-stack IPv6
    /// socket and falls back to IPv4 on hosts without IPv6.
    pub fn candidates(self) -> Vec<SocketAddr> {
        match self {
            Self::AllInterfaces(port) => vec![
                SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
                SocketAddr::from(([0, 0, 0, 0], port)),
            ],
            Self::Specific(addr) => vec![addr],
        }
    }
}

impl Config {
    /// Layers defaults, the config file, the environment and the flags, then checks the result.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(overrides, |key| std::env::var(key).ok())
    }

    /// As [`Config::load`], reading environment variables through `env`.
    pub fn load_from(
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let defaults = config::Config::try_from(&Config::default())?;
        let mut builder = config::Config::builder().add_source(defaults);

        let config_file =
            overrides.config_file.clone().or_else(|| env("CONFIG_FILE").map(PathBuf::from));
        if let Some(path) = config_file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        builder = builder
            .add_source(config::Environment::default().source(Some(Self::environment(&env))));

        let flags: [(&str, Option<config::Value>); 14] = [
            ("log_format", overrides.log_format.clone().map(Into::into)),
            ("listen_addr", overrides.listen_addr.clone().map(Into::into)),
            ("udp_listen_addr", overrides.udp_listen_addr.clone().map(Into::into)),
            ("peer_age", overrides.peer_age.map(Into::into)),
            ("debug_mode", overrides.debug_mode.then_some(true.into())),
            ("x_real_ip", overrides.x_real_ip.then_some(true.into())),
            ("forward_timeout", overrides.forward_timeout.map(Into::into)),
            ("enable_prometheus", overrides.enable_prometheus.then_some(true.into())),
            ("enable_stats", overrides.enable_stats.then_some(true.into())),
            ("announce_interval", overrides.announce_interval.map(Into::into)),
            ("forwards_file", overrides.forwards_file.clone().map(Into::into)),
            ("storage", overrides.storage.clone().map(Into::into)),
            ("redis_url", overrides.redis_url.clone().map(Into::into)),
            ("storage_timeout", overrides.storage_timeout.map(Into::into)),
        ];
        for (key, value) in flags {
            builder = builder.set_override_option(key, value)?;
        }

        let config: Config = builder.build()?.try_deserialize()?;
        config.validate()?;
        Ok(config)
    }

    /// Our settings' environment variables, and only those: the rest of the environment is
    /// none of our business, and a stray variable must not trip `deny_unknown_fields`.
    fn environment(env: &impl Fn(&str) -> Option<String>) -> config::Map<String, String> {
        Self::keys()
            .into_iter()
            .filter_map(|key| env(&key.to_uppercase()).map(|value| (key, value)))
            .collect()
    }

    /// Every setting's name, as a config file spells it.
    pub fn keys() -> Vec<String> {
        let defaults = config::Config::try_from(&Config::default()).expect("defaults serialize");
        let table: HashMap<String, config::Value> =
            defaults.try_deserialize().expect("defaults form a table");
        let mut keys: Vec<String> = table.into_keys().collect();
        keys.sort();
        keys
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |key, problem: &str| Err(ConfigError::Invalid { key, problem: problem.into() });
        if self.listen_addr != HTTP_OFF {
            if let Err(problem) = ListenAddr::parse(&self.listen_addr) {
                return invalid("listen_addr", &problem);
            }
        } else if self.udp_listen_addr.is_empty() {
            return invalid(
                "listen_addr",
                "off, and udp_listen_addr is empty: nothing would be served; give either an \
                 address, e.g. --udp :6969",
            );
        }
        if !self.udp_listen_addr.is_empty() {
            if let Err(problem) = ListenAddr::parse(&self.udp_listen_addr) {
                return invalid("udp_listen_addr", &problem);
            }
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return invalid("log_format", "expected text or json");
        }
        if !matches!(self.storage.as_str(), "memory" | "redis") {
            return invalid("storage", "expected memory or redis");
        }
        if let Some(bad) = self.redis_urls().into_iter().find(|url| !is_redis_url(url)) {
            return invalid(
                "redis_url",
                &format!(
                    "'{bad}' is not a redis:// or rediss:// URL; e.g. redis://127.0.0.1:6379/0, \
                     or several, comma-separated, for a cluster"
                ),
            );
        }
        if !(self.storage_timeout.is_finite()
            && self.storage_timeout >= 0.001
            && self.storage_timeout <= 60.0)
        {
            return invalid("storage_timeout", "must be from 0.001 to 60 seconds");
        }
        if !(self.peer_age.is_finite() && self.peer_age > 0.0 && self.peer_age <= 525_600.0) {
            return invalid("peer_age", "must be more than 0 and at most 525600 minutes (a year)");
        }
        let at_least_one = [
            ("announce_interval", self.announce_interval as usize),
            ("forward_timeout", self.forward_timeout as usize),
            ("max_numwant", self.max_numwant),
            ("max_peers_per_swarm", self.max_peers_per_swarm),
            ("max_torrents", self.max_torrents),
            ("max_scrape_hashes", self.max_scrape_hashes),
            ("sweep_interval", self.sweep_interval as usize),
            ("header_read_timeout", self.header_read_timeout as usize),
            ("max_connections", self.max_connections),
            ("udp_max_in_flight", self.udp_max_in_flight),
            ("max_upstream_response_bytes", self.max_upstream_response_bytes),
            ("forward_retry_after", self.forward_retry_after as usize),
        ];
        for (key, value) in at_least_one {
            if value == 0 {
                return invalid(key, "must be at least 1");
            }
        }
        if self.max_query_length < 128 {
            return invalid("max_query_length", "must be at least 128 bytes to fit an announce");
        }
        if self.max_connections > MAX_CONNECTIONS_CEILING {
            return invalid("max_connections", "must be at most 10000000");
        }
        if self.udp_max_in_flight > MAX_CONNECTIONS_CEILING {
            return invalid("udp_max_in_flight", "must be at most 10000000");
        }
        // A query up to max_query_length must reach the tracker, not be cut off by the head
        // limit with a bare 431.
        if self.max_header_bytes < self.max_query_length.saturating_add(HEAD_ROOM) {
            return invalid(
                "max_header_bytes",
                &format!(
                    "must be at least max_query_length + {HEAD_ROOM} ({}) to leave room for the \
                     request line and headers",
                    self.max_query_length.saturating_add(HEAD_ROOM)
                ),
            );
        }
        Ok(())
    }

    /// Where to serve HTTP, if anywhere.
    pub fn listen(&self) -> Option<ListenAddr> {
        (self.listen_addr != HTTP_OFF)
            .then(|| ListenAddr::parse(&self.listen_addr).expect("validated on load"))
    }

    /// Where to serve UDP, if anywhere.
    pub fn udp_listen(&self) -> Option<ListenAddr> {
        (!self.udp_listen_addr.is_empty())
            .then(|| ListenAddr::parse(&self.udp_listen_addr).expect("validated on load"))
    }

    /// The URLs in `redis_url`, spaces trimmed.
    fn redis_urls(&self) -> Vec<String> {
        self.redis_url.split(',').map(|url| url.trim().to_string()).collect()
    }

    /// Where swarms live, with what the store needs.
    pub fn storage(&self) -> Storage {
        match self.storage.as_str() {
            "redis" => Storage::Redis(RedisSettings {
                urls: self.redis_urls(),
                timeout: Duration::from_secs_f64(self.storage_timeout),
            }),
            _ => Storage::Memory,
        }
    }

    pub fn peer_age(&self) -> PeerAge {
        PeerAge::new(Duration::from_secs_f64(self.peer_age * 60.0))
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.announce_interval)
    }

    pub fn min_interval(&self) -> Duration {
        Duration::from_secs(self.min_announce_interval.min(self.announce_interval))
    }

    pub fn numwant(&self) -> NumwantLimits {
        NumwantLimits { default: self.default_numwant, max: self.max_numwant }
    }

    /// The tracker's announce rules, in the units it works in.
    pub fn tracker_settings(&self) -> TrackerSettings {
        TrackerSettings {
            peer_age: self.peer_age(),
            interval: self.interval(),
            min_interval: self.min_interval(),
            numwant: self.numwant(),
            max_peers_per_swarm: self.max_peers_per_swarm,
            allow_claimed_ip: self.allow_ip_param,
        }
    }

    /// The cap on connections from one address, if it applies. Behind a proxy (`x_real_ip`)
    /// every connection comes from the proxy's address, so a cap there would cap every client
    /// at once: per-client limits belong in the proxy, which sees the clients.
    pub fn connections_per_address(&self) -> Option<NonZeroUsize> {
        if self.x_real_ip { None } else { NonZeroUsize::new(self.max_connections_per_ip) }
    }

    pub fn forwards_file(&self) -> Option<PathBuf> {
        (!self.forwards_file.is_empty()).then(|| PathBuf::from(&self.forwards_file))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |key| vars.get(key).cloned()
    }

    #[test]
    fn defaults_match_the_go_original() {
        let config = Config::load_from(&Overrides::default(), no_env).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.listen(), Some(ListenAddr::AllInterfaces(80)));
        assert_eq!(config.peer_age().duration(), Duration::from_secs(180 * 60));
        assert_eq!(config.forward_timeout, 2);
        assert_eq!(config.interval(), Duration::from_secs(30));
        assert!(!config.debug_mode && !config.x_real_ip && !config.enable_prometheus);
        assert!(!config.enable_stats, "the status page is off unless asked for");
        assert_eq!(config.forwards_file(), None);
    }

    #[test]
    fn environment_overrides_defaults_and_flags_override_environment() {
        let env = env_of(&[
            ("LISTEN_ADDR", ":9000"),
            ("PEER_AGE", "0.5"),
            ("DEBUG_MODE", "true"),
            ("X_REAL_IP", "1"),
            ("ANNOUNCE_INTERVAL", "60"),
            ("MAX_NUMWANT", "20"),
            ("FORWARDS_FILE", "123"),
            ("ENABLE_STATS", "yes"),
            ("PATH", "/usr/bin"),
        ]);
        let config = Config::load_from(&Overrides::default(), &env).unwrap();
        assert_eq!(config.listen(), Some(ListenAddr::AllInterfaces(9000)));
        assert_eq!(config.peer_age().duration(), Duration::from_secs(30));
        assert!(config.debug_mode && config.x_real_ip && config.enable_stats);
        assert_eq!((config.announce_interval, config.max_numwant), (60, 20));
        assert_eq!(config.forwards_file(), Some(PathBuf::from("123")));

        let flags = Overrides {
            listen_addr: Some("127.0.0.1:9001".into()),
            announce_interval: Some(45),
            enable_prometheus: true,
            ..Overrides::default()
        };
        let config = Config::load_from(&flags, &env).unwrap();
        assert_eq!(config.listen(), Some(ListenAddr::Specific("127.0.0.1:9001".parse().unwrap())));
        assert_eq!(config.announce_interval, 45);
        assert!(config.enable_prometheus);
        assert!(config.debug_mode, "an absent flag leaves the environment's value");
    }

    #[test]
    fn a_config_file_sits_between_defaults_and_environment() {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        writeln!(file, "max_torrents = 10\nannounce_interval = 120\n").unwrap();
        let overrides = Overrides { config_file: Some(file.path().into()), ..Overrides::default() };
        let env = env_of(&[("ANNOUNCE_INTERVAL", "90")]);
        let config = Config::load_from(&overrides, env).unwrap();
        assert_eq!((config.max_torrents, config.announce_interval), (10, 90));
    }

    #[test]
    fn an_unknown_key_in_the_config_file_is_an_error() {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        writeln!(file, "max_torrent = 10").unwrap();
        let overrides = Overrides { config_file: Some(file.path().into()), ..Overrides::default() };
        let error = Config::load_from(&overrides, no_env).unwrap_err().to_string();
        assert!(error.contains("max_torrent"), "{error}");
    }

    #[test]
    fn udp_is_off_unless_given_an_address() {
        let config = Config::load_from(&Overrides::default(), no_env).unwrap();
        assert_eq!(config.udp_listen(), None);
        let config =
            Config::load_from(&Overrides::default(), env_of(&[("UDP_LISTEN_ADDR", ":6969")]))
                .unwrap();
        assert_eq!(config.udp_listen(), Some(ListenAddr::AllInterfaces(6969)));
        let flags =
            Overrides { udp_listen_addr: Some("[::1]:6970".into()), ..Overrides::default() };
        let config = Config::load_from(&flags, env_of(&[("UDP_LISTEN_ADDR", ":6969")])).unwrap();
        assert_eq!(config.udp_listen(), Some(ListenAddr::Specific("[::1]:6970".parse().unwrap())));
    }

    #[test]
    fn http_may_be_off_when_udp_is_on() {
        let udp_only = env_of(&[("LISTEN_ADDR", "off"), ("UDP_LISTEN_ADDR", ":6969")]);
        let config = Config::load_from(&Overrides::default(), udp_only).unwrap();
        assert_eq!(config.listen(), None);
        let error = Config::load_from(&Overrides::default(), env_of(&[("LISTEN_ADDR", "off")]))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("invalid listen_addr: off, and udp_listen_addr is empty"));
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            ("DEBUG_MODE", "maybe", "debug_mode"),
            ("PEER_AGE", "0", "invalid peer_age"),
            ("PEER_AGE", "soon", "peer_age"),
            ("LISTEN_ADDR", ":http", "invalid listen_addr"),
            ("LISTEN_ADDR", "nowhere", "invalid listen_addr"),
            ("UDP_LISTEN_ADDR", ":tracker", "invalid udp_listen_addr"),
            ("UDP_MAX_IN_FLIGHT", "0", "invalid udp_max_in_flight: must be at least 1"),
            ("UDP_MAX_IN_FLIGHT", "99999999", "invalid udp_max_in_flight: must be at most"),
            ("MAX_NUMWANT", "0", "invalid max_numwant: must be at least 1"),
            ("MAX_QUERY_LENGTH", "10", "invalid max_query_length"),
            ("LOG_FORMAT", "xml", "invalid log_format: expected text or json"),
            ("MAX_CONNECTIONS", "0", "invalid max_connections: must be at least 1"),
            ("MAX_CONNECTIONS", "99999999", "invalid max_connections: must be at most"),
            ("MAX_HEADER_BYTES", "9000", "invalid max_header_bytes: must be at least"),
            ("STORAGE", "disk", "invalid storage: expected memory or redis"),
            ("REDIS_URL", "http://127.0.0.1:6379", "invalid redis_url: 'http://127.0.0.1:6379'"),
            ("REDIS_URL", "redis://a:1,", "invalid redis_url: '' is not"),
            ("STORAGE_TIMEOUT", "0", "invalid storage_timeout: must be from 0.001 to 60"),
            ("STORAGE_TIMEOUT", "NaN", "invalid storage_timeout"),
        ];
        for (var, value, expected) in cases {
            let error = Config::load_from(&Overrides::default(), env_of(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{var}={value}: {error}");
        }
    }

    #[test]
    fn storage_is_memory_unless_redis_is_asked_for_with_one_url_or_a_cluster() {
        assert_eq!(Config::default().storage(), Storage::Memory);
        let env = [
            ("STORAGE", "redis"),
            ("REDIS_URL", "redis://10.0.0.1:7000, rediss://:pw@10.0.0.2:7000"),
            ("STORAGE_TIMEOUT", "0.25"),
        ];
        let config = Config::load_from(&Overrides::default(), env_of(&env)).unwrap();
        let expected = RedisSettings {
            urls: vec!["redis://10.0.0.1:7000".into(), "rediss://:pw@10.0.0.2:7000".into()],
            timeout: Duration::from_millis(250),
        };
        assert_eq!(config.storage(), Storage::Redis(expected));
    }

    #[test]
    fn every_setting_has_an_environment_variable() {
        let keys = Config::keys();
        assert_eq!(keys.len(), 31);
        assert!(keys.contains(&"listen_addr".to_string()));
        assert!(keys.contains(&"max_torrents".to_string()));
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            ListenAddr::parse(":8080").unwrap().candidates(),
            vec!["[::]:8080".parse().unwrap(), "0.0.0.0:8080".parse().unwrap()]
        );
        assert_eq!(
            ListenAddr::parse("[::1]:81").unwrap(),
            ListenAddr::Specific("[::1]:81".parse().unwrap())
        );
        assert!(ListenAddr::parse(":99999").is_err());
    }

    #[test]
    fn the_per_address_cap_is_off_at_0_and_behind_a_proxy() {
        let cap = |max_connections_per_ip, x_real_ip| {
            Config { max_connections_per_ip, x_real_ip, ..Config::default() }
                .connections_per_address()
                .map(NonZeroUsize::get)
        };
        assert_eq!(cap(256, false), Some(256));
        assert_eq!(cap(0, false), None);
        assert_eq!(cap(256, true), None, "every connection comes from the proxy");
    }

    #[test]
    fn min_interval_never_exceeds_the_interval() {
        let config =
            Config { announce_interval: 10, min_announce_interval: 15, ..Config::default() };
        assert_eq!(config.min_interval(), Duration::from_secs(10));
    }
}
