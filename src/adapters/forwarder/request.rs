//! The announce URL sent to an upstream tracker.

use std::fmt::Write as _;
use std::net::IpAddr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use url::Url;

use crate::domain::announce::AnnounceRequest;
use crate::domain::peer::Event;

/// Everything but RFC 3986's unreserved characters is escaped, as trackers expect.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `base` with the client's announce appended to whatever query it already has (a passkey,
/// say). `claimed_ip`, from the forwarder's `ip` setting, is sent as `ip=` (and `ipv4=` for
/// an IPv4 address); without it the upstream sees retracker's own address.
pub fn announce_url(base: &Url, request: &AnnounceRequest, claimed_ip: Option<IpAddr>) -> Url {
    let mut query =
        base.query().filter(|q| !q.is_empty()).map(|q| format!("{q}&")).unwrap_or_default();
    // Writing to a String cannot fail.
    let _ = write!(
        query,
        "info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1",
        percent_encode(request.info_hash.as_bytes(), ESCAPED),
        percent_encode(request.peer_id.as_bytes(), ESCAPED),
        request.port,
        request.uploaded,
        request.downloaded,
        request.left,
    );
    let event = match request.event {
        Event::Started => Some("started"),
        Event::Completed => Some("completed"),
        Event::Stopped => Some("stopped"),
        Event::Periodic => None,
    };
    if let Some(event) = event {
        let _ = write!(query, "&event={event}");
    }
    if let Some(numwant) = request.numwant {
        let _ = write!(query, "&numwant={numwant}");
    }
    if let Some(ip) = claimed_ip {
        let _ = write!(query, "&ip={ip}");
        if ip.is_ipv4() {
            let _ = write!(query, "&ipv4={ip}");
        }
    }
    let mut url = base.clone();
    url.set_query(Some(&query));
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{InfoHash, PeerId};

    fn request(event: Event) -> AnnounceRequest {
        let mut hash = [0u8; 20];
        hash[..6].copy_from_slice(&[0x00, 0xff, b'a', b'-', b'+', b'&']);
        AnnounceRequest {
            info_hash: InfoHash(hash),
            peer_id: PeerId(*b"-qB4650-~x.y_z*1234/"),
            port: 51413,
            uploaded: 10,
            downloaded: 20,
            left: 30,
            event,
            numwant: Some(50),
            claimed_ip: Some("192.0.2.1".parse().unwrap()),
        }
    }

    const HASH: &str = "%00%FFa-%2B%26%00%00%00%00%00%00%00%00%00%00%00%00%00%00";

    #[test]
    fn carries_the_clients_announce_byte_for_byte() {
        let base = Url::parse("http://tracker.test:6969/announce").unwrap();
        let url = announce_url(&base, &request(Event::Started), None);
        assert_eq!(
            url.as_str(),
            format!(
                "http://tracker.test:6969/announce?info_hash={HASH}&peer_id=-qB4650-~x.y_z%2A1234%2F\
                 &port=51413&uploaded=10&downloaded=20&left=30&compact=1&event=started&numwant=50"
            )
        );
    }

    #[test]
    fn keeps_an_existing_query_and_adds_the_forwarders_ip() {
        let base = Url::parse("https://tracker.test/ann?passkey=abc").unwrap();
        let url =
            announce_url(&base, &request(Event::Periodic), Some("192.0.2.7".parse().unwrap()));
        let query = url.query().unwrap();
        assert!(query.starts_with("passkey=abc&info_hash="), "{query}");
        assert!(!query.contains("event="));
        assert!(query.ends_with("&ip=192.0.2.7&ipv4=192.0.2.7"), "{query}");
    }

    #[test]
    fn an_ipv6_claim_has_no_ipv4() {
        let base = Url::parse("http://tracker.test/announce").unwrap();
        let url =
            announce_url(&base, &request(Event::Stopped), Some("2001:db8::5".parse().unwrap()));
        assert!(url.query().unwrap().ends_with("&event=stopped&numwant=50&ip=2001:db8::5"));
    }
}
