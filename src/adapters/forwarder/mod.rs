//! The forwarder: an upstream HTTP(S) tracker reached with reqwest, or a UDP one (BEP 15).

// Public so the property tests and the fuzz target can feed them bodies directly.
pub mod answer;
pub mod udp_codec;

mod redirect;
mod request;
mod roots;
mod udp;

pub use udp::UdpUpstream;

use std::net::IpAddr;

use async_trait::async_trait;
use reqwest::header::{HOST, HeaderValue};
use url::Url;

use crate::domain::announce::AnnounceRequest;
use crate::ports::{UpstreamAnswer, UpstreamError, UpstreamTracker};

/// Redirects followed before giving up; a loop costs this many requests, no more.
const MAX_REDIRECTS: usize = 3;

pub use roots::NoCaCertificates;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "{0}; https:// forwarders need them: install the ca-certificates package, or point \
         SSL_CERT_FILE at a PEM bundle of them"
    )]
    NoCaCertificates(#[from] NoCaCertificates),
    #[error("{0}")]
    Build(#[from] reqwest::Error),
}

/// One HTTP client for every forwarder, sharing its connection pool. The system's CA store is
/// read only for `https` (some forwarder's URL is https://): redirects stay within a
/// forwarder's origin, so an http:// one never needs it, and a host without one forwards.
pub fn client(https: bool) -> Result<reqwest::Client, ClientError> {
    // reqwest is built without a TLS crypto provider of its own; ring is ours. Installing
    // twice (a second tracker in one process) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roots = if https { roots::system()? } else { Vec::new() };
    let client = reqwest::Client::builder()
        .user_agent(concat!("retracker/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect::same_origin(MAX_REDIRECTS))
        .tls_backend_rustls()
        .tls_certs_only(roots)
        .build()?;
    Ok(client)
}

pub struct HttpUpstream {
    name: String,
    client: reqwest::Client,
    announce_url: Url,
    claimed_ip: Option<IpAddr>,
    host: Option<HeaderValue>,
    max_answer_bytes: usize,
}

impl HttpUpstream {
    /// `name` labels it in logs and metrics; `claimed_ip` is announced as the client's
    /// address (`ip=`); `host` replaces the Host header; answers longer than
    /// `max_answer_bytes` are refused.
    pub fn new(
        name: String,
        client: reqwest::Client,
        announce_url: Url,
        claimed_ip: Option<IpAddr>,
        host: Option<&str>,
        max_answer_bytes: usize,
    ) -> Result<Self, String> {
        let host = host
            .map(|host| {
                HeaderValue::from_str(host).map_err(|_| format!("bad Host header {host:?}"))
            })
            .transpose()?;
        Ok(Self { name, client, announce_url, claimed_ip, host, max_answer_bytes })
    }

    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Vec<u8>, UpstreamError> {
        let too_large = UpstreamError::TooLarge(self.max_answer_bytes);
        if response.content_length().is_some_and(|len| len > self.max_answer_bytes as u64) {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_answer_bytes {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[async_trait]
impl UpstreamTracker for HttpUpstream {
    fn name(&self) -> &str {
        &self.name
    }

    async fn announce(&self, request: &AnnounceRequest) -> Result<UpstreamAnswer, UpstreamError> {
        let url = request::announce_url(&self.announce_url, request, self.claimed_ip);
        let mut outgoing = self.client.get(url);
        if let Some(host) = &self.host {
            outgoing = outgoing.header(HOST, host.clone());
        }
        let response = outgoing.send().await.map_err(transport)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(UpstreamError::Status(response.status().as_u16()));
        }
        let body = self.read_capped(response).await?;
        answer::parse(&body)
    }
}

fn transport(error: reqwest::Error) -> UpstreamError {
    // The URL holds the forwarder's passkey and goes to the log; its name says which one it was.
    let error = error.without_url();
    // The full chain: reqwest's own message is often just "error sending request".
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    UpstreamError::Transport(text)
}
