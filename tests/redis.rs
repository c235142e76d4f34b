//! Swarms on a real Redis, shared by real tracker processes (the binary) on loopback: what one
//! instance records the other hands out, a restart forgets nobody, peers age out with no
//! sweep, and a Redis that dies turns answers into failure reasons and `/healthz` into 503
//! until it is back.
//!
//! The same against a three-master Redis Cluster, with torrents on every master.
//!
//! Each test starts its own `redis-server` on a free port, without persistence, in a temporary
//! directory, and kills it by its process id. Skipped, loudly, where `redis-server` is missing,
//! unless RETRACKER_REQUIRE_REDIS=1 (as `.ci/run` sets).

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use retracker::adapters::memory::MemoryRepository;
use retracker::adapters::redis::{RedisRepository, RedisSettings};
use retracker::domain::announce::Refusal;
use retracker::domain::identity::PeerKey;
use retracker::domain::ids::{InfoHash, PeerId};
use retracker::domain::peer::{AnyEndpoint, Event};
use retracker::domain::swarm::{AnnounceContext, PeerAnnounce, Standing, SwarmStats};
use retracker::domain::time::Timestamp;
use retracker::ports::PeerRepository;

const BINARY: &str = env!("CARGO_BIN_EXE_retracker");
const STORAGE_TIMEOUT: &str = "0.3";

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether `redis-server` can be run here; says so loudly when the test is skipped.
fn redis_installed() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            std::env::var("RETRACKER_REQUIRE_REDIS").as_deref() != Ok("1"),
            "redis-server is missing and RETRACKER_REQUIRE_REDIS=1: apt-get install redis-server"
        );
        eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
    }
    found
}

/// A `redis-server` of our own, killed by its process id when dropped.
struct Redis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    /// Arguments beyond the port, the address, no persistence and the directory.
    extra: Vec<String>,
}

impl Redis {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Self {
        Self::start_on(free_port(), extra)
    }

    fn start_on(port: u16, extra: &[&str]) -> Self {
        let mut redis = Self {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            extra: extra.iter().map(|arg| arg.to_string()).collect(),
        };
        redis.restart();
        redis
    }

    /// Starts the server again on the same port, after `kill`.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.answers_ping() {
            assert!(Instant::now() < deadline, "redis-server did not answer within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// What `redis-cli` prints for `command` sent to this server.
    fn cli(&self, command: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(command)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn cluster_ok(&self) -> bool {
        self.cli(&["cluster", "info"]).contains("cluster_state:ok")
    }

    fn key_count(&self) -> u64 {
        self.cli(&["dbsize"]).trim().parse().unwrap_or(0)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server at once, as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A tracker process on Redis, stopped by its process id when dropped.
struct Instance {
    child: Child,
    base: String,
}

impl Instance {
    async fn start(redis_url: &str, peer_age_minutes: &str) -> Self {
        Self::start_with(redis_url, peer_age_minutes, &[]).await
    }

    /// `start`, with more settings in the environment.
    async fn start_with(redis_url: &str, peer_age_minutes: &str, env: &[(&str, &str)]) -> Self {
        let instance = Self::spawn(redis_url, peer_age_minutes, env);
        instance.wait_for_health(200).await;
        instance
    }

    /// Starts the process without waiting for it to serve.
    fn spawn(redis_url: &str, peer_age_minutes: &str, env: &[(&str, &str)]) -> Self {
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
            .stderr(Stdio::null())
            .spawn()
            .expect("the tracker starts");
        Self { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// `/healthz`'s status, or none while nothing listens.
    async fn health(&self) -> Option<u16> {
        let response = client().get(format!("{}/healthz", self.base)).send().await.ok()?;
        Some(response.status().as_u16())
    }

    async fn wait_for_health(&self, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.health().await != Some(status) {
            assert!(Instant::now() < deadline, "/healthz did not turn {status} within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The raw answer to `announce`, success or failure.
    async fn announce_raw(&self, announce: &Announce) -> Vec<u8> {
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

#[tokio::test]
async fn two_instances_hand_out_each_others_peers_and_agree_on_counts() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let a = Instance::start(&redis.url(), "180").await;
    let b = Instance::start(&redis.url(), "180").await;

    let seeder = Announce::new(1, 1).seeding().with("event=started");
    assert!(announce(&a.base, &seeder).await.peers.is_empty());
    let leecher = Announce::new(1, 2).with("event=started");
    let answer = announce(&b.base, &leecher).await;
    assert_eq!(answer.peers, vec!["127.0.0.1:6001".parse().unwrap()], "a's seeder, at b");
    assert_eq!((answer.complete, answer.incomplete), (1, 1));
    let answer = announce(&a.base, &seeder).await;
    assert_eq!(answer.peers, vec!["127.0.0.1:6002".parse().unwrap()], "b's leecher, at a");

    let hash = seeder.info_hash;
    assert_eq!(scrape(&a.base, &[hash]).await, vec![(1, 0, 1)]);
    assert_eq!(scrape(&b.base, &[hash]).await, vec![(1, 0, 1)]);

    // `completed` counts once, whichever instance hears it.
    let done = Announce::new(1, 2).seeding().with("event=completed");
    announce(&a.base, &done).await;
    announce(&b.base, &done).await;
    assert_eq!(scrape(&b.base, &[hash]).await, vec![(2, 1, 0)]);

    // Stopped at b, the seeder is gone from a's answers too.
    announce(&b.base, &seeder.clone().with("event=stopped")).await;
    let answer = announce(&a.base, &Announce::new(1, 3)).await;
    assert_eq!(answer.peers, vec!["127.0.0.1:6002".parse().unwrap()]);
    assert_eq!(scrape(&a.base, &[hash]).await, vec![(1, 1, 1)]);
}

#[tokio::test]
async fn a_peer_bound_to_its_key_at_one_instance_is_refused_to_another_key_at_the_other() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let a = Instance::start(&redis.url(), "180").await;
    let b = Instance::start(&redis.url(), "180").await;

    announce(&a.base, &Announce::new(2, 1).with("key=first")).await;
    // From another address than the peer's: from its own, any key speaks for it.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let stop = Announce::new(2, 1).with("key=other&event=stopped");
    let (status, body) =
        get_with(&elsewhere, &format!("{}/announce?{}", b.base, stop.query()), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        failure_reason(&body),
        "peer_id in use: this torrent lists it for a client with another key or address"
    );
    let answer = announce(&b.base, &Announce::new(2, 2)).await;
    assert_eq!(answer.peers, vec!["127.0.0.1:6001".parse().unwrap()], "still listed");
}

#[tokio::test]
async fn a_full_swarm_answers_newcomers_without_listing_them_and_stopped_writes_nothing() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let full = [("MAX_PEERS_PER_SWARM", "2")];
    let a = Instance::start_with(&redis.url(), "180", &full).await;
    let b = Instance::start_with(&redis.url(), "180", &full).await;

    // A stopped for a torrent nobody announced creates no key.
    announce(&a.base, &Announce::new(7, 1).with("event=stopped")).await;
    assert_eq!(redis.key_count(), 0);

    announce(&a.base, &Announce::new(7, 1)).await;
    announce(&b.base, &Announce::new(7, 2)).await;
    let newcomer = announce(&a.base, &Announce::new(7, 3)).await;
    assert_eq!(newcomer.peers.len(), 2, "answered with the listed peers");
    assert_eq!((newcomer.complete, newcomer.incomplete), (0, 2), "but not listed");
    let mut listed = announce(&b.base, &Announce::new(7, 1)).await.peers;
    listed.sort();
    assert_eq!(listed, vec!["127.0.0.1:6002".parse().unwrap()]);
}

#[tokio::test]
async fn peers_and_torrents_expire_after_the_peer_age_with_no_sweep() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    // Three seconds: the keys' TTL, and the score cut-off.
    let a = Instance::start(&redis.url(), "0.05").await;
    let b = Instance::start(&redis.url(), "0.05").await;

    let seeder = Announce::new(3, 1).seeding();
    announce(&a.base, &seeder).await;
    assert_eq!(announce(&b.base, &Announce::new(3, 2)).await.peers.len(), 1);
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    assert_eq!(scrape(&b.base, &[seeder.info_hash]).await, vec![(0, 0, 0)], "keys gone");
    assert!(announce(&b.base, &Announce::new(3, 3)).await.peers.is_empty());
}

#[tokio::test]
async fn a_restarted_tracker_keeps_every_peer() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let first = Instance::start(&redis.url(), "180").await;
    for peer in 1..=3 {
        announce(&first.base, &Announce::new(4, peer).seeding()).await;
    }
    drop(first);
    let again = Instance::start(&redis.url(), "180").await;
    let mut peers = announce(&again.base, &Announce::new(4, 9)).await.peers;
    peers.sort();
    let want: Vec<std::net::SocketAddr> =
        (1..=3).map(|peer| format!("127.0.0.1:{}", 6000 + peer).parse().unwrap()).collect();
    assert_eq!(peers, want);
}

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
async fn a_partial_seed_is_handed_to_leechers_only_across_instances() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let a = Instance::start(&redis.url(), "180").await;
    let b = Instance::start(&redis.url(), "180").await;

    announce(&a.base, &Announce::new(6, 1).with("event=paused")).await;
    let seeder = announce(&b.base, &Announce::new(6, 2).seeding()).await;
    assert!(seeder.peers.is_empty(), "a seeder gets no partial seed: {:?}", seeder.peers);
    let mut leecher = announce(&a.base, &Announce::new(6, 3)).await.peers;
    leecher.sort();
    let want: Vec<std::net::SocketAddr> =
        vec!["127.0.0.1:6001".parse().unwrap(), "127.0.0.1:6002".parse().unwrap()];
    assert_eq!(leecher, want);
    let seeder = announce(&b.base, &Announce::new(6, 2).seeding()).await;
    assert_eq!(seeder.peers, vec!["127.0.0.1:6003".parse().unwrap()], "the leecher only");
}

/// Three masters of a Redis Cluster on loopback, killed by their process ids when dropped.
struct Cluster {
    nodes: Vec<Redis>,
}

impl Cluster {
    fn start() -> Self {
        let nodes: Vec<Redis> =
            (0..3).map(|_| Redis::start_with(&["--cluster-enabled", "yes"])).collect();
        let addresses: Vec<String> =
            nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli runs");
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = Self { nodes };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.nodes.iter().all(|node| node.cluster_ok()) {
            assert!(Instant::now() < deadline, "the cluster did not come up within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// Every node's URL, comma-separated, as `REDIS_URL` takes a cluster.
    fn urls(&self) -> String {
        self.nodes.iter().map(Redis::url).collect::<Vec<_>>().join(",")
    }
}

#[tokio::test]
async fn two_instances_share_swarms_on_a_three_master_cluster_spread_over_every_master() {
    if !redis_installed() {
        return;
    }
    let cluster = Cluster::start();
    let a = Instance::start(&cluster.urls(), "180").await;
    let b = Instance::start(&cluster.urls(), "180").await;

    for torrent in 10..40 {
        announce(&a.base, &Announce::new(torrent, 1).seeding()).await;
        let answer = announce(&b.base, &Announce::new(torrent, 2)).await;
        assert_eq!(answer.peers, vec!["127.0.0.1:6001".parse().unwrap()], "torrent {torrent}");
    }
    let hashes: Vec<[u8; 20]> =
        (10..40).map(|torrent| Announce::new(torrent, 1).info_hash).collect();
    let both = vec![(1, 0, 1); hashes.len()];
    assert_eq!(scrape(&a.base, &hashes).await, both);
    assert_eq!(scrape(&b.base, &hashes).await, both);
    announce(&b.base, &Announce::new(10, 1).seeding().with("event=stopped")).await;
    let answer = announce(&a.base, &Announce::new(10, 3).seeding()).await;
    assert_eq!(answer.peers, vec!["127.0.0.1:6002".parse().unwrap()], "the seeder stopped");
    for node in &cluster.nodes {
        assert!(node.key_count() > 0, "no torrent on the master at port {}", node.port);
    }
}

/// One announce's outcome as both stores must agree on it: counts, standing, and the ports
/// of the peers handed out (the order is each store's own).
type Outcome = Result<(SwarmStats, Standing, Vec<u16>), Refusal>;

/// Runs the same announces through `repository` and returns each outcome, in order.
async fn rule_by_rule(repository: &dyn PeerRepository) -> Vec<Outcome> {
    let hash = InfoHash([9; 20]);
    let context = |now: u32, max_peers: usize| AnnounceContext {
        now: Timestamp::from_secs(now),
        cutoff: Timestamp::from_secs(now - 600),
        numwant: 50,
        max_peers,
        start: 0,
        with_ids: true,
    };
    let peer = |n: u8, ip: [u8; 4], key: Option<&str>, seeder: bool, event: Event| PeerAnnounce {
        peer_id: PeerId([n; 20]),
        key: key.and_then(|key| PeerKey::of(key.as_bytes())),
        endpoint: AnyEndpoint::new(IpAddr::from(ip), 6000 + u16::from(n)),
        seeder,
        event,
    };
    let steps = [
        // Stopped for an unknown torrent, then a leecher, a seeder, a partial seed.
        (peer(1, [10, 0, 0, 1], None, false, Event::Stopped), context(1_000, 9)),
        (peer(1, [10, 0, 0, 1], None, false, Event::Started), context(1_000, 9)),
        (peer(2, [10, 0, 0, 2], Some("k2"), true, Event::Started), context(1_010, 9)),
        (peer(3, [10, 0, 0, 3], None, false, Event::Paused), context(1_020, 9)),
        // The seeder's key from elsewhere speaks for it; another key, or none, does not.
        (peer(2, [10, 9, 9, 9], Some("k2"), true, Event::Periodic), context(1_030, 9)),
        (peer(2, [10, 0, 0, 2], Some("other"), true, Event::Stopped), context(1_040, 9)),
        (peer(2, [10, 0, 0, 2], None, true, Event::Periodic), context(1_050, 9)),
        // From its own address a new key binds it; the old one no longer speaks for it.
        (peer(2, [10, 9, 9, 9], Some("k2b"), true, Event::Periodic), context(1_052, 9)),
        (peer(2, [10, 0, 0, 2], Some("k2"), true, Event::Periodic), context(1_054, 9)),
        (peer(2, [10, 0, 0, 2], Some("k2b"), true, Event::Periodic), context(1_056, 9)),
        // A keyless peer is bound to its address; its first key binds it, and from its
        // address it needs none.
        (peer(1, [10, 0, 0, 7], None, false, Event::Periodic), context(1_060, 9)),
        (peer(1, [10, 0, 0, 1], Some("k1"), false, Event::Periodic), context(1_070, 9)),
        (peer(1, [10, 0, 0, 1], None, false, Event::Periodic), context(1_080, 9)),
        // Completed counts once per peer.
        (peer(1, [10, 0, 0, 1], Some("k1"), true, Event::Completed), context(1_090, 9)),
        (peer(1, [10, 0, 0, 1], Some("k1"), true, Event::Completed), context(1_100, 9)),
        // A full swarm answers a newcomer without listing it.
        (peer(4, [10, 0, 0, 4], None, false, Event::Started), context(1_110, 3)),
        // Stopped removes, and answers no peers.
        (peer(3, [10, 0, 0, 3], None, false, Event::Stopped), context(1_120, 9)),
        // A newcomer gets everyone listed but itself.
        (peer(5, [10, 0, 0, 5], None, false, Event::Started), context(1_130, 9)),
    ];
    let mut outcomes = Vec::new();
    for (announce, context) in steps {
        let answer = repository.announce(&hash, &announce, &context).await;
        outcomes.push(answer.map(|answer| {
            let mut ports: Vec<u16> = answer.peers.v4.iter().map(|p| p.endpoint.port).collect();
            ports.sort_unstable();
            (answer.stats, answer.standing, ports)
        }));
    }
    outcomes
}

#[tokio::test]
async fn redis_keeps_the_announce_rules_as_the_memory_store_does() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let settings = RedisSettings { urls: vec![redis.url()], timeout: Duration::from_secs(2) };
    let on_redis = RedisRepository::connect(&settings).await.expect("connects");
    let in_memory = MemoryRepository::new(10);
    let expected = rule_by_rule(&in_memory).await;
    assert_eq!(rule_by_rule(on_redis.as_ref()).await, expected);
    // The script refused what the domain refuses, so the comparison compared something.
    assert_eq!(expected.iter().filter(|outcome| outcome.is_err()).count(), 4);
    assert_eq!(
        on_redis.scrape(&[InfoHash([9; 20]), InfoHash([8; 20])]).await.unwrap(),
        in_memory.scrape(&[InfoHash([9; 20]), InfoHash([8; 20])]).await.unwrap()
    );
}
