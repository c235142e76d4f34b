//! A forwarder's URI as logs, errors and metric labels show it.
//!
//! Private trackers put the account in the URI: a password in its user info, a passkey in its
//! query. Logs are shipped and metrics scraped by people who must not be able to announce as
//! that account, so both are shown as `***`. Scheme, host, port, path and query keys stay, to
//! tell forwarders apart.

use std::fmt;

use url::Url;

const HIDDEN: &str = "***";

/// Shows a URI with its user info and every query value hidden.
pub struct RedactedUri<'a>(pub &'a Url);

impl fmt::Display for RedactedUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.clone();
        if !shown.username().is_empty() || shown.password().is_some() {
            // These fail only on URIs that cannot hold user info, and this one held some.
            let _ = shown.set_username(HIDDEN);
            let _ = shown.set_password(None);
        }
        if let Some(query) = self.0.query() {
            shown.set_query(Some(&hide_values(query)));
        }
        shown.set_fragment(None); // never sent, and free text
        f.write_str(shown.as_str())
    }
}

/// `query` with each `key=value` shown as `key=***`, and a bare word (perhaps the passkey
/// itself) as `***`.
fn hide_values(query: &str) -> String {
    let mut hidden = String::with_capacity(query.len());
    for (index, pair) in query.split('&').enumerate() {
        if index > 0 {
            hidden.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) => {
                hidden.push_str(key);
                hidden.push('=');
                hidden.push_str(HIDDEN);
            }
            None if !pair.is_empty() => hidden.push_str(HIDDEN),
            None => {}
        }
    }
    hidden
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(uri: &str) -> String {
        RedactedUri(&Url::parse(uri).unwrap()).to_string()
    }

    #[test]
    fn user_info_and_query_values_are_hidden() {
        assert_eq!(
            redacted("http://user:secret@127.0.0.1:6969/announce?passkey=abc&uid=7"),
            "http://***@127.0.0.1:6969/announce?passkey=***&uid=***"
        );
        assert_eq!(
            redacted("https://token@tracker.test/a?abc#frag"),
            "https://***@tracker.test/a?***"
        );
        assert_eq!(
            redacted("http://:secret@tracker.test/a?k=&&x"),
            "http://***@tracker.test/a?k=***&&***"
        );
    }

    #[test]
    fn a_uri_without_secrets_is_shown_as_it_is() {
        for uri in
            ["http://tracker.test:8080/announce", "https://[2001:db8::1]/ann", "http://t.test/a?"]
        {
            assert_eq!(redacted(uri), uri);
        }
    }
}
