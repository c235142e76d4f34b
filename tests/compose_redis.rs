//! docker-compose.redis.yml brought up with podman-compose as a user brings it up: Redis and two
//! trackers on the project's own network, reaching Redis by its service name. A peer announced at
//! the first tracker's published port is handed out at the second's, both scrape alike, a new
//! Redis container on the project's volume still holds the swarm, and `down` leaves nothing of
//! the project behind.
//!
//! No image can be pulled here: the tracker's is RETRACKER_IMAGE (.ci/run builds it with
//! scripts/image.sh), Redis's a stand-in scripts/redis-image.sh builds from this machine's
//! redis-server; the compose file takes both from variables. Ports are published on 127.0.0.1
//! only. Services find each other by name only where Podman's network has DNS (with CNI, the
//! dnsname plugin .ci/run installs). Skipped, loudly, without the tools or the image, unless
//! RETRACKER_REQUIRE_CONTAINER=1.

mod common;
mod image;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Announce, announce, percent_encode_all, scrape};
use image::{can_run, missing_program};
use retracker::adapters::bencode::decode::{Value, decode};

/// crun fails in this sandbox (cgroups), the default ulimits are refused, and nothing may be
/// pulled (tests/container.rs runs its containers with the same options).
const RUN_ARGS: &str = "--runtime runc --cgroup-manager cgroupfs --ulimit nofile=16384:16384 \
                        --ulimit nproc=4096:4096 --pull never";

/// The label podman-compose puts on every container, volume and network of a project.
const PROJECT_LABEL: &str = "io.podman.compose.project";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn podman(args: &[&str]) -> Output {
    Command::new("podman").args(args).output().expect("podman runs")
}

/// The tracker image to run, or `None` (after saying why) when this test cannot run here.
fn tracker_image() -> Option<String> {
    let tools = ["podman", "runc", "podman-compose", "redis-server", "ldd"];
    let missing = missing_program(&tools).or_else(|| match std::env::var("RETRACKER_IMAGE") {
        Err(_) => Some("RETRACKER_IMAGE names no image (build one with scripts/image.sh)".into()),
        Ok(image) if !podman(&["image", "exists", &image]).status.success() => {
            Some(format!("RETRACKER_IMAGE={image} is not in Podman's store"))
        }
        Ok(_) => None,
    });
    can_run(missing).then(|| std::env::var("RETRACKER_IMAGE").unwrap())
}

/// A free TCP port on 127.0.0.1, as the system picks it.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One compose project: its own name, a copy of the compose file, the Redis image built for it.
/// Dropping it removes whatever the project made, whatever the test's outcome.
struct Project {
    name: String,
    dir: tempfile::TempDir,
    redis_image: String,
    tracker_image: String,
    ports: [u16; 2],
}

impl Project {
    fn new(tracker_image: String) -> Self {
        let name = format!("retracker-compose-{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        // A copy, so that a developer's .env beside the repository's file is not read.
        let compose = std::fs::read_to_string(image::repo().join("docker-compose.redis.yml"));
        std::fs::write(dir.path().join("docker-compose.redis.yml"), compose.unwrap()).unwrap();
        let redis_image = format!("localhost/{name}-redis:latest");
        let ports = [free_port(), free_port()];
        Self { name, dir, redis_image, tracker_image, ports }
    }

    fn build_redis_image(&self) {
        let output = Command::new(image::repo().join("scripts/redis-image.sh"))
            .arg(&self.redis_image)
            .output()
            .unwrap();
        assert!(output.status.success(), "scripts/redis-image.sh: {}", text(&output.stderr));
    }

    /// Runs podman-compose on the project with `args`; its output, checked to be a success.
    fn compose(&self, args: &[&str]) -> String {
        let [a, b] = self.ports;
        let output = Command::new("podman-compose")
            .args(["--project-name", &self.name, "--file", "docker-compose.redis.yml"])
            .args(["--podman-run-args", RUN_ARGS])
            .args(args)
            .current_dir(self.dir.path())
            .env("REDIS_IMAGE", &self.redis_image)
            .env("RETRACKER_IMAGE", &self.tracker_image)
            .env("HOST_PORT", format!("127.0.0.1:{a}"))
            .env("HOST_PORT_B", format!("127.0.0.1:{b}"))
            // The file's defaults, not whatever the developer's shell has.
            .env_remove("STORAGE_TIMEOUT")
            .env_remove("PEER_AGE")
            .output()
            .unwrap();
        let printed = text(&output.stdout) + &text(&output.stderr);
        assert!(output.status.success(), "podman-compose {args:?}:\n{printed}");
        printed
    }

    fn base(&self, service: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[service])
    }

    /// The names of the project's objects of `kind` (`container`, `volume`, `network`).
    fn leftovers(&self, kind: &str) -> Vec<String> {
        let filter = format!("label={PROJECT_LABEL}={}", self.name);
        let output = match kind {
            "container" => podman(&["ps", "--all", "--filter", &filter, "--format", "{{.Names}}"]),
            _ => podman(&[kind, "ls", "--filter", &filter, "--format", "{{.Name}}"]),
        };
        text(&output.stdout).lines().map(str::to_string).collect()
    }

    /// Every container's logs, for a failure message.
    fn logs(&self) -> String {
        self.leftovers("container")
            .iter()
            .map(|name| {
                let output = podman(&["logs", name]);
                format!("--- {name}\n{}{}", text(&output.stdout), text(&output.stderr))
            })
            .collect()
    }

    /// Waits until service `service`'s /healthz answers `ok` at its published port.
    async fn wait_until_healthy(&self, service: usize) {
        let url = format!("{}/healthz", self.base(service));
        let client = common::client();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        while Instant::now() < deadline {
            match client.get(&url).timeout(Duration::from_secs(2)).send().await {
                Ok(response) if response.status() == 200 => return,
                Ok(response) => last = format!("status {}", response.status()),
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{url} did not answer ok within 30 s ({last}); a tracker reaches Redis by its \
             service name only where the project's network has DNS (the CNI dnsname plugin, or \
             netavark with aardvark-dns). The logs:\n{}",
            self.logs()
        );
    }
}

impl Project {
    /// Scrapes `hash` at `service` until the answer is not a failure (the tracker reconnects to
    /// a Redis that came back by itself, within its probe's second): (complete, downloaded,
    /// incomplete).
    async fn scrape_once_redis_answers(&self, service: usize, hash: [u8; 20]) -> (i64, i64, i64) {
        let url = format!("{}/scrape?info_hash={}", self.base(service), percent_encode_all(&hash));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = Vec::new();
        while Instant::now() < deadline {
            if let Ok(response) = common::client().get(&url).send().await {
                last = response.bytes().await.unwrap_or_default().to_vec();
                let value = decode(&last).unwrap_or_else(|e| panic!("not bencode ({e}): {last:?}"));
                if let Some(file) = value.get(b"files").and_then(|files| files.get(&hash)) {
                    let int = |key: &[u8]| file.get(key).and_then(Value::as_integer).unwrap();
                    return (int(b"complete"), int(b"downloaded"), int(b"incomplete"));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{url} kept failing for 30 s: {}\n{}", text(&last), self.logs());
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        for name in self.leftovers("container") {
            let _ = podman(&["rm", "--force", "--time", "0", &name]);
        }
        for kind in ["volume", "network"] {
            for name in self.leftovers(kind) {
                let _ = podman(&[kind, "rm", "--force", &name]);
            }
        }
        let _ = podman(&["rmi", "--force", &self.redis_image]);
    }
}

#[tokio::test]
async fn the_redis_compose_file_runs_two_trackers_that_share_their_swarms() {
    let Some(tracker_image) = tracker_image() else { return };
    let project = Project::new(tracker_image);
    project.build_redis_image();
    // No --build: `build: .` would pull the Dockerfile's builder image; the tracker's image is
    // there already, so podman-compose builds nothing.
    project.compose(&["up", "-d"]);

    let running = project.leftovers("container");
    assert_eq!(running.len(), 3, "redis, retracker-a, retracker-b: {running:?}");
    let filter = format!("label={PROJECT_LABEL}={}", project.name);
    let published = podman(&["ps", "--filter", &filter, "--format", "{{.Ports}}"]);
    // Redis publishes nothing; each tracker publishes on loopback only.
    let mut published: Vec<String> =
        text(&published.stdout).lines().filter(|p| !p.is_empty()).map(String::from).collect();
    published.sort();
    let [a, b] = project.ports;
    let mut expected = vec![format!("127.0.0.1:{a}->80/tcp"), format!("127.0.0.1:{b}->80/tcp")];
    expected.sort();
    assert_eq!(published, expected);
    project.wait_until_healthy(0).await;
    project.wait_until_healthy(1).await;

    let leecher = Announce::new(1, 1);
    let seeder = Announce::new(1, 2).seeding();
    let first = announce(&project.base(0), &leecher).await;
    assert!(first.peers.is_empty(), "a new torrent has no one else: {first:?}");
    let second = announce(&project.base(1), &seeder).await;
    let ports: Vec<u16> = second.peers.iter().map(|peer| peer.port()).collect();
    assert_eq!(ports, [leecher.port], "B hands out the peer announced at A: {second:?}");
    assert_eq!((second.complete, second.incomplete), (1, 1), "{second:?}");
    for service in [0, 1] {
        let counts = scrape(&project.base(service), &[leecher.info_hash]).await;
        assert_eq!(
            counts,
            [(1, 0, 1)],
            "scrape at service {service}: (complete, downloaded, incomplete)"
        );
    }

    // The file says Redis keeps the swarms on its volume: a new Redis container on the same
    // volume, stopped gently so that it writes what it holds, hands out both peers again.
    let redis = format!("{}_redis_1", project.name);
    for command in ["stop", "rm"] {
        let output = podman(&[command, &redis]);
        assert!(output.status.success(), "podman {command} {redis}: {}", text(&output.stderr));
    }
    project.compose(&["up", "-d"]);
    let counts = project.scrape_once_redis_answers(0, leecher.info_hash).await;
    assert_eq!(counts, (1, 0, 1), "the swarm after a new Redis container on the volume");
    let third = announce(&project.base(1), &Announce::new(1, 3)).await;
    let mut ports: Vec<u16> = third.peers.iter().map(|peer| peer.port()).collect();
    ports.sort_unstable();
    assert_eq!(ports, [leecher.port, seeder.port], "{third:?}");

    project.compose(&["down", "--volumes"]);
    assert_eq!(project.leftovers("container"), Vec::<String>::new(), "down removes the containers");
    assert_eq!(project.leftovers("volume"), Vec::<String>::new(), "down --volumes removes Redis's");
    // podman-compose 1.0 leaves the project's network behind; remove it as `docker-compose down`
    // would, and see it go.
    for network in project.leftovers("network") {
        let output = podman(&["network", "rm", &network]);
        assert!(output.status.success(), "podman network rm {network}: {}", text(&output.stderr));
    }
    assert_eq!(project.leftovers("network"), Vec::<String>::new());
}
