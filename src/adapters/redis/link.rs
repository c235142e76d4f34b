//! The connection to Redis, one server or a cluster, and the one rule every call obeys: it
//! ends within the storage timeout, answered or not.
//!
//! Both kinds multiplex every request over one connection per server and reconnect by
//! themselves, so a Redis that comes back is used again without a restart.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Pipeline, RedisError, ScriptInvocation, Value};

/// Why a call to Redis gave nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Redis(#[from] RedisError),
}

#[derive(Clone)]
pub enum Link {
    Single(ConnectionManager),
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
        Ok(Self::Single(ConnectionManager::new_lazy_with_config(client, config)?))
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

    /// Runs a script by its SHA; on NOSCRIPT (a restarted or failed-over server) it is
    /// loaded and run once more.
    pub async fn script(
        &self,
        invocation: &ScriptInvocation<'_>,
        timeout: Duration,
    ) -> Result<Vec<Value>, LinkError> {
        let call = async {
            match self.clone() {
                Self::Single(mut connection) => invocation.invoke_async(&mut connection).await,
                Self::Cluster(mut connection) => invocation.invoke_async(&mut connection).await,
            }
        };
        within(timeout, call).await
    }

    /// Sends a pipeline of commands on one torrent's keys.
    pub async fn pipeline(
        &self,
        pipeline: &Pipeline,
        timeout: Duration,
    ) -> Result<Vec<Option<u64>>, LinkError> {
        let call = async {
            match self.clone() {
                Self::Single(mut connection) => pipeline.query_async(&mut connection).await,
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
                Self::Single(mut connection) => ping.query_async::<()>(&mut connection).await,
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
