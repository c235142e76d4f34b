//! Announces that reach an instance at once share their writes to Redis; each still gets
//! the answer for its own torrent.

use futures_util::future::join_all;

use crate::common::*;
use crate::instance::Instance;
use crate::server::{Redis, redis_installed};

const TORRENTS: u8 = 120;
const ASKER: u8 = 250;

#[tokio::test]
async fn announces_at_once_each_get_their_own_torrents_peers() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let tracker = Instance::start(&redis.url(), "180").await;
    // Torrent `t` lists one seeder, at port 6000 + t.
    for torrent in 1..=TORRENTS {
        announce(&tracker.base, &Announce::new(torrent, torrent).seeding()).await;
    }

    let asks = (1..=TORRENTS).map(|torrent| {
        let base = tracker.base.clone();
        tokio::spawn(async move { announce(&base, &Announce::new(torrent, ASKER)).await })
    });
    for (torrent, answer) in (1..=TORRENTS).zip(join_all(asks).await) {
        let answer = answer.expect("the request task ends");
        let seeder = format!("127.0.0.1:{}", 6000 + u16::from(torrent)).parse().unwrap();
        assert_eq!(answer.peers, vec![seeder], "torrent {torrent}");
        assert_eq!((answer.complete, answer.incomplete), (1, 1), "torrent {torrent}");
    }
}
