//! The command line: the Go original's single-letter flags, with long names beside them.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

use super::config::Overrides;

/// An in-memory HTTP BitTorrent tracker that can forward announces to other trackers.
///
/// Every setting can also come from a config file (-c) or an environment variable; flags
/// win over the environment, which wins over the file.
#[derive(Debug, Parser)]
#[command(name = "retracker", version, disable_version_flag = true, after_help = AFTER_HELP)]
pub struct Cli {
    /// Listen address: ":PORT" (all interfaces), "IP:PORT", "[IPv6]:PORT", or "off" for no HTTP
    /// [env: LISTEN_ADDR] [default: :80]
    #[arg(short = 'l', long = "listen", value_name = "ADDR")]
    listen_addr: Option<String>,

    /// Also serve UDP (BEP 15) here: ":PORT" (all interfaces), "IP:PORT" or "[IPv6]:PORT"
    /// [env: UDP_LISTEN_ADDR] [default: off]
    #[arg(short = 'u', long = "udp", value_name = "ADDR")]
    udp_listen_addr: Option<String>,

    /// Keep a peer for this many minutes after its last announce
    /// [env: PEER_AGE] [default: 180]
    #[arg(short = 'a', long = "peer-age", value_name = "MINUTES")]
    peer_age: Option<f64>,

    /// Debug mode: log every request [env: DEBUG_MODE]
    #[arg(short = 'd', long = "debug", action = ArgAction::SetTrue)]
    debug_mode: bool,

    /// Log format: text, or json for log shippers [env: LOG_FORMAT] [default: text]
    #[arg(long = "log-format", value_name = "FORMAT")]
    log_format: Option<String>,

    /// Take the client's address from the X-Real-IP header (behind nginx) [env: X_REAL_IP]
    #[arg(short = 'x', long = "x-real-ip", action = ArgAction::SetTrue)]
    x_real_ip: bool,

    /// Seconds to wait for each forwarder (with -f) [env: FORWARD_TIMEOUT] [default: 2]
    #[arg(short = 't', long = "forward-timeout", value_name = "SECONDS")]
    forward_timeout: Option<u64>,

    /// Serve Prometheus metrics at /metrics [env: ENABLE_PROMETHEUS]
    #[arg(short = 'p', long = "prometheus", action = ArgAction::SetTrue)]
    enable_prometheus: bool,

    /// Serve a status page at /stats and /stats.json [env: ENABLE_STATS]
    #[arg(short = 's', long = "stats", action = ArgAction::SetTrue)]
    enable_stats: bool,

    /// Seconds clients should wait between announces [env: ANNOUNCE_INTERVAL] [default: 30]
    #[arg(short = 'i', long = "interval", value_name = "SECONDS")]
    announce_interval: Option<u64>,

    /// Forward announces to the trackers listed in this YAML file [env: FORWARDS_FILE]
    #[arg(short = 'f', long = "forwards", value_name = "FILE")]
    forwards_file: Option<String>,

    /// Where swarms live: memory, or redis to share them between instances
    /// [env: STORAGE] [default: memory]
    #[arg(long = "storage", value_name = "STORE")]
    storage: Option<String>,

    /// The Redis server (redis:// or rediss://), or a comma-separated list of cluster nodes
    /// [env: REDIS_URL] [default: redis://127.0.0.1:6379/0]
    #[arg(long = "redis-url", value_name = "URL")]
    redis_url: Option<String>,

    /// Seconds a storage call may take before the client is told storage is unavailable
    /// [env: STORAGE_TIMEOUT] [default: 0.5]
    #[arg(long = "storage-timeout", value_name = "SECONDS")]
    storage_timeout: Option<f64>,

    /// Read settings from this TOML file [env: CONFIG_FILE]
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config_file: Option<PathBuf>,

    /// Print the version
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: (),
}

const AFTER_HELP: &str = "\
More settings (config file key / environment variable, defaults in the README):
  allow_ip_param / ALLOW_IP_PARAM            min_announce_interval / MIN_ANNOUNCE_INTERVAL
  default_numwant / DEFAULT_NUMWANT          max_numwant / MAX_NUMWANT
  max_peers_per_swarm / MAX_PEERS_PER_SWARM  max_torrents / MAX_TORRENTS
  max_query_length / MAX_QUERY_LENGTH        max_scrape_hashes / MAX_SCRAPE_HASHES
  sweep_interval / SWEEP_INTERVAL            header_read_timeout / HEADER_READ_TIMEOUT
  forward_retry_after / FORWARD_RETRY_AFTER  max_upstream_response_bytes / MAX_UPSTREAM_RESPONSE_BYTES
  max_connections / MAX_CONNECTIONS          max_header_bytes / MAX_HEADER_BYTES
  worker_threads / WORKER_THREADS            max_connections_per_ip / MAX_CONNECTIONS_PER_IP
  udp_max_in_flight / UDP_MAX_IN_FLIGHT

Example: retracker -l :8080 -d";

impl Cli {
    pub fn overrides(self) -> Overrides {
        Overrides {
            config_file: self.config_file,
            listen_addr: self.listen_addr,
            udp_listen_addr: self.udp_listen_addr,
            peer_age: self.peer_age,
            debug_mode: self.debug_mode,
            log_format: self.log_format,
            x_real_ip: self.x_real_ip,
            forward_timeout: self.forward_timeout,
            enable_prometheus: self.enable_prometheus,
            enable_stats: self.enable_stats,
            announce_interval: self.announce_interval,
            forwards_file: self.forwards_file,
            storage: self.storage,
            redis_url: self.redis_url,
            storage_timeout: self.storage_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_go_flags_parse() {
        let cli = Cli::try_parse_from([
            "retracker",
            "-l",
            ":8080",
            "-a",
            "90",
            "-d",
            "-x",
            "-t",
            "5",
            "-p",
            "-s",
            "-i",
            "60",
            "-f",
            "f.yml",
            "--udp",
            ":6969",
        ])
        .unwrap();
        let overrides = cli.overrides();
        assert_eq!(overrides.listen_addr.as_deref(), Some(":8080"));
        assert_eq!(overrides.udp_listen_addr.as_deref(), Some(":6969"));
        assert_eq!(overrides.peer_age, Some(90.0));
        assert!(overrides.debug_mode && overrides.x_real_ip && overrides.enable_prometheus);
        assert!(overrides.enable_stats);
        assert_eq!(overrides.forward_timeout, Some(5));
        assert_eq!(overrides.announce_interval, Some(60));
        assert_eq!(overrides.forwards_file.as_deref(), Some("f.yml"));
    }

    #[test]
    fn no_flags_override_nothing() {
        let cli = Cli::try_parse_from(["retracker"]).unwrap();
        assert_eq!(cli.overrides(), Overrides::default());
    }

    #[test]
    fn help_names_every_environment_variable() {
        let help = Cli::command().render_long_help().to_string();
        for key in super::super::config::Config::keys() {
            assert!(
                help.contains(&key.to_uppercase()),
                "--help does not mention {}",
                key.to_uppercase()
            );
        }
    }
}
