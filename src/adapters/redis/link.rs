//! The connection to Redis, one server or a cluster, and the one rule every call obeys: it
//! ends within the storage timeout, answered or not.
//!
//! Both kinds multiplex every request over one connection per server and reconnect by
//! themselves, so a Redis that comes back is used again without a restart. On one server,
//! the announces' script calls go through a `Batcher`, many to a write.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, ServerErrorKind, Value};

use super::batch::Batcher;

/// Why a call to Redis gave nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Redis(#[from] RedisError),
}

/// A server-side script: its text, and the SHA it is called by.
pub struct LoadedScript {
    pub text: &'static str,
    pub sha: String,
}

impl LoadedScript {
    pub fn new(text: &'static str) -> Self {
        Self { text, sha: redis::Script::new(text).get_hash().to_string() }
    }
}

#[derive(Clone)]
pub enum Link {
    Single { connection: ConnectionManager, batcher: Batcher },
    Cluster(ClusterConnection),
}

impl Link {
    /// One server at `url`; nothing is sent until the first call, so the tracker starts
    /// while Redis is still down.
    pub fn single(url: &str, timeout: Duration) -> Result<Self, RedisError> {
        use_ring_for_tls();
        let client = redis::Client::open(url)?;
        // Reconnect attempts come quickly and never give up: the health probe and every
        // request find the server again soon after it returns.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(usize::MAX);
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self::Single { batcher: Batcher::start(connection.clone(), timeout), connection })
    }

    /// A Redis Cluster reached first through any of `nodes`.
    pub async fn cluster(nodes: &[String], timeout: Duration) -> Result<Self, RedisError> {
        use_ring_for_tls();
        let client = ClusterClient::builder(nodes.to_vec())
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .build()?;
        Ok(Self::Cluster(client.get_async_connection().await?))
    }

    /// Runs a script by its SHA: `keys_and_arguments` writes what follows the SHA. On
    /// NOSCRIPT (a restarted or failed-over server) it runs once more by its text, which
    /// goes where the keys are, on a cluster too, and leaves the script there. Must be
    /// called within the runtime that connected (a single server's calls are batched).
    pub async fn script(
        &self,
        script: &LoadedScript,
        keys_and_arguments: impl Fn(&mut Cmd),
        timeout: Duration,
    ) -> Result<Vec<Value>, LinkError> {
        let mut by_sha = redis::cmd("EVALSHA");
        by_sha.arg(&script.sha);
        keys_and_arguments(&mut by_sha);
        let answer = match self {
            // The batch keeps the deadline: no timer a call.
            Self::Single { batcher, .. } => match batcher.query(by_sha).await {
                Ok(reply) => {
                    redis::from_redis_value(reply).map_err(|bad| RedisError::from(bad).into())
                }
                Err(error) => Err(error.into()),
            },
            Self::Cluster(_) => within(timeout, self.query(&by_sha)).await,
        };
        match answer {
            Err(LinkError::Redis(error))
                if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) =>
            {
                let mut by_text = redis::cmd("EVAL");
                by_text.arg(script.text);
                keys_and_arguments(&mut by_text);
                within(timeout, self.query(&by_text)).await
            }
            answer => answer,
        }
    }

    async fn query(&self, command: &Cmd) -> Result<Vec<Value>, RedisError> {
        match self.clone() {
            Self::Single { mut connection, .. } => command.query_async(&mut connection).await,
            Self::Cluster(mut connection) => command.query_async(&mut connection).await,
        }
    }

    /// Sends a pipeline of commands on one torrent's keys.
    pub async fn pipeline(
        &self,
        pipeline: &Pipeline,
        timeout: Duration,
    ) -> Result<Vec<Option<u64>>, LinkError> {
        let call = async {
            match self.clone() {
                Self::Single { mut connection, .. } => pipeline.query_async(&mut connection).await,
                Self::Cluster(mut connection) => pipeline.query_async(&mut connection).await,
            }
        };
        within(timeout, call).await
    }

    /// Whether the store answers a PING in time.
    pub async fn ping(&self, timeout: Duration) -> bool {
        let ping = redis::cmd("PING");
        let call = async {
            match self.clone() {
                Self::Single { mut connection, .. } => {
                    ping.query_async::<()>(&mut connection).await
                }
                Self::Cluster(mut connection) => ping.query_async::<()>(&mut connection).await,
            }
        };
        within(timeout, call).await.is_ok()
    }
}

/// rustls needs a process-wide crypto provider for `rediss://`; ring, as for forwarders (the
/// first to install one wins, and both pick the same).
fn use_ring_for_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn within<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, LinkError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(LinkError::Timeout(timeout)),
    }
}
