//! Redis down: failure reasons and `/healthz` 503, then service again with no restart.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::instance::Instance;
use crate::server::{Redis, redis_installed};

#[tokio::test]
async fn redis_down_means_failure_reasons_and_503_then_service_resumes_by_itself() {
    if !redis_installed() {
        return;
    }
    let mut redis = Redis::start();
    let a = Instance::start(&redis.url(), "180").await;
    announce(&a.base, &Announce::new(5, 1)).await;

    // Killed under load: every request in flight or after is answered, none hangs.
    let load: Vec<_> = (0..20u8)
        .map(|peer| {
            let base = a.base.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let query = Announce::new(5, peer).query();
                let (status, body) = get(&format!("{base}/announce?{query}")).await;
                (status, body, started.elapsed())
            })
        })
        .collect();
    redis.kill();
    // Held while Redis is down, so that no other test's Redis takes the port meanwhile.
    let held = TcpListener::bind(("127.0.0.1", redis.port)).expect("the port is free again");
    for request in load {
        let (status, body, took) = request.await.unwrap();
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(5), "an answer took {took:?}");
        if body.starts_with(b"d14:failure reason") {
            assert_eq!(failure_reason(&body), "tracker storage unavailable: try again later");
        }
    }
    let started = Instant::now();
    let body = a.announce_raw(&Announce::new(5, 2)).await;
    let took = started.elapsed();
    assert_eq!(failure_reason(&body), "tracker storage unavailable: try again later");
    // The storage timeout, plus room for a loaded machine: never a hang.
    assert!(took < Duration::from_secs(3), "the failure took {took:?}");
    let scraped = get(&format!("{}/scrape?info_hash={}", a.base, "a".repeat(20))).await;
    assert_eq!(failure_reason(&scraped.1), "tracker storage unavailable: try again later");
    a.wait_for_health(503).await;

    drop(held);
    redis.restart();
    a.wait_for_health(200).await;
    let answer = announce(&a.base, &Announce::new(5, 3)).await;
    assert!(answer.peers.is_empty(), "a Redis without persistence came back empty");
    assert_eq!(announce(&a.base, &Announce::new(5, 4)).await.peers.len(), 1);
}

#[tokio::test]
async fn a_tracker_started_before_redis_answers_serves_once_it_does() {
    if !redis_installed() {
        return;
    }
    // The port is held by a listener that takes connections and never answers: a store
    // slower than the timeout. Held, so no other test's Redis takes it meanwhile.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let a = Instance::spawn(&format!("redis://127.0.0.1:{port}/0"), "180", &[]);
    a.wait_for_health(503).await;
    let started = Instant::now();
    let body = a.announce_raw(&Announce::new(8, 1)).await;
    assert_eq!(failure_reason(&body), "tracker storage unavailable: try again later");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    drop(silent);
    let _redis = Redis::start_on(port, &[]);
    a.wait_for_health(200).await;
    announce(&a.base, &Announce::new(8, 1)).await;
    assert_eq!(announce(&a.base, &Announce::new(8, 2)).await.peers.len(), 1);
}

#[tokio::test]
async fn redis_at_its_maxmemory_means_tracker_full_while_healthz_stays_ok_and_scrape_works() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let a = Instance::start(&redis.url(), "180").await;
    let listed = Announce::new(12, 1).seeding();
    announce(&a.base, &listed).await;

    // A byte: whatever Redis holds is over it, so it refuses every write.
    redis.cli(&["config", "set", "maxmemory-policy", "noeviction"]);
    redis.cli(&["config", "set", "maxmemory", "1"]);
    for announced in [Announce::new(13, 2), Announce::new(12, 3), listed.clone()] {
        let body = a.announce_raw(&announced).await;
        assert_eq!(
            failure_reason(&body),
            "tracker is full: its storage holds the most it may; try again later"
        );
    }
    // Full is not down: a load balancer keeps the instance, and reads still work.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(a.health().await, Some(200));
    assert_eq!(scrape(&a.base, &[listed.info_hash]).await, vec![(1, 0, 0)]);

    redis.cli(&["config", "set", "maxmemory", "0"]);
    assert_eq!(announce(&a.base, &Announce::new(12, 3)).await.peers.len(), 1);
}
