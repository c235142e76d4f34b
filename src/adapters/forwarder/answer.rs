//! Reads an upstream tracker's answer: compact or dictionary `peers`, `peers6`, intervals.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::adapters::bencode::decode::{Value, decode};
use crate::domain::address;
use crate::domain::ids::PeerId;
use crate::domain::peer::{AnyEndpoint, Peer, PeerList};
use crate::ports::{UpstreamAnswer, UpstreamError};

/// An upstream's answer body as peers and intervals; a `failure reason` is `Refused`.
pub fn parse(body: &[u8]) -> Result<UpstreamAnswer, UpstreamError> {
    let value = decode(body).map_err(|error| UpstreamError::Malformed(error.to_string()))?;
    if !matches!(value, Value::Dict(_)) {
        return Err(UpstreamError::Malformed("not a dictionary".into()));
    }
    if let Some(reason) = value.get(b"failure reason") {
        let text = reason.as_bytes().map(String::from_utf8_lossy).unwrap_or_default();
        return Err(UpstreamError::Refused(text.chars().take(200).collect()));
    }
    let seconds = |key: &[u8]| {
        let secs = value.get(key).and_then(Value::as_integer)?;
        u64::try_from(secs).ok().map(Duration::from_secs)
    };
    let mut peers = PeerList::default();
    match value.get(b"peers") {
        Some(Value::Bytes(compact)) => compact_v4(compact, &mut peers)?,
        Some(Value::List(list)) => dictionary(list, &mut peers),
        Some(_) => {
            return Err(UpstreamError::Malformed("peers is neither a string nor a list".into()));
        }
        None => {}
    }
    if let Some(compact) = value.get(b"peers6").and_then(Value::as_bytes) {
        compact_v6(compact, &mut peers)?;
    }
    Ok(UpstreamAnswer { interval: seconds(b"interval"), peers })
}

fn compact_v4(bytes: &[u8], peers: &mut PeerList) -> Result<(), UpstreamError> {
    if bytes.len() % 6 != 0 {
        return Err(UpstreamError::Malformed(format!("compact peers of {} bytes", bytes.len())));
    }
    for chunk in bytes.chunks_exact(6) {
        let ip = Ipv4Addr::new(chunk[0], chunk[1], chunk[2], chunk[3]);
        push(peers, None, IpAddr::V4(ip), u16::from_be_bytes([chunk[4], chunk[5]]));
    }
    Ok(())
}

fn compact_v6(bytes: &[u8], peers: &mut PeerList) -> Result<(), UpstreamError> {
    if bytes.len() % 18 != 0 {
        return Err(UpstreamError::Malformed(format!("compact peers6 of {} bytes", bytes.len())));
    }
    for chunk in bytes.chunks_exact(18) {
        let ip: [u8; 16] = chunk[..16].try_into().expect("chunks are 18 bytes");
        push(
            peers,
            None,
            IpAddr::V6(Ipv6Addr::from(ip)),
            u16::from_be_bytes([chunk[16], chunk[17]]),
        );
    }
    Ok(())
}

/// BEP 3's list of `{ip, peer id, port}`. A peer we cannot use (a DNS name for `ip`, a bad
/// port) is skipped rather than failing the whole answer.
fn dictionary(list: &[Value<'_>], peers: &mut PeerList) {
    for peer in list {
        let ip = peer
            .get(b"ip")
            .and_then(Value::as_bytes)
            .and_then(|ip| std::str::from_utf8(ip).ok())
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        let port =
            peer.get(b"port").and_then(Value::as_integer).and_then(|p| u16::try_from(p).ok());
        let id = peer
            .get(b"peer id")
            .and_then(Value::as_bytes)
            .and_then(|id| PeerId::from_bytes(id).ok());
        if let (Some(ip), Some(port)) = (ip, port) {
            push(peers, id, ip, port);
        }
    }
}

fn push(peers: &mut PeerList, id: Option<PeerId>, ip: IpAddr, port: u16) {
    // What we would refuse from a client we do not hand out from an upstream either.
    if port == 0 || !address::is_listable(ip) {
        return;
    }
    match AnyEndpoint::new(ip, port) {
        AnyEndpoint::V4(endpoint) => peers.v4.push(Peer { id, endpoint }),
        AnyEndpoint::V6(endpoint) => peers.v6.push(Peer { id, endpoint }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::peer::Endpoint;

    fn v4(text: &str) -> Endpoint<Ipv4Addr> {
        let addr: std::net::SocketAddrV4 = text.parse().unwrap();
        Endpoint { ip: *addr.ip(), port: addr.port() }
    }

    #[test]
    fn compact_peers_and_intervals() {
        let body = b"d8:completei5e8:intervali1800e12:min intervali900e5:peers12:\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x50e";
        let answer = parse(body).unwrap();
        assert_eq!(answer.interval, Some(Duration::from_secs(1800)));
        let endpoints: Vec<_> = answer.peers.v4.iter().map(|p| p.endpoint).collect();
        assert_eq!(endpoints, vec![v4("10.0.0.1:6881"), v4("10.0.0.2:80")]);
        assert!(answer.peers.v4.iter().all(|p| p.id.is_none()));
    }

    #[test]
    fn dictionary_peers_of_both_families_with_ids() {
        let body = b"d5:peersld2:ip8:10.0.0.37:peer id20:ABCDEFGHIJKLMNOPQRST4:porti7eed2:ip11:2001:db8::14:porti8eed2:ip9:host.test4:porti9eed2:ip8:10.0.0.44:porti0eeee";
        let answer = parse(body).unwrap();
        assert_eq!(answer.peers.v4.len(), 1, "the DNS name and the port 0 are skipped");
        assert_eq!(answer.peers.v4[0].id, Some(PeerId(*b"ABCDEFGHIJKLMNOPQRST")));
        assert_eq!(answer.peers.v6[0].endpoint.port, 8);
        assert_eq!(answer.interval, None);
    }

    #[test]
    fn unusable_addresses_from_upstream_are_dropped() {
        let body =
            b"d5:peers18:\x00\x00\x00\x00\x1a\xe1\xe0\x00\x00\x01\x1a\xe1\x0a\x00\x00\x01\x1a\xe1e";
        let answer = parse(body).unwrap();
        let endpoints: Vec<_> = answer.peers.v4.iter().map(|p| p.endpoint).collect();
        assert_eq!(endpoints, vec![v4("10.0.0.1:6881")]);
    }

    #[test]
    fn peers6() {
        let mut body = b"d5:peers0:6:peers618:".to_vec();
        body.extend_from_slice(&[
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x1a, 0xe1,
        ]);
        body.push(b'e');
        let answer = parse(&body).unwrap();
        assert_eq!(answer.peers.v6[0].endpoint.ip, "2001:db8::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(answer.peers.v6[0].endpoint.port, 6881);
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
    }

    #[test]
    fn a_negative_interval_is_ignored() {
        assert_eq!(parse(b"d8:intervali-5ee").unwrap().interval, None);
    }
}
