//! The forwarders file: a YAML list of upstream trackers, as the Go original reads it.
//!
//! ```yaml
//! - uri: http://tracker.example:8080/announce
//! - uri: http://192.0.2.1/announce
//!   ip: 192.168.1.15      # the client address announced to this one
//!   host: retracker.local # the Host header sent to this one
//!   name: lan             # its label in metrics (default: the URL's host[:port])
//! - uri: udp://tracker.example:6969/announce   # BEP 15; ip must be IPv4, no host
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use super::redacted_uri::RedactedUri;

/// One upstream tracker to forward announces to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderSpec {
    /// Its label in logs and metrics.
    pub name: String,
    pub uri: Url,
    pub ip: Option<IpAddr>,
    pub host: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    uri: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    ip: Option<IpAddr>,
    #[serde(default)]
    host: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("forwarders file {}: {problem}", path.display())]
pub struct ForwardersError {
    path: PathBuf,
    problem: String,
}

pub fn load(path: &Path) -> Result<Vec<ForwarderSpec>, ForwardersError> {
    let fail = |problem: String| ForwardersError { path: path.to_owned(), problem };
    let text =
        std::fs::read_to_string(path).map_err(|error| fail(format!("cannot read it: {error}")))?;
    parse(&text).map_err(fail)
}

fn parse(text: &str) -> Result<Vec<ForwarderSpec>, String> {
    let entries: Vec<Entry> = serde_yaml::from_str(text)
        .map_err(|error| format!("expected a YAML list of {{uri, ip?, host?}}: {error}"))?;
    if entries.is_empty() {
        return Err("the list is empty: name at least one tracker, or drop -f".into());
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let number = index + 1;
            // The text as written is not shown: it may hold a password or passkey.
            let uri = Url::parse(&entry.uri)
                .map_err(|error| format!("entry {number}: not a URL: {error}"))?;
            let shown = RedactedUri(&uri).to_string();
            let at = |problem: String| format!("entry {number} (uri {shown:?}): {problem}");
            if !matches!(uri.scheme(), "http" | "https" | "udp") || !uri.has_host() {
                return Err(at("expected an http://, https:// or udp:// announce URL".into()));
            }
            if uri.scheme() == "udp" {
                udp_entry(&uri, &entry).map_err(at)?;
            }
            if let Some(host) = &entry.host {
                let usable = !host.is_empty() && host.bytes().all(|b| b.is_ascii_graphic());
                if !usable {
                    return Err(at(format!("host {host:?} is not a usable Host header")));
                }
            }
            // As the Go original names a forwarder in its metrics.
            let name = entry.name.clone().unwrap_or_else(|| match (uri.host_str(), uri.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_owned(),
                _ => shown.clone(),
            });
            Ok(ForwarderSpec { name, uri, ip: entry.ip, host: entry.host })
        })
        .collect()
}

/// What a `udp://` entry cannot have: no port (UDP has no default), a Host header, an IPv6
/// `ip` (BEP 15's announce has room for IPv4 only).
fn udp_entry(uri: &Url, entry: &Entry) -> Result<(), String> {
    if uri.port().is_none() {
        return Err("a udp:// tracker needs its port, as in udp://tracker.example:6969".into());
    }
    if !matches!(uri.path(), "" | "/" | "/announce") || uri.query().is_some() {
        return Err("a udp:// tracker takes no path but /announce, and no query".into());
    }
    if entry.host.is_some() {
        return Err("host (an HTTP header) means nothing over udp://: drop it".into());
    }
    if let Some(ip @ IpAddr::V6(_)) = entry.ip {
        return Err(format!("ip {ip} is IPv6; a udp:// announce carries an IPv4 address only"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn reads_the_go_originals_format() {
        let text = "- uri: http://192.0.2.1:8080/announce\n\
                    - uri: https://tracker.test/announce?passkey=x\n  ip: 192.168.1.15\n\
                    - uri: http://192.0.2.2/announce\n  host: retracker.local\n";
        let specs = parse(text).unwrap();
        assert_eq!(specs.len(), 3);
        assert_eq!(specs[0].uri.as_str(), "http://192.0.2.1:8080/announce");
        assert_eq!(specs[1].ip, Some("192.168.1.15".parse().unwrap()));
        assert_eq!(specs[2].host.as_deref(), Some("retracker.local"));
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["192.0.2.1:8080", "tracker.test", "192.0.2.2"]);
        let named = parse("- uri: http://a.test/announce\n  name: lan\n").unwrap();
        assert_eq!(named[0].name, "lan");
    }

    #[test]
    fn problems_name_the_entry() {
        let cases = [
            ("not: [a list", "expected a YAML list"),
            ("[]", "the list is empty"),
            ("- uri: http://a.test/announce\n  hots: x\n", "unknown field `hots`"),
            (
                "- uri: http://a.test/announce\n- uri: ftp://b.test/x\n",
                "entry 2 (uri \"ftp://b.test/x\"): expected an http",
            ),
            ("- uri: not a url\n", "entry 1: not a URL"),
            (
                "- uri: http://u:pw@a.test/?passkey=k\n  host: \"two words\"\n",
                "entry 1 (uri \"http://***@a.test/?passkey=***\"): host",
            ),
            ("- uri: http://a.test/\n  ip: 300.1.1.1\n", "invalid IP address"),
            ("- uri: http://a.test/\n  host: \"two words\"\n", "not a usable Host header"),
            ("- ip: 192.0.2.1\n", "missing field `uri`"),
        ];
        for (text, expected) in cases {
            let problem = parse(text).unwrap_err();
            assert!(problem.contains(expected), "{text:?}: {problem}");
        }
    }

    #[test]
    fn udp_entries_with_or_without_announce() {
        let text = "- uri: udp://192.0.2.1:6969\n\
                    - uri: udp://tracker.test:1337/announce\n  ip: 192.168.1.15\n\
                    - uri: udp://[2001:db8::1]:6969/announce\n";
        let specs = parse(text).unwrap();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["192.0.2.1:6969", "tracker.test:1337", "[2001:db8::1]:6969"]);
        assert_eq!(specs[1].ip, Some("192.168.1.15".parse().unwrap()));
    }

    #[test]
    fn udp_entries_refuse_what_udp_cannot_carry() {
        let cases = [
            ("- uri: udp://a.test/announce\n", "entry 1 (uri \"udp://a.test/announce\"): a udp://"),
            ("- uri: http://a.test/\n- uri: udp://b.test:1/\n  host: x\n", "entry 2 (uri"),
            ("- uri: udp://b.test:1/\n  host: x\n", "host (an HTTP header) means nothing"),
            ("- uri: udp://b.test:1/\n  ip: 2001:db8::5\n", "ip 2001:db8::5 is IPv6"),
            ("- uri: udp://b.test:1/scrape\n", "no path but /announce"),
        ];
        for (text, expected) in cases {
            let problem = parse(text).unwrap_err();
            assert!(problem.contains(expected), "{text:?}: {problem}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "[]").unwrap();
        let error = load(file.path()).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("forwarders file {}: ", file.path().display())),
            "{error}"
        );
        let missing = load(Path::new("/nonexistent/forwarders.yml")).unwrap_err().to_string();
        assert!(missing.contains("/nonexistent/forwarders.yml: cannot read it"), "{missing}");
    }
}
