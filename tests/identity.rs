//! Who may speak for a listed peer: peer ids are no secret (every dictionary answer shows
//! them), so an announce naming a listed peer id must come from the peer's address, or carry
//! the `key` the peer is bound to. Addresses come from `X-Real-IP`
//! here, with `-x` on, so one test can speak from several.

mod common;

use std::net::SocketAddr;

use common::*;
use retracker::app::Config;

const HOME: &str = "198.51.100.7";
const AWAY: &str = "203.0.113.9";

async fn start() -> Tracker {
    start_on("127.0.0.1:0", Config { x_real_ip: true, ..Config::default() }).await
}

/// Announces `announce` as if from `ip`; returns the raw answer.
async fn announce_from(tracker: &Tracker, ip: &str, announce: &Announce) -> Vec<u8> {
    let url = format!("{}/announce?{}", tracker.base, announce.query());
    let (status, body) = get_with(&client(), &url, &[("X-Real-IP", ip)]).await;
    assert_eq!(status, 200);
    body
}

/// Where another peer of the torrent is handed `listed`, if it is handed out at all.
async fn where_listed(tracker: &Tracker, listed: &Announce) -> Vec<SocketAddr> {
    let mut onlooker = Announce::new(listed.info_hash[0], 200).with("compact=0");
    onlooker.info_hash = listed.info_hash;
    let answer = Answer::parse(&announce_from(tracker, "192.0.2.200", &onlooker).await);
    let ids = answer.peer_ids.iter();
    ids.zip(answer.peers).filter(|(id, _)| **id == listed.peer_id).map(|(_, at)| at).collect()
}

fn at(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

const TAKEN: &str = "peer_id in use: this torrent lists it for a client with another key or \
                     address";

#[tokio::test]
async fn another_address_without_its_key_can_neither_move_nor_stop_a_listed_peer() {
    let tracker = start().await;
    let victim = Announce::new(1, 1).with("key=a1b2c3d4");
    Answer::parse(&announce_from(&tracker, HOME, &victim.clone().with("event=started")).await);

    let mut elsewhere = Announce::new(1, 1);
    elsewhere.port = 7777;
    for (ip, forged) in [
        (AWAY, elsewhere.clone().with("key=deadbeef")),
        (AWAY, elsewhere.clone()),
        (AWAY, elsewhere.clone().with("key=A1B2C3D4")),
        (AWAY, elsewhere.clone().with("key=deadbeef&event=stopped")),
        (AWAY, elsewhere.clone().with("event=stopped")),
    ] {
        let refused = failure_reason(&announce_from(&tracker, ip, &forged).await);
        assert_eq!(refused, TAKEN, "{}", forged.query());
    }
    assert_eq!(where_listed(&tracker, &victim).await, [at(HOME, victim.port)]);

    let stopped = victim.clone().with("event=stopped");
    Answer::parse(&announce_from(&tracker, AWAY, &stopped).await);
    assert_eq!(where_listed(&tracker, &victim).await, [], "its own key stops it from anywhere");
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_client_that_moves_and_keeps_its_key_keeps_its_entry() {
    let tracker = start().await;
    let phone = Announce::new(2, 1).with("key=5eed");
    Answer::parse(&announce_from(&tracker, HOME, &phone).await);
    let moved = announce_from(&tracker, AWAY, &phone).await;
    assert_eq!(Answer::parse(&moved).incomplete, 1, "listed once, not twice");
    assert_eq!(where_listed(&tracker, &phone).await, [at(AWAY, phone.port)]);
    tracker.running.stop().await;
}

/// aria2 draws a new key for every UDP announce: its own address is what lets it re-announce.
#[tokio::test]
async fn from_its_own_address_a_peer_may_change_its_key_and_the_new_one_binds_it() {
    let tracker = start().await;
    let client = Announce::new(4, 1).with("key=0badcafe");
    Answer::parse(&announce_from(&tracker, HOME, &client).await);
    let rekeyed = Announce::new(4, 1).with("key=5ca1ab1e");
    assert_eq!(Answer::parse(&announce_from(&tracker, HOME, &rekeyed).await).incomplete, 1);

    let old_key_away = client.clone().with("event=stopped");
    assert_eq!(failure_reason(&announce_from(&tracker, AWAY, &old_key_away).await), TAKEN);
    let new_key_away = rekeyed.clone().with("event=stopped");
    Answer::parse(&announce_from(&tracker, AWAY, &new_key_away).await);
    assert_eq!(where_listed(&tracker, &client).await, [], "the new key stops it from anywhere");
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_peer_without_a_key_is_bound_to_its_address() {
    let tracker = start().await;
    let keyless = Announce::new(3, 1);
    Answer::parse(&announce_from(&tracker, HOME, &keyless).await);

    let away = failure_reason(&announce_from(&tracker, AWAY, &keyless).await);
    assert_eq!(away, TAKEN);
    let keyed_away = keyless.clone().with("key=a1b2c3d4&event=stopped");
    assert_eq!(failure_reason(&announce_from(&tracker, AWAY, &keyed_away).await), TAKEN);
    assert_eq!(where_listed(&tracker, &keyless).await, [at(HOME, keyless.port)]);

    // From its own address it may change its port, and the first key it gives binds it.
    let mut new_port = keyless.clone().with("key=f00d");
    new_port.port = 7001;
    Answer::parse(&announce_from(&tracker, HOME, &new_port).await);
    assert_eq!(where_listed(&tracker, &keyless).await, [at(HOME, 7001)]);
    Answer::parse(&announce_from(&tracker, AWAY, &new_port).await);
    assert_eq!(where_listed(&tracker, &keyless).await, [at(AWAY, 7001)]);
    tracker.running.stop().await;
}
