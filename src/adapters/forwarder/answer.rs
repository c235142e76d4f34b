//! Reads an upstream tracker's answer: compact or dictionary `peers`, `peers6`, the interval.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::adapters::bencode::decode::{Value, decode};
use crate::domain::address;
use crate::domain::peer::AnyEndpoint;
use crate::domain::upstream_peers::UpstreamPeers;
use crate::ports::{UpstreamAnswer, UpstreamError};

/// An upstream's answer body as peers and interval; a `failure reason` is `Refused`.
pub fn parse(body: &[u8]) -> Result<UpstreamAnswer, UpstreamError> {
    let value = decode(body).map_err(|error| UpstreamError::Malformed(error.to_string()))?;
    if !matches!(value, Value::Dict(_)) {
        return Err(UpstreamError::Malformed("not a dictionary".into()));
    }
    if let Some(reason) = value.get(b"failure reason") {
        let text = reason.as_bytes().map(String::from_utf8_lossy).unwrap_or_default();
        return Err(UpstreamError::Refused(text.chars().take(200).collect()));
    }
    let interval = value
        .get(b"interval")
        .and_then(Value::as_integer)
        .and_then(|secs| u64::try_from(secs).ok())
        .map(Duration::from_secs);
    let (compact, listed): (&[u8], &[Value<'_>]) = match value.get(b"peers") {
        Some(Value::Bytes(compact)) => (whole(compact, 6, "peers")?, &[]),
        Some(Value::List(list)) => (&[], list),
        Some(_) => {
            return Err(UpstreamError::Malformed("peers is neither a string nor a list".into()));
        }
        None => (&[], &[]),
    };
    let compact6 = match value.get(b"peers6").and_then(Value::as_bytes) {
        Some(compact6) => whole(compact6, 18, "peers6")?,
        None => &[],
    };
    // Straight into the kept form: no peer list in between, and peer ids are not kept.
    let peers: UpstreamPeers = compact
        .chunks_exact(6)
        .map(compact_v4)
        .chain(listed.iter().filter_map(dictionary))
        .chain(compact6.chunks_exact(18).map(compact_v6))
        .filter(|endpoint| usable(*endpoint))
        .collect();
    Ok(UpstreamAnswer { interval, peers, over_udp: false })
}

/// `bytes` if they are whole entries of `size` bytes.
fn whole<'a>(bytes: &'a [u8], size: usize, key: &str) -> Result<&'a [u8], UpstreamError> {
    if bytes.len() % size != 0 {
        return Err(UpstreamError::Malformed(format!("compact {key} of {} bytes", bytes.len())));
    }
    Ok(bytes)
}

fn compact_v4(entry: &[u8]) -> AnyEndpoint {
    let ip = Ipv4Addr::new(entry[0], entry[1], entry[2], entry[3]);
    AnyEndpoint::new(IpAddr::V4(ip), u16::from_be_bytes([entry[4], entry[5]]))
}

fn compact_v6(entry: &[u8]) -> AnyEndpoint {
    let ip: [u8; 16] = entry[..16].try_into().expect("entries are 18 bytes");
    AnyEndpoint::new(IpAddr::V6(Ipv6Addr::from(ip)), u16::from_be_bytes([entry[16], entry[17]]))
}

/// An entry of BEP 3's list of `{ip, peer id, port}`. One we cannot use (a DNS name for `ip`,
/// a bad port) is skipped rather than failing the whole answer.
fn dictionary(peer: &Value<'_>) -> Option<AnyEndpoint> {
    let ip = peer
        .get(b"ip")
        .and_then(Value::as_bytes)
        .and_then(|ip| std::str::from_utf8(ip).ok())
        .and_then(|ip| ip.parse::<IpAddr>().ok())?;
    let port = peer.get(b"port").and_then(Value::as_integer)?;
    Some(AnyEndpoint::new(ip, u16::try_from(port).ok()?))
}

/// What we would refuse from a client we do not hand out from an upstream either.
fn usable(endpoint: AnyEndpoint) -> bool {
    endpoint.port() != 0 && address::is_listable(endpoint.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(text: &str) -> AnyEndpoint {
        let addr: std::net::SocketAddr = text.parse().unwrap();
        AnyEndpoint::new(addr.ip(), addr.port())
    }

    fn endpoints(answer: &UpstreamAnswer) -> Vec<AnyEndpoint> {
        answer.peers.endpoints().collect()
    }

    #[test]
    fn compact_peers_and_interval() {
        let body = b"d8:completei5e8:intervali1800e12:min intervali900e5:peers12:\x0a\x00\x00\x02\x00\x50\x0a\x00\x00\x01\x1a\xe1e";
        let answer = parse(body).unwrap();
        assert_eq!(answer.interval, Some(Duration::from_secs(1800)));
        assert_eq!(endpoints(&answer), [endpoint("10.0.0.1:6881"), endpoint("10.0.0.2:80")]);
    }

    #[test]
    fn dictionary_peers_of_both_families() {
        let body = b"d5:peersld2:ip8:10.0.0.37:peer id20:ABCDEFGHIJKLMNOPQRST4:porti7eed2:ip11:2001:db8::14:porti8eed2:ip9:host.test4:porti9eed2:ip8:10.0.0.44:porti0eeee";
        let answer = parse(body).unwrap();
        assert_eq!(
            endpoints(&answer),
            [endpoint("10.0.0.3:7"), endpoint("[2001:db8::1]:8")],
            "the DNS name and the port 0 are skipped"
        );
        assert_eq!(answer.interval, None);
    }

    #[test]
    fn unusable_addresses_and_repeats_from_upstream_are_dropped() {
        let body = b"d5:peers24:\x00\x00\x00\x00\x1a\xe1\xe0\x00\x00\x01\x1a\xe1\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x01\x1a\xe1e";
        let answer = parse(body).unwrap();
        assert_eq!(endpoints(&answer), [endpoint("10.0.0.1:6881")]);
    }

    #[test]
    fn peers6() {
        let mut body = b"d5:peers0:6:peers618:".to_vec();
        body.extend_from_slice(&[
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x1a, 0xe1,
        ]);
        body.push(b'e');
        let answer = parse(&body).unwrap();
        assert_eq!(endpoints(&answer), [endpoint("[2001:db8::2]:6881")]);
    }

    #[test]
    fn failures_and_garbage_are_errors() {
        assert_eq!(
            parse(b"d14:failure reason9:not here!e"),
            Err(UpstreamError::Refused("not here!".into()))
        );
        assert!(matches!(parse(b"<html>oops</html>"), Err(UpstreamError::Malformed(_))));
        assert!(matches!(parse(b"li1ee"), Err(UpstreamError::Malformed(_))));
        assert!(matches!(parse(b"d5:peers5:abcdee"), Err(UpstreamError::Malformed(_))));
        assert!(matches!(parse(b"d5:peersi3ee"), Err(UpstreamError::Malformed(_))));
        assert!(matches!(parse(b"d6:peers65:abcdee"), Err(UpstreamError::Malformed(_))));
    }

    #[test]
    fn a_negative_interval_is_ignored() {
        assert_eq!(parse(b"d8:intervali-5ee").unwrap().interval, None);
    }
}
