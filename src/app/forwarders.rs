//! The forwarders file: a YAML list of upstream trackers, as the Go original reads it.
//!
//! ```yaml
//! - uri: http://tracker.example:8080/announce
//! - uri: http://192.0.2.1/announce
//!   ip: 192.168.1.15      # the client address announced to this one
//!   host: retracker.local # the Host header sent to this one
//!   name: lan             # its label in metrics (default: the URL's host[:port])
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
            if !matches!(uri.scheme(), "http" | "https") || !uri.has_host() {
                return Err(at("expected an http:// or https:// announce URL".into()));
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
