//! Closes connections that go quiet: a client that connects and sends nothing, one that sends
//! its request a few bytes at a time (slow loris), and a keep-alive connection left idle.
//!
//! hyper's own header-read timeout does this to the second, but arms a timer for every
//! request (an allocation and a timer-wheel insert and removal: a twentieth of what a whole
//! announce costs). Here a connection has one timer that fires once a period, and a request
//! only bumps two counters; a connection is closed after one to two periods without a request.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

/// Requests of one connection: counted as they begin (a whole head has arrived) and end.
#[derive(Debug, Default)]
pub struct Activity {
    begun: AtomicU32,
    ended: AtomicU32,
}

impl Activity {
    pub fn begin(&self) {
        self.begun.fetch_add(1, Ordering::Relaxed);
    }

    pub fn end(&self) {
        self.ended.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a request has begun and not yet been answered.
    pub fn in_progress(&self) -> bool {
        self.ended.load(Ordering::Relaxed) != self.begun.load(Ordering::Relaxed)
    }
}

/// Resolves once a whole `period` has passed in which `activity` began no request and had
/// none in progress.
pub async fn quiet(activity: &Activity, period: Duration) {
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    // After a stall (a busy runtime), one late check, not a burst of them.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut begun_before = activity.begun.load(Ordering::Relaxed);
    loop {
        ticks.tick().await;
        let begun = activity.begun.load(Ordering::Relaxed);
        if begun == begun_before && !activity.in_progress() {
            return;
        }
        begun_before = begun;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(10);

    /// Whether `quiet` resolves within `elapsed`.
    async fn quiet_after(elapsed: Duration, activity: &Activity) -> bool {
        tokio::time::timeout(elapsed, quiet(activity, PERIOD)).await.is_ok()
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_is_quiet_after_one_period() {
        let activity = Activity::default();
        assert!(!quiet_after(PERIOD - Duration::from_millis(1), &activity).await);
        assert!(quiet_after(PERIOD + Duration::from_millis(1), &activity).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_a_period_keeps_the_connection_for_another() {
        let activity = Activity::default();
        let watch = quiet(&activity, PERIOD);
        tokio::pin!(watch);
        tokio::select! {
            () = &mut watch => panic!("quiet too early"),
            () = tokio::time::sleep(PERIOD / 2) => {}
        }
        activity.begin();
        activity.end();
        let started = Instant::now();
        watch.await;
        // Checked at 10 s (a request came), quiet at 20 s.
        assert_eq!(started.elapsed(), PERIOD * 3 / 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_progress_is_never_cut_off() {
        let activity = Activity::default();
        activity.begin();
        assert!(!quiet_after(PERIOD * 5, &activity).await, "an answer still being worked on");
        activity.end();
        assert!(quiet_after(PERIOD * 2, &activity).await);
    }
}
