//! End to end with real, independently written BitTorrent clients: one seeds a random file, a
//! second downloads it, and the tracker binary on loopback is the only way they can find each
//! other (DHT, peer exchange, local peer discovery, UPnP and NAT-PMP are off). The clients are
//! aria2 and libtorrent (Debian's python3-libtorrent, driven by
//! tests/clients/libtorrent_client.py), announcing over `http://`, `udp://` or one of each;
//! one swap goes through two trackers that keep their swarms on one redis-server.
//! A test whose client is not installed is skipped, loudly, unless
//! RETRACKER_REQUIRE_REAL_CLIENT=1 says it must run.

#[path = "../common/mod.rs"]
mod common;

mod aria2;
mod clients;
mod libtorrent;
mod logs;
mod process;
mod redis;
mod sockets;
mod swap;
mod torrent;
mod tracker;

use clients::Client::{Aria2, Libtorrent};
use clients::FrontEnd;
use swap::{Side, swap, swap_across_two_trackers_on_redis};

#[tokio::test(flavor = "multi_thread")]
async fn aria2_downloads_a_file_from_an_aria2_seeder_found_only_through_the_tracker() {
    let over_http = |client| Side { client, front_end: FrontEnd::Http };
    swap(over_http(Aria2), over_http(Aria2)).await;
}

/// The torrent's only tracker is `udp://`: BEP 15 alone brings the two together.
#[tokio::test(flavor = "multi_thread")]
async fn libtorrent_downloads_from_a_libtorrent_seeder_over_udp_only() {
    let over_udp = |client| Side { client, front_end: FrontEnd::Udp };
    swap(over_udp(Libtorrent), over_udp(Libtorrent)).await;
}

/// One swarm for both front ends: a seeder announced over HTTP is handed to a leecher that
/// announces the same info hash over UDP. (aria2's re-announces list the leecher too, so the
/// two may connect both ways; libtorrent drops the second as a duplicate peer id.)
#[tokio::test(flavor = "multi_thread")]
async fn libtorrent_over_udp_downloads_from_an_aria2_seeder_over_http() {
    swap(
        Side { client: Aria2, front_end: FrontEnd::Http },
        Side { client: Libtorrent, front_end: FrontEnd::Udp },
    )
    .await;
}

/// aria2 announces over `udp://` too, from its DHT socket, kept silent and on loopback.
#[tokio::test(flavor = "multi_thread")]
async fn libtorrent_over_udp_downloads_from_an_aria2_seeder_over_udp() {
    let over_udp = |client| Side { client, front_end: FrontEnd::Udp };
    swap(over_udp(Aria2), over_udp(Libtorrent)).await;
}

/// aria2 1.36 draws a new `key` for every UDP announce: its `completed` and `stopped` count
/// because they come from the address it is listed at (`domain::identity`).
#[tokio::test(flavor = "multi_thread")]
async fn aria2_over_udp_downloads_from_a_libtorrent_seeder_over_udp() {
    let over_udp = |client| Side { client, front_end: FrontEnd::Udp };
    swap(over_udp(Libtorrent), over_udp(Aria2)).await;
}

/// Two trackers keep their swarms on one Redis: a seeder known only to the first is handed to
/// a leecher that asks only the second.
#[tokio::test(flavor = "multi_thread")]
async fn aria2_downloads_through_one_tracker_from_an_aria2_seeder_on_another_sharing_redis() {
    let over_http = |client| Side { client, front_end: FrontEnd::Http };
    swap_across_two_trackers_on_redis(over_http(Aria2), over_http(Aria2)).await;
}
