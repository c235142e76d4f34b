//! The announce URL sent to an upstream tracker.

use std::fmt::Write as _;
use std::net::IpAddr;

use url::Url;

use crate::domain::announce::AnnounceRequest;
use crate::domain::peer::Event;

/// The longest announce appended here: both ids fully escaped (60 characters each), every
/// number at its widest, an event and a numwant; an `ip` claim may grow it once.
const QUERY_ROOM: usize = 303;

/// `base` with the client's announce appended to whatever query it already has (a passkey,
/// say). `claimed_ip`, from the forwarder's `ip` setting, is sent as `ip=` (and `ipv4=` for
/// an IPv4 address); without it the upstream sees retracker's own address.
pub fn announce_url(base: &Url, request: &AnnounceRequest, claimed_ip: Option<IpAddr>) -> Url {
    // Written piece by piece into one buffer: through `format!` and the percent-encoding
    // crate's iterator (a formatter call per escaped byte) it cost 15,000 instructions.
    let existing = base.query().filter(|query| !query.is_empty());
    let mut query = String::with_capacity(existing.map_or(0, str::len) + QUERY_ROOM);
    if let Some(existing) = existing {
        query.push_str(existing);
        query.push('&');
    }
    query.push_str("info_hash=");
    escape(&mut query, request.info_hash.as_bytes());
    query.push_str("&peer_id=");
    escape(&mut query, request.peer_id.as_bytes());
    number(&mut query, "&port=", request.port.into());
    number(&mut query, "&uploaded=", request.uploaded);
    number(&mut query, "&downloaded=", request.downloaded);
    number(&mut query, "&left=", request.left);
    query.push_str("&compact=1");
    query.push_str(match request.event {
        Event::Started => "&event=started",
        Event::Completed => "&event=completed",
        Event::Stopped => "&event=stopped",
        // Passed on as the client sent it, so an upstream that knows BEP 21 counts it right.
        Event::Paused => "&event=paused",
        Event::Periodic => "",
    });
    if let Some(numwant) = request.numwant {
        number(&mut query, "&numwant=", numwant.into());
    }
    if let Some(ip) = claimed_ip {
        // Writing to a String cannot fail.
        let _ = write!(query, "&ip={ip}");
        if ip.is_ipv4() {
            let _ = write!(query, "&ipv4={ip}");
        }
    }
    let mut url = base.clone();
    url.set_query(Some(&query));
    url
}

/// Appends `bytes` with everything but RFC 3986's unreserved characters escaped, as trackers
/// expect (the same as `percent_encoding` with that set, checked in the tests).
fn escape(query: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            query.push(char::from(byte));
        } else {
            query.push('%');
            query.push(char::from(DIGITS[usize::from(byte >> 4)]));
            query.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
    }
}

fn number(query: &mut String, key: &str, value: u64) {
    query.push_str(key);
    query.push_str(itoa::Buffer::new().format(value));
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
            peer_ids: false,
            key: None,
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
    fn ids_are_escaped_as_the_percent_encoding_crate_does() {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
        const UNRESERVED_KEPT: &AsciiSet =
            &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
        let every_byte: Vec<u8> = (0..=255).collect();
        let mut ours = String::new();
        escape(&mut ours, &every_byte);
        assert_eq!(ours, percent_encode(&every_byte, UNRESERVED_KEPT).to_string());
    }

    #[test]
    fn the_longest_announce_fits_the_room_set_aside() {
        let longest = AnnounceRequest {
            info_hash: InfoHash([0xff; 20]),
            peer_id: PeerId([0xff; 20]),
            port: u16::MAX,
            uploaded: u64::MAX,
            downloaded: u64::MAX,
            left: u64::MAX,
            ..request(Event::Completed)
        };
        let base = Url::parse("http://tracker.test/announce").unwrap();
        let url =
            announce_url(&base, &AnnounceRequest { numwant: Some(u32::MAX), ..longest }, None);
        assert!(url.query().unwrap().len() <= QUERY_ROOM, "{}", url.query().unwrap().len());
    }

    #[test]
    fn an_ipv6_claim_has_no_ipv4() {
        let base = Url::parse("http://tracker.test/announce").unwrap();
        let url =
            announce_url(&base, &request(Event::Stopped), Some("2001:db8::5".parse().unwrap()));
        assert!(url.query().unwrap().ends_with("&event=stopped&numwant=50&ip=2001:db8::5"));
    }
}
