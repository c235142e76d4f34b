//! The CA certificates that https:// forwarders are checked against: the system's store, read
//! once at start-up.
//!
//! Read here rather than left to reqwest's platform verifier, which refuses to build a client
//! at all when the store is missing: a minimal image or a chroot forwarding to http:// trackers
//! only has no use for one, and where one is needed the error can name the file and the fix.

/// The file Debian, Ubuntu and this project's image keep the store in; other systems' places
/// are looked in too.
const USUAL_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// No usable CA certificate was found; where they were looked for.
#[derive(Debug, thiserror::Error)]
#[error("no CA certificates were found in {looked_in}")]
pub struct NoCaCertificates {
    looked_in: String,
}

/// The system's CA certificates that rustls can use (SSL_CERT_FILE and SSL_CERT_DIR override
/// where they are looked for), or where they were looked for when there are none.
pub fn system() -> Result<Vec<reqwest::Certificate>, NoCaCertificates> {
    let found = rustls_native_certs::load_native_certs();
    // reqwest fails the whole client on one certificate rustls cannot take as a root; the
    // platform verifier skipped such ones, and so does this.
    let usable: Vec<reqwest::Certificate> = found
        .certs
        .into_iter()
        .filter(|der| rustls::RootCertStore::empty().add(der.clone()).is_ok())
        .filter_map(|der| reqwest::Certificate::from_der(&der).ok())
        .collect();
    if usable.is_empty() {
        return Err(NoCaCertificates { looked_in: looked_in() });
    }
    Ok(usable)
}

fn looked_in() -> String {
    let set = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    match (set("SSL_CERT_FILE"), set("SSL_CERT_DIR")) {
        (None, None) => format!("{USUAL_FILE} (nor the other usual places)"),
        (Some(file), None) => format!("{file} (SSL_CERT_FILE)"),
        (None, Some(dir)) => format!("{dir} (SSL_CERT_DIR)"),
        (Some(file), Some(dir)) => format!("{file} (SSL_CERT_FILE) and {dir} (SSL_CERT_DIR)"),
    }
}
