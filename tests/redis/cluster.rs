//! Two tracker processes on a three-master Redis Cluster, torrents on every master.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::instance::Instance;
use crate::server::{Redis, redis_installed};

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
