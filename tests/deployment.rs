//! The container files name only settings the binary reads, and the README matches them.

use std::collections::BTreeSet;

use retracker::app::Config;

/// Compose-side variables the binary never sees.
const COMPOSE_ONLY: [&str; 2] = ["HOST_PORT", "HOST_UDP_PORT"];

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
fn env_example_names_the_go_settings_udp_and_only_what_the_binary_reads() {
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
        "HOST_UDP_PORT",
        "UDP_LISTEN_ADDR",
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
    // The Go original's README, word for word.
    assert!(readme.contains("cp .env.example .env"));
    assert!(readme.contains("docker-compose up -d --build"));
    assert!(readme.contains("docker build -t retracker ."));
    let ci = file(".ci/run");
    let target = "x86_64-unknown-linux-musl";
    assert!(
        file("Dockerfile").contains(target) && ci.contains(target),
        "CI builds the Dockerfile's target"
    );
    assert!(ci.contains("scripts/image.sh"), "CI builds the image from the Dockerfile");
}

/// The original's mount for the forwarders file, exactly as its README and compose file have it.
const ORIGINAL_VOLUME: &str = "./forwarders.yml:/app/forwarders.yml:ro";
const ORIGINAL_FORWARDS_FILE: &str = "FORWARDS_FILE=/app/forwarders.yml";

/// The original's README: set `FORWARDS_FILE=/app/forwarders.yml` in .env and uncomment the
/// volume in docker-compose.yml. Both are where it says, and uncommented they make a service
/// that mounts the file where the setting points (tests/container.rs runs it).
#[test]
fn the_originals_docker_forwarding_steps_work_as_written() {
    let compose = file("docker-compose.yml");
    let commented: Vec<&str> =
        compose.lines().filter(|line| line.trim_start().starts_with('#')).collect();
    assert!(commented.iter().any(|line| line.trim() == "# volumes:"), "{compose}");
    assert!(
        commented.iter().any(|line| line.trim() == format!("#   - {ORIGINAL_VOLUME}")),
        "docker-compose.yml has the original's volume line, commented: {compose}"
    );
    assert!(file(".env.example").contains(ORIGINAL_FORWARDS_FILE));
    let readme = file("README.md");
    assert!(readme.contains(ORIGINAL_FORWARDS_FILE) && readme.contains(ORIGINAL_VOLUME));

    let uncommented: String = compose
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            match trimmed.strip_prefix("# ") {
                Some(body)
                    if body == "volumes:" || body.trim() == format!("- {ORIGINAL_VOLUME}") =>
                {
                    format!("{indent}{body}\n")
                }
                _ => format!("{line}\n"),
            }
        })
        .collect();
    let service = |text: &str| -> serde_yaml::Value {
        let parsed: serde_yaml::Value = serde_yaml::from_str(text).expect("valid YAML");
        parsed["services"]["retracker"].clone()
    };
    assert!(service(&compose)["volumes"].is_null(), "no mount until the user asks for one");
    let service = service(&uncommented);
    let volumes: Vec<&str> =
        service["volumes"].as_sequence().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(volumes, [ORIGINAL_VOLUME]);
    let setting = service["environment"]["FORWARDS_FILE"].as_str().unwrap();
    assert!(setting.starts_with("${FORWARDS_FILE"), "{setting}");
    let (_, path) = ORIGINAL_FORWARDS_FILE.split_once('=').unwrap();
    assert_eq!(ORIGINAL_VOLUME.split(':').nth(1), Some(path), "mounted where the setting points");
}

#[test]
fn the_redis_compose_file_runs_two_trackers_on_one_redis_with_settings_the_binary_reads() {
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&file("docker-compose.redis.yml")).unwrap();
    let services = &compose["services"];
    assert!(services["redis"]["image"].as_str().unwrap().contains("redis"));
    let reads = binary_reads();
    let mut urls = BTreeSet::new();
    for name in ["retracker-a", "retracker-b"] {
        let environment = services[name]["environment"].as_mapping().expect("an environment");
        for key in environment.keys() {
            let key = key.as_str().unwrap();
            assert!(reads.contains(key), "{name} sets {key}, which the binary does not read");
        }
        assert_eq!(environment["STORAGE"].as_str(), Some("redis"), "{name}");
        urls.insert(environment["REDIS_URL"].as_str().unwrap().to_string());
    }
    assert_eq!(urls, BTreeSet::from(["redis://redis:6379/0".to_string()]), "one Redis for both");
}

/// tests/compose_redis.rs points the images at local ones; unset, they are what `up --build`
/// pulls and builds, as the file's first lines tell a user to run it.
#[test]
fn the_redis_compose_files_images_default_to_redis_7_and_the_one_it_builds() {
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&file("docker-compose.redis.yml")).unwrap();
    let services = &compose["services"];
    let image = |name: &str| services[name]["image"].as_str().unwrap().to_string();
    assert_eq!(image("redis"), "${REDIS_IMAGE:-docker.io/library/redis:7}");
    assert_eq!(services["retracker-a"]["build"].as_str(), Some("."));
    for name in ["retracker-a", "retracker-b"] {
        assert_eq!(image(name), "${RETRACKER_IMAGE:-retracker:latest}", "{name}");
    }
    assert!(file("docker-compose.redis.yml").contains("docker-compose.redis.yml up -d --build"));
}
