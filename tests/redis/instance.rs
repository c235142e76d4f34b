//! A tracker process (the binary) on Redis, stopped by its process id.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::server::free_port;

const BINARY: &str = env!("CARGO_BIN_EXE_retracker");
const STORAGE_TIMEOUT: &str = "0.3";

/// A tracker process on Redis, stopped by its process id when dropped.
pub struct Instance {
    pub child: Child,
    pub base: String,
}

impl Instance {
    pub async fn start(redis_url: &str, peer_age_minutes: &str) -> Self {
        Self::start_with(redis_url, peer_age_minutes, &[]).await
    }

    /// `start`, with more settings in the environment.
    pub async fn start_with(redis_url: &str, peer_age_minutes: &str, env: &[(&str, &str)]) -> Self {
        let instance = Self::spawn(redis_url, peer_age_minutes, env);
        instance.wait_for_health(200).await;
        instance
    }

    /// Starts the process without waiting for it to serve.
    pub fn spawn(redis_url: &str, peer_age_minutes: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_logging(redis_url, peer_age_minutes, env, Stdio::null())
    }

    /// `spawn`, its log written to `log`.
    pub fn spawn_logging(
        redis_url: &str,
        peer_age_minutes: &str,
        env: &[(&str, &str)],
        log: impl Into<Stdio>,
    ) -> Self {
        let port = free_port();
        let child = Command::new(BINARY)
            .envs(env.iter().copied())
            .args(["-l", &format!("127.0.0.1:{port}")])
            .env_remove("RUST_LOG")
            .env_remove("CONFIG_FILE")
            .env("STORAGE", "redis")
            .env("REDIS_URL", redis_url)
            .env("STORAGE_TIMEOUT", STORAGE_TIMEOUT)
            .env("PEER_AGE", peer_age_minutes)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the tracker starts");
        Self { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// `/healthz`'s status, or none while nothing listens.
    pub async fn health(&self) -> Option<u16> {
        let response = client().get(format!("{}/healthz", self.base)).send().await.ok()?;
        Some(response.status().as_u16())
    }

    pub async fn wait_for_health(&self, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.health().await != Some(status) {
            assert!(Instant::now() < deadline, "/healthz did not turn {status} within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The raw answer to `announce`, success or failure.
    pub async fn announce_raw(&self, announce: &Announce) -> Vec<u8> {
        let (status, body) = get(&format!("{}/announce?{}", self.base, announce.query())).await;
        assert_eq!(status, 200);
        body
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
