//! The background sampling that fills the status page's charts.

use std::sync::Arc;

use tokio::sync::watch;

use crate::adapters::stats::{SAMPLE_EVERY, StatusPage};

/// Samples `page` now and every [`SAMPLE_EVERY`] until `stop` turns true. A sample walks
/// every torrent, so it runs on a blocking thread, away from the threads answering requests.
pub async fn sample_periodically(page: Arc<StatusPage>, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(SAMPLE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let page = page.clone();
                if let Err(error) = tokio::task::spawn_blocking(move || page.sample()).await {
                    tracing::error!(%error, "sampling for the status page failed");
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
