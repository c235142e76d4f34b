//! What the status page knows of each forwarder: how its last forward ended, and how many
//! peers it gave. Touched once per forward, not per announce, so a lock per forwarder is cheap.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::ports::metrics::{ForwardOutcome, ForwardStatus};

/// A forwarder as the page names it: its label, and its URI with secrets hidden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderLabel {
    pub name: String,
    pub uri: String,
}

#[derive(Default)]
struct Last {
    /// How the last forward sent ended, and when.
    outcome: Option<(ForwardOutcome, ForwardStatus, Instant)>,
    peers: u64,
}

/// One forwarder's state as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderView {
    pub label: ForwarderLabel,
    /// `ok`, `timeout` or `error` and the answer's status; none before the first forward.
    pub last_status: Option<String>,
    pub last_answer_ago: Option<Duration>,
    pub peers: u64,
    /// Its last forward failed under `forward_retry_after` ago: torrents it failed for are
    /// left alone until then.
    pub backing_off: bool,
}

pub struct Forwarders {
    entries: Vec<(ForwarderLabel, Mutex<Last>)>,
    retry_after: Duration,
}

impl Forwarders {
    pub fn new(labels: Vec<ForwarderLabel>, retry_after: Duration) -> Self {
        let entries = labels.into_iter().map(|label| (label, Mutex::default())).collect();
        Self { entries, retry_after }
    }

    fn entry(&self, name: &str) -> Option<&Mutex<Last>> {
        self.entries.iter().find(|(label, _)| label.name == name).map(|(_, last)| last)
    }

    pub fn forward(&self, name: &str, outcome: ForwardOutcome, status: ForwardStatus) {
        // A forward not sent says nothing about the forwarder.
        if outcome == ForwardOutcome::RateLimited {
            return;
        }
        if let Some(last) = self.entry(name) {
            last.lock().outcome = Some((outcome, status, Instant::now()));
        }
    }

    pub fn peers(&self, name: &str, peers: usize) {
        if let Some(last) = self.entry(name) {
            last.lock().peers += peers as u64;
        }
    }

    pub fn views(&self) -> Vec<ForwarderView> {
        self.entries
            .iter()
            .map(|(label, last)| {
                let last = last.lock();
                let ago = last.outcome.map(|(_, _, at)| at.elapsed());
                let failed = matches!(
                    last.outcome,
                    Some((ForwardOutcome::Timeout | ForwardOutcome::Error, _, _))
                );
                ForwarderView {
                    label: label.clone(),
                    last_status: last.outcome.map(|(outcome, status, _)| shown(outcome, status)),
                    last_answer_ago: ago,
                    peers: last.peers,
                    backing_off: failed && ago.is_some_and(|ago| ago < self.retry_after),
                }
            })
            .collect()
    }
}

/// `ok 200`, `timeout`, `error 503`, `ok udp`: short enough for a phone's table cell.
fn shown(outcome: ForwardOutcome, status: ForwardStatus) -> String {
    let outcome = match outcome {
        ForwardOutcome::Ok => "ok",
        ForwardOutcome::Timeout => "timeout",
        ForwardOutcome::Error | ForwardOutcome::RateLimited => "error",
    };
    match status {
        ForwardStatus::NoAnswer => outcome.to_owned(),
        ForwardStatus::Http(code) => format!("{outcome} {code}"),
        ForwardStatus::UdpAnnounce => format!("{outcome} udp"),
        ForwardStatus::UdpError => format!("{outcome} udp error"),
        ForwardStatus::UdpUnreadable => format!("{outcome} udp unreadable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarders(retry_after: Duration) -> Forwarders {
        let label = ForwarderLabel { name: "lan".into(), uri: "http://lan/announce".into() };
        Forwarders::new(vec![label], retry_after)
    }

    #[test]
    fn a_failed_forward_backs_off_and_an_answer_does_not() {
        let forwarders = forwarders(Duration::from_secs(60));
        assert_eq!(forwarders.views()[0].last_status, None);
        forwarders.forward("lan", ForwardOutcome::Timeout, ForwardStatus::NoAnswer);
        let view = &forwarders.views()[0];
        assert_eq!(view.last_status.as_deref(), Some("timeout"));
        assert!(view.backing_off);
        forwarders.forward("lan", ForwardOutcome::Ok, ForwardStatus::Http(200));
        forwarders.forward("lan", ForwardOutcome::RateLimited, ForwardStatus::NoAnswer);
        forwarders.peers("lan", 7);
        forwarders.peers("unknown", 9);
        let view = &forwarders.views()[0];
        assert_eq!(view.last_status.as_deref(), Some("ok 200"));
        assert!(!view.backing_off);
        assert_eq!(view.peers, 7);
    }

    #[test]
    fn backing_off_ends_after_the_retry_delay() {
        let forwarders = forwarders(Duration::ZERO);
        forwarders.forward("lan", ForwardOutcome::Error, ForwardStatus::Http(503));
        let view = &forwarders.views()[0];
        assert_eq!(view.last_status.as_deref(), Some("error 503"));
        assert!(!view.backing_off);
    }
}
