//! The image built from the Dockerfile, run under Podman as a user would run it: on its default
//! :80 as a non-root user with no extra sysctl (Podman, like Kubernetes, keeps ports below 1024
//! for root), answering announces, serving /metrics with -p, loading a forwarders file mounted
//! where the Go original's README puts it, and stopping at once on SIGTERM.
//!
//! The image is named by RETRACKER_IMAGE (.ci/run builds it with scripts/image.sh). Each
//! container has no network (`--network none`); the test reaches it with curl inside its
//! network namespace (nsenter), so nothing leaves the machine. Skipped, loudly, without the
//! image or the tools, unless RETRACKER_REQUIRE_CONTAINER=1.

mod common;
mod image;

use std::io::Write;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{Announce, Answer};
use image::{can_run, missing_program, stages};

/// crun fails in this sandbox (cgroups), and the default ulimits are refused.
const RUN_OPTIONS: [&str; 10] = [
    "--runtime",
    "runc",
    "--cgroup-manager",
    "cgroupfs",
    "--ulimit",
    "nofile=16384:16384",
    "--ulimit",
    "nproc=4096:4096",
    "--network",
    "none",
];

/// The image to run, or `None` (after saying why) when this test cannot run here.
fn test_image() -> Option<String> {
    let missing = missing_program(&["podman", "runc", "nsenter", "curl"]).or_else(|| {
        std::env::var("RETRACKER_IMAGE")
            .is_err()
            .then(|| "RETRACKER_IMAGE names no image (build one with scripts/image.sh)".to_string())
    });
    can_run(missing).then(|| std::env::var("RETRACKER_IMAGE").unwrap())
}

fn podman(args: &[&str]) -> Output {
    Command::new("podman").args(args).output().expect("podman runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A name no other test (or run) uses at the same time.
fn unique_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("retracker-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A started container, removed (by its id) when dropped, whatever the test's outcome.
struct Container {
    id: String,
    pid: u32,
}

impl Container {
    /// `podman run -d` with the sandbox's options, then `args` (options, the image, flags).
    fn run(args: &[&str]) -> Self {
        let name = unique_name();
        let mut all = vec!["run", "-d", "--name", &name];
        all.extend(RUN_OPTIONS);
        all.extend(args);
        Self::start(&all)
    }

    /// Runs a complete `podman run -d ...` argument list.
    fn start(args: &[&str]) -> Self {
        let output = podman(args);
        assert!(output.status.success(), "podman {args:?}: {}", text(&output.stderr));
        let id = text(&output.stdout).trim().to_string();
        let mut container = Self { id, pid: 0 };
        container.pid = container.inspect("{{.State.Pid}}").parse().unwrap();
        assert_ne!(container.pid, 0, "the container is not running:\n{}", container.logs());
        container
    }

    fn inspect(&self, format: &str) -> String {
        let output = podman(&["inspect", "--format", format, &self.id]);
        text(&output.stdout).trim().to_string()
    }

    fn logs(&self) -> String {
        let output = podman(&["logs", &self.id]);
        text(&output.stdout) + &text(&output.stderr)
    }

    /// GETs `path` on :80 from inside the container's network namespace: status and body.
    fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let pid = self.pid.to_string();
        let url = format!("http://127.0.0.1:80{path}");
        let output = Command::new("nsenter")
            .args(["-t", &pid, "-n", "curl", "-sS", "-m", "5", "-w", "\n%{http_code}", &url])
            .output()
            .unwrap();
        assert!(output.status.success(), "curl {url}: {}", text(&output.stderr));
        let mut body = output.stdout;
        let newline = body.iter().rposition(|b| *b == b'\n').unwrap();
        let status = text(&body[newline + 1..]).parse().unwrap();
        body.truncate(newline);
        (status, body)
    }

    /// Waits until /healthz answers `ok`; returns how long that took from `since`.
    fn wait_until_healthy(&self, since: Instant) -> Duration {
        let pid = self.pid.to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let output = Command::new("nsenter")
                .args(["-t", &pid, "-n", "curl", "-sf", "-m", "1", "http://127.0.0.1:80/healthz"])
                .output()
                .unwrap();
            if output.status.success() {
                assert_eq!(text(&output.stdout).trim(), "ok");
                return since.elapsed();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("/healthz did not answer within 10 s; the logs:\n{}", self.logs());
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--time", "0", &self.id]);
    }
}

/// Announces `peer` to torrent 1 and decodes the answer.
fn announce(container: &Container, peer: u8) -> Answer {
    let (status, body) = container.get(&format!("/announce?{}", Announce::new(1, peer).query()));
    assert_eq!(status, 200, "{}", text(&body));
    Answer::parse(&body)
}

#[test]
fn the_image_serves_on_80_as_non_root_without_sysctls_and_stops_on_sigterm() {
    let Some(image) = test_image() else { return };
    let started = Instant::now();
    let container = Container::run(&[&image]);
    let ready = container.wait_until_healthy(started);
    let _ = writeln!(std::io::stderr(), "podman run to /healthz answering: {ready:?}");

    let status = std::fs::read_to_string(format!("/proc/{}/status", container.pid)).unwrap();
    let user = stages().last().unwrap().only("USER").to_string();
    let (uid, gid) = user.split_once(':').unwrap();
    for (field, id) in [("Uid:", uid), ("Gid:", gid)] {
        let line = status.lines().find(|line| line.starts_with(field)).unwrap();
        assert!(line.split_whitespace().skip(1).all(|v| v == id), "{line} (USER {user})");
    }
    assert!(container.logs().contains("listen=[::]:80"), "{}", container.logs());
    // Per network namespace: what Docker sets to 0, Podman left as the kernel has it.
    let pid = container.pid.to_string();
    let sysctl = "/proc/sys/net/ipv4/ip_unprivileged_port_start";
    let start = Command::new("nsenter").args(["-t", &pid, "-n", "cat", sysctl]).output().unwrap();
    let start: u16 = text(&start.stdout).trim().parse().unwrap();
    assert!(start > 80, "{sysctl} is {start}: port 80 is kept for root here");

    assert!(announce(&container, 1).peers.is_empty());
    let second = announce(&container, 2);
    assert_eq!(second.peers.len(), 1, "the second peer is given the first: {second:?}");
    assert_eq!(second.peers[0].port(), Announce::new(1, 1).port);

    let stopping = Instant::now();
    // SAFETY: sends SIGTERM to the container's process, by the id podman gave for it.
    assert_eq!(unsafe { libc::kill(container.pid as i32, libc::SIGTERM) }, 0);
    while std::path::Path::new(&format!("/proc/{}", container.pid)).exists() {
        assert!(stopping.elapsed() < Duration::from_secs(1), "still running 1 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stopped = stopping.elapsed();
    let exit = text(&podman(&["wait", &container.id]).stdout).trim().to_string();
    assert_eq!(exit, "0", "exit status after SIGTERM; the logs:\n{}", container.logs());
    assert!(container.logs().contains("stopped"));
    let _ = writeln!(std::io::stderr(), "SIGTERM to exit: {stopped:?}");
}

#[test]
fn with_every_capability_dropped_it_serves_on_80_where_docker_allows_it() {
    let Some(image) = test_image() else { return };
    // Docker's own sysctl, and `--cap-drop ALL`: a binary with an effective file capability
    // would not even start here.
    let sysctl = "net.ipv4.ip_unprivileged_port_start=0";
    let container = Container::run(&["--cap-drop", "ALL", "--sysctl", sysctl, &image]);
    container.wait_until_healthy(Instant::now());
}

#[test]
fn with_p_the_image_serves_metrics() {
    let Some(image) = test_image() else { return };
    let container = Container::run(&[&image, "-p"]);
    container.wait_until_healthy(Instant::now());
    announce(&container, 1);
    let (status, body) = container.get("/metrics");
    assert_eq!(status, 200);
    let metrics = text(&body);
    let announces: f64 = metrics
        .lines()
        .filter(|line| line.starts_with("retracker_announces_total{"))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(announces, 1.0, "{metrics}");
}

#[test]
fn podman_inspect_shows_the_dockerfiles_ports_and_user() {
    let Some(image) = test_image() else { return };
    let last = stages().into_iter().last().unwrap();
    let inspect =
        |format: &str| text(&podman(&["image", "inspect", "--format", format, &image]).stdout);
    assert_eq!(inspect("{{.Config.User}}").trim(), last.only("USER"));
    let exposed = inspect("{{range $port, $_ := .Config.ExposedPorts}}{{$port}} {{end}}");
    let expected: Vec<String> = last
        .all("EXPOSE")
        .flat_map(str::split_whitespace)
        .map(|port| if port.contains('/') { port.to_string() } else { format!("{port}/tcp") })
        .collect();
    // Podman lists them sorted by name.
    let mut exposed: Vec<&str> = exposed.split_whitespace().collect();
    exposed.sort_unstable();
    let mut expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(exposed, expected);
    assert_ne!(last.only("USER").split(':').next(), Some("0"));
}

#[test]
fn with_udp_listen_addr_the_image_answers_bep_15_on_the_exposed_port() {
    let Some(image) = test_image() else { return };
    let udp_port = stages()
        .last()
        .unwrap()
        .all("EXPOSE")
        .flat_map(str::split_whitespace)
        .find_map(|port| port.strip_suffix("/udp"))
        .expect("the Dockerfile exposes a UDP port")
        .to_string();
    let listen = format!("UDP_LISTEN_ADDR=:{udp_port}");
    let container = Container::run(&["-e", &listen, &image]);
    container.wait_until_healthy(Instant::now());
    assert!(container.logs().contains(&format!("udp=[::]:{udp_port}")), "{}", container.logs());

    let connect = [0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0xBE, 0xEF, 0, 1];
    let answer = inside_network_of(container.pid, move || {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        socket.send_to(&connect, format!("127.0.0.1:{udp_port}")).unwrap();
        let mut answer = [0; 64];
        let len = socket.recv(&mut answer).expect("a connect answer within 5 s");
        answer[..len].to_vec()
    });
    assert_eq!(answer.len(), 16, "{answer:?}");
    assert_eq!(answer[..4], [0, 0, 0, 0], "action connect: {answer:?}");
    assert_eq!(answer[4..8], connect[12..16], "the transaction id echoed: {answer:?}");
}

/// Runs `work` on a thread that has joined the network namespace of process `pid`: sockets it
/// makes there reach the container's loopback, and nothing else.
fn inside_network_of<T: Send + 'static>(pid: u32, work: impl FnOnce() -> T + Send + 'static) -> T {
    use std::os::fd::AsRawFd;
    std::thread::spawn(move || {
        let namespace = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
        // SAFETY: setns on a namespace file we hold open; it moves only this thread.
        let joined = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(joined, 0, "setns: {}", std::io::Error::last_os_error());
        work()
    })
    .join()
    .unwrap()
}

/// The Go original's README for forwarding: a forwarders.yml beside docker-compose.yml,
/// `FORWARDS_FILE=/app/forwarders.yml` in .env, the volume in docker-compose.yml uncommented.
/// podman-compose resolves the service (settings from .env, the mount); the container is then
/// run as it would run it, with no network and the test's image for `build: .`.
#[test]
fn the_compose_service_loads_forwarders_at_the_originals_path() {
    let Some(image) = test_image() else { return };
    if !can_run(missing_program(&["podman-compose"])) {
        return;
    }
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let repo_file = |name: &str| std::fs::read_to_string(image::repo().join(name)).unwrap();
    // For `build: .`: printed, not run, by a dry run.
    std::fs::write(dir.join("Dockerfile"), repo_file("Dockerfile")).unwrap();
    // The quick start first, `cp .env.example .env`: every setting resolves, empty ones too.
    let compose = repo_file("docker-compose.yml");
    std::fs::write(dir.join("docker-compose.yml"), &compose).unwrap();
    let env = repo_file(".env.example");
    std::fs::write(dir.join(".env"), &env).unwrap();
    compose_run_line(dir, &unique_name());

    let upstream = "http://192.0.2.1:8080/announce";
    std::fs::write(dir.join("forwarders.yml"), format!("- uri: {upstream}\n")).unwrap();
    let env: String = env
        .lines()
        .map(|line| match line.starts_with("FORWARDS_FILE=") {
            true => "FORWARDS_FILE=/app/forwarders.yml\n".to_string(),
            false => format!("{line}\n"),
        })
        .collect();
    std::fs::write(dir.join(".env"), env).unwrap();
    let volume = "./forwarders.yml:/app/forwarders.yml:ro";
    let uncommented: String = compose
        .lines()
        .map(|line| {
            let body = line.trim_start().strip_prefix("# ").unwrap_or("");
            let indent = &line[..line.len() - line.trim_start().len()];
            if body == "volumes:" || body.trim_start() == format!("- {volume}") {
                format!("{indent}{body}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert!(uncommented.contains(&format!("  volumes:\n      - {volume}\n")), "{uncommented}");
    std::fs::write(dir.join("docker-compose.yml"), uncommented).unwrap();

    let name = unique_name();
    let run_line = compose_run_line(dir, &name);
    let resolved: Vec<&str> = run_line.split_whitespace().skip(2).collect();
    // As resolved, but with no network in place of the project's and its published port, and
    // the test's image in place of the one `build: .` would make.
    let mut args: Vec<String> = vec!["run".into(), "--name".into(), name.clone()];
    args.extend(RUN_OPTIONS.map(String::from));
    let mut rest = resolved.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--net" | "--network-alias" | "-p" => {
                rest.next();
            }
            _ if arg.starts_with("--name=") => {}
            "retracker:latest" => args.push(image.clone()),
            _ => args.push(arg.to_string()),
        }
    }
    assert!(args.contains(&image), "the service runs retracker:latest: {run_line}");
    assert!(args.iter().any(|a| a.ends_with(":/app/forwarders.yml:ro")), "{run_line}");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let container = Container::start(&args);
    container.wait_until_healthy(Instant::now());
    let logs = container.logs();
    assert!(logs.contains("forwarding announces") && logs.contains(upstream), "{logs}");
    assert!(logs.contains("forwards_file=/app/forwarders.yml"), "{logs}");
}

/// The `podman run` that `podman-compose up -d` would issue in `dir` for project `name`,
/// checked to have every `${...}` resolved.
fn compose_run_line(dir: &std::path::Path, name: &str) -> String {
    let output = Command::new("podman-compose")
        .args(["--project-name", name, "--dry-run", "up", "-d"])
        .current_dir(dir)
        .output()
        .unwrap();
    // podman-compose 1.0 creates the project's network even for a dry run.
    let _ = podman(&["network", "rm", "--force", &format!("{name}_default")]);
    let printed = text(&output.stdout);
    let Some(run_line) = printed.lines().find(|line| line.starts_with("podman run ")) else {
        panic!("podman-compose printed no podman run: {printed}{}", text(&output.stderr));
    };
    for setting in run_line.split_whitespace().filter(|arg| arg.contains('=')) {
        assert!(!setting.contains('$'), "podman-compose left {setting} unresolved");
    }
    run_line.to_string()
}
