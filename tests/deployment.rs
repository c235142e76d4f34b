//! The container files name only settings the binary reads, and the README matches them.

use std::collections::BTreeSet;

use retracker::app::Config;

/// Compose-side variables the binary never sees.
const COMPOSE_ONLY: [&str; 1] = ["HOST_PORT"];

fn file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn binary_reads() -> BTreeSet<String> {
    Config::keys().iter().map(|key| key.to_uppercase()).collect()
}

/// `NAME=` at the start of a line, comments skipped.
fn assigned(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim().to_string()))
        .filter(|name| !name.is_empty() && !name.contains(' '))
        .collect()
}

/// Every `${NAME...}` in `text`.
fn interpolated(text: &str) -> BTreeSet<String> {
    text.split("${")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
        .collect()
}

#[test]
fn env_example_names_the_go_settings_and_only_what_the_binary_reads() {
    let names = assigned(&file(".env.example"));
    let expected: BTreeSet<String> = [
        "HOST_PORT",
        "LISTEN_ADDR",
        "PEER_AGE",
        "DEBUG_MODE",
        "X_REAL_IP",
        "FORWARD_TIMEOUT",
        "ENABLE_PROMETHEUS",
        "ANNOUNCE_INTERVAL",
        "FORWARDS_FILE",
    ]
    .map(String::from)
    .into();
    assert_eq!(names, expected);
    let reads = binary_reads();
    for name in names.iter().filter(|n| !COMPOSE_ONLY.contains(&n.as_str())) {
        assert!(reads.contains(name), ".env.example sets {name}, which the binary does not read");
    }
}

#[test]
fn compose_passes_only_what_the_binary_reads() {
    let compose = file("docker-compose.yml");
    let reads = binary_reads();
    let passed = interpolated(&compose);
    assert!(passed.contains("HOST_PORT"));
    for name in passed.iter().filter(|n| !COMPOSE_ONLY.contains(&n.as_str())) {
        assert!(
            reads.contains(name),
            "docker-compose.yml passes {name}, which the binary does not read"
        );
        assert!(
            compose.contains(&format!("{name}: ${{{name}")),
            "{name} reaches the container under its own name"
        );
    }
    assert_eq!(
        passed,
        assigned(&file(".env.example")),
        "compose uses every variable .env.example sets"
    );
}

#[test]
fn dockerfile_sets_only_what_the_binary_reads_and_listens_on_80() {
    let dockerfile = file("Dockerfile");
    assert!(dockerfile.contains("ENV LISTEN_ADDR=:80"));
    assert!(dockerfile.contains("EXPOSE 80"));
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("USER ") && !l.contains("root") && !l.contains(" 0"))
    );
    for line in dockerfile.lines().filter_map(|l| l.strip_prefix("ENV ")) {
        let name = line.split('=').next().unwrap();
        assert!(
            binary_reads().contains(name),
            "Dockerfile sets {name}, which the binary does not read"
        );
    }
}

#[test]
fn readme_docker_quick_start_matches_the_files() {
    let readme = file("README.md");
    assert!(readme.contains("cp .env.example .env"));
    assert!(readme.contains("docker compose up -d --build"));
    assert!(readme.contains("docker build -t retracker ."));
    let ci = file(".ci/run");
    let target = "x86_64-unknown-linux-musl";
    assert!(
        file("Dockerfile").contains(target) && ci.contains(target),
        "CI builds the Dockerfile's target"
    );
}
