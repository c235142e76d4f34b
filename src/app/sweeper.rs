//! The background sweep that frees expired peers and empty torrents.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::tracker::Tracker;
use crate::ports::SweepPart;

/// Parts a whole sweep is done in, one after another, evenly over the sweep interval.
const PARTS: usize = 256;

/// Sweeps everything once every `every` until `stop` turns true, a part at a time: a whole
/// sweep of a million peers in one go held a CPU for a fifth of a second, and the answers
/// sharing it waited. Each part runs on a blocking thread, away from the threads answering
/// requests where there are spare cores.
pub async fn sweep_periodically(
    tracker: Arc<Tracker>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let between_parts = (every / PARTS as u32).max(Duration::from_millis(1));
    let mut ticks = tokio::time::interval(between_parts);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; nothing has aged yet
    let mut parts = (0..PARTS).cycle();
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let tracker = tracker.clone();
                let part = SweepPart { index: parts.next().unwrap_or_default(), count: PARTS };
                match tokio::task::spawn_blocking(move || tracker.sweep_part(part)).await {
                    Ok(report) => tracing::trace!(
                        part = part.index,
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
