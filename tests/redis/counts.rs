//! An instance on Redis does not count what the shared store holds: its metrics and status
//! page leave the counts out rather than show zeros, and keep their own requests.

use crate::common::*;
use crate::instance::Instance;
use crate::server::{Redis, redis_installed};

#[tokio::test]
async fn counts_are_left_out_rather_than_zero() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let settings = [("ENABLE_PROMETHEUS", "true"), ("ENABLE_STATS", "true")];
    let tracker = Instance::start_with(&redis.url(), "180", &settings).await;
    announce(&tracker.base, &Announce::new(1, 1)).await;

    let (status, metrics) = get(&format!("{}/metrics", tracker.base)).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert_eq!(status, 200);
    let gauge = |l: &&str| l.starts_with("retracker_torrents") || l.starts_with("retracker_peers{");
    assert_eq!(metrics.lines().find(gauge), None);
    assert!(metrics.lines().any(|l| l.starts_with("requests 1")), "{metrics}");

    let (status, json) = get(&format!("{}/stats.json", tracker.base)).await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert!(json["torrents"].is_null() && json["peers"].is_null(), "{json}");
    assert_eq!(json["front_ends"]["http"]["announces"], 1);
}
