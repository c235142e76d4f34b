//! One swap: the tracker binary starts, a seeder announces, a leecher finds it through the
//! tracker alone and downloads the file, and the scrape counts tell the story afterwards.

use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::clients::{self, Client, FrontEnd, Role};
use crate::common::scrape;
use crate::logs::Logs;
use crate::process::Process;
use crate::redis::Redis;
use crate::sockets::udp_local_addrs;
use crate::torrent::{FILE_LENGTH, FILE_NAME, random_content, sha1, torrent_file};
use crate::tracker::Tracker;

/// The whole swap, from starting the tracker to the last scrape.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// One of the two clients, and how it reaches the tracker.
#[derive(Clone, Copy, Debug)]
pub struct Side {
    pub client: Client,
    pub front_end: FrontEnd,
}

/// Runs the swap between `seeder` and `leecher` within the time limit, or skips it when a
/// client is missing (see `clients::all_installed`).
pub async fn swap(seeder: Side, leecher: Side) {
    if !clients::all_installed(&[seeder.client, leecher.client]) {
        return;
    }
    within_time_limit(seeder, leecher, None).await;
}

/// `swap`, with the seeder's torrent naming one tracker and the leecher's another, both
/// keeping their swarms on one `redis-server` (skipped where there is none).
pub async fn swap_across_two_trackers_on_redis(seeder: Side, leecher: Side) {
    if !clients::all_installed(&[seeder.client, leecher.client]) {
        return;
    }
    let Some(redis) = Redis::start() else { return };
    within_time_limit(seeder, leecher, Some(&redis)).await;
}

async fn within_time_limit(seeder: Side, leecher: Side, redis: Option<&Redis>) {
    let work = tempfile::tempdir().unwrap();
    let logs = Logs::default();
    if tokio::time::timeout(TIME_LIMIT, exchange(work.path(), &logs, seeder, leecher, redis))
        .await
        .is_err()
    {
        panic!("the swap took longer than {TIME_LIMIT:?}\n{}", logs.report());
    }
}

/// Trackers, seeder, leecher and checks. Each process is a guard, killed when this returns,
/// panics, or is dropped at the time limit. With `redis`, two trackers share it: the seeder
/// announces to the first, the leecher to the second.
async fn exchange(work: &Path, logs: &Logs, seeder: Side, leecher: Side, redis: Option<&Redis>) {
    let trackers = match redis {
        None => vec![Tracker::start(logs)],
        Some(redis) => {
            let on_redis = ["--storage", "redis", "--redis-url", &redis.url()];
            vec![Tracker::start_with(logs, &on_redis), Tracker::start_with(logs, &on_redis)]
        }
    };
    let (seed_tracker, leech_tracker) = (&trackers[0], trackers.last().unwrap());
    let base = format!("http://{}", seed_tracker.http);
    let content = random_content(FILE_LENGTH);
    let seed_dir = work.join("seeder");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::write(seed_dir.join(FILE_NAME), &content).unwrap();
    let leech_dir = work.join("leecher");
    std::fs::create_dir_all(&leech_dir).unwrap();

    let private = [seeder, leecher].iter().any(|side| side.client.needs_private(side.front_end));
    let torrent = |name, tracker, side| write_torrent(work, name, tracker, side, private, &content);
    let (seed_torrent, info_hash) = torrent("seeder", seed_tracker, seeder);
    let (leech_torrent, leech_hash) = torrent("leecher", leech_tracker, leecher);
    assert_eq!(info_hash, leech_hash, "both torrents must name the same swarm");

    let seeder_process =
        start_client(work, logs, "seeder", seeder, Role::Seed, &seed_dir, &seed_torrent);
    // The leecher learns of the seeder from its first announce when the seeder's came first.
    let seeder_seen =
        wait_for_scrape(&base, info_hash, logs, |(complete, _, _)| complete == 1).await;
    assert_eq!(seeder_seen, (1, 0, 0), "one seeder, nothing else\n{}", logs.report());
    // Nothing but loopback: every UDP socket the seeder holds is bound there (aria2's DHT
    // socket among them), and a seeder that announced over UDP holds one.
    let seeder_udp = udp_local_addrs(seeder_process.child.id());
    assert!(
        seeder_udp.iter().all(|addr| addr.ip().is_loopback()),
        "the seeder's UDP sockets: {seeder_udp:?}\n{}",
        logs.report()
    );
    assert!(seeder.front_end == FrontEnd::Http || !seeder_udp.is_empty(), "{}", logs.report());

    let mut leecher_process =
        start_client(work, logs, "leecher", leecher, Role::Leech, &leech_dir, &leech_torrent);
    let status = leecher_process.wait().await;
    assert!(status.success(), "the leecher failed: {status}\n{}", logs.report());

    let downloaded = std::fs::read(leech_dir.join(FILE_NAME)).unwrap();
    assert_eq!(downloaded.len(), content.len(), "{}", logs.report());
    assert_eq!(sha1(&downloaded), sha1(&content), "the downloaded file differs\n{}", logs.report());

    // The leecher completed (counted once) and then stopped (removed); the seeder stays.
    let after = wait_for_scrape(&base, info_hash, logs, |(_, downloaded, incomplete)| {
        downloaded == 1 && incomplete == 0
    })
    .await;
    assert_eq!(after, (1, 1, 0), "(complete, downloaded, incomplete)\n{}", logs.report());
    // The leecher's tracker tells the same story as the seeder's.
    let leech_base = format!("http://{}", leech_tracker.http);
    assert_eq!(scrape(&leech_base, &[info_hash]).await[0], after, "{}", logs.report());
}

/// Writes `<name>.torrent`, naming the tracker's `side.front_end` as its only tracker.
fn write_torrent(
    work: &Path,
    name: &str,
    tracker: &Tracker,
    side: Side,
    private: bool,
    content: &[u8],
) -> (std::path::PathBuf, [u8; 20]) {
    // libtorrent 2.0 asks an http:// tracker on loopback only if its path is /announce
    // (ssrf_mitigation); both URLs end so.
    let announce_url = match side.front_end {
        FrontEnd::Http => format!("http://{}/announce", tracker.http),
        FrontEnd::Udp => format!("udp://{}/announce", tracker.udp),
    };
    let (torrent, info_hash) = torrent_file(&announce_url, FILE_NAME, content, private);
    let path = work.join(format!("{name}.torrent"));
    std::fs::write(&path, torrent).unwrap();
    (path, info_hash)
}

/// Starts `side` as `role`; its log and its standard error go into the test's logs.
fn start_client(
    work: &Path,
    logs: &Logs,
    name: &'static str,
    side: Side,
    role: Role,
    dir: &Path,
    torrent: &Path,
) -> Process {
    let log = work.join(format!("{name}.log"));
    let stderr = work.join(format!("{name}.stderr"));
    logs.file(format!("{name} ({:?}) log", side.client), log.clone());
    logs.file(format!("{name} ({:?}) standard error", side.client), stderr.clone());
    let mut command = side.client.command(role, side.front_end, work, dir, torrent, &log);
    Process::spawn(name, &mut command, Stdio::from(File::create(&stderr).unwrap()))
}

/// Scrapes until `done` holds for (complete, downloaded, incomplete), returning that answer;
/// the caller's time limit ends a wait that never succeeds.
async fn wait_for_scrape(
    base: &str,
    info_hash: [u8; 20],
    logs: &Logs,
    done: impl Fn((i64, i64, i64)) -> bool,
) -> (i64, i64, i64) {
    loop {
        let counts = scrape(base, &[info_hash]).await[0];
        if done(counts) {
            return counts;
        }
        logs.note(format!("scrape: (complete, downloaded, incomplete) = {counts:?}"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
