//! Which address an HTTP request comes from.

use std::net::{IpAddr, SocketAddr};

use warp::http::HeaderValue;

use super::query::RequestError;

/// The client's address: the connection's, or the `X-Real-IP` header's when a trusted proxy
/// (nginx) sets it. The header is read as raw bytes: a non-ASCII value is a bad address, not a
/// reason to fail the whole request some other way. Untrusted, it is ignored, because anyone
/// can send it.
pub fn resolve(
    remote: SocketAddr,
    x_real_ip: Option<&HeaderValue>,
    trust_x_real_ip: bool,
) -> Result<IpAddr, RequestError> {
    match x_real_ip {
        Some(value) if trust_x_real_ip => std::str::from_utf8(value.as_bytes())
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or(RequestError::BadRealIp),
        _ => Ok(remote.ip()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> SocketAddr {
        "192.0.2.1:40000".parse().unwrap()
    }

    #[test]
    fn uses_the_socket_without_a_header() {
        assert_eq!(resolve(remote(), None, true), Ok(remote().ip()));
    }

    #[test]
    fn ignores_the_header_unless_trusted() {
        let header = HeaderValue::from_static("203.0.113.5");
        assert_eq!(resolve(remote(), Some(&header), false), Ok(remote().ip()));
        assert_eq!(resolve(remote(), Some(&header), true), Ok("203.0.113.5".parse().unwrap()));
    }

    #[test]
    fn reads_ipv6_and_trims_spaces() {
        let header = HeaderValue::from_static(" 2001:db8::7 ");
        assert_eq!(resolve(remote(), Some(&header), true), Ok("2001:db8::7".parse().unwrap()));
    }

    #[test]
    fn refuses_a_bad_trusted_header() {
        let garbage = HeaderValue::from_bytes(b"\xff\xfe not an ip").unwrap();
        assert_eq!(resolve(remote(), Some(&garbage), true), Err(RequestError::BadRealIp));
    }
}
