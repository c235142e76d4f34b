//! The background sweep that frees expired peers and empty torrents.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::tracker::Tracker;

/// Sweeps every `every` until `stop` turns true. The sweep walks every swarm, so it runs on a
/// blocking thread, away from the threads answering requests.
pub async fn sweep_periodically(
    tracker: Arc<Tracker>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; nothing has aged yet
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let tracker = tracker.clone();
                match tokio::task::spawn_blocking(move || tracker.sweep()).await {
                    Ok(report) => tracing::debug!(
                        peers = report.peers_removed,
                        torrents = report.torrents_removed,
                        "swept expired peers"
                    ),
                    Err(error) => tracing::error!(%error, "the sweep failed"),
                }
            }
            () = until_stopped(&mut stop) => break,
        }
    }
}

async fn until_stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here, not across the loop's awaits.
    let _ = stop.wait_for(|stopped| *stopped).await;
}
