//! Which redirects a forwarder follows: those within the origin (scheme, host and port) of
//! the URI it was sent to, a few hops at most.
//!
//! A forwarder's request carries what belongs to that upstream only: its passkey in the
//! query, its `host:` header, its user info. Followed to another host, an upstream could hand
//! them to anyone; followed from https to http, they would cross the network in clear text.
//! Moving within its own origin (a new path) is all an honest tracker needs.

use reqwest::redirect::{Action, Attempt, Policy};
use url::Url;

#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("more than {0} redirects")]
    TooMany(usize),
    #[error("redirected to another scheme, host or port; only the same origin is followed")]
    OtherOrigin,
}

/// Follows at most `max_hops` redirects, each within the origin of the first request.
pub fn same_origin(max_hops: usize) -> Policy {
    Policy::custom(move |attempt| decide(attempt, max_hops))
}

fn decide(attempt: Attempt, max_hops: usize) -> Action {
    // `previous` starts with the request as first sent, so it is never empty.
    let hops = attempt.previous().len();
    let first = attempt.previous().first();
    if hops > max_hops {
        attempt.error(Refused::TooMany(max_hops))
    } else if !first.is_some_and(|first| may_follow(first, attempt.url())) {
        attempt.error(Refused::OtherOrigin)
    } else {
        attempt.follow()
    }
}

fn may_follow(first: &Url, next: &Url) -> bool {
    // Compares scheme, host and port, an omitted port counting as the scheme's default.
    first.origin() == next.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follows(first: &str, next: &str) -> bool {
        may_follow(&Url::parse(first).unwrap(), &Url::parse(next).unwrap())
    }

    #[test]
    fn only_the_same_scheme_host_and_port_are_followed() {
        let first = "https://tracker.test/announce?passkey=abc";
        assert!(follows(first, "https://tracker.test/moved/announce?passkey=abc"));
        assert!(follows(first, "https://tracker.test:443/announce"), "443 is https's default");
        assert!(!follows(first, "http://tracker.test/announce"), "never down to plain http");
        assert!(!follows(first, "https://tracker.test:8443/announce"));
        assert!(!follows(first, "https://other.test/announce"));
        assert!(!follows(first, "https://tracker.test.evil.test/announce"));
        assert!(!follows("http://127.0.0.1:6969/a", "http://127.0.0.2:6969/a"));
        assert!(!follows("http://tracker.test/a", "https://tracker.test/a"), "another origin");
    }
}
