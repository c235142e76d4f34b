//! Redis through TLS with a password (`rediss://`): the tracker reaches a server whose
//! certificate it can verify (its CA given as `SSL_CERT_FILE`, which rustls-native-certs
//! reads), refuses one it cannot or a wrong password, and never logs the password.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;
use crate::instance::Instance;
use crate::server::{Redis, free_port, installed, redis_installed};

const PASSWORD: &str = "s3cret-not-for-logs";

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?} failed");
}

/// Makes, in `dir`: `ca.pem`, a CA; `server.pem` and `server.key`, a certificate it signed
/// for 127.0.0.1; `stranger.pem`, another CA that signed nothing here. Each valid for a day.
fn certificates(dir: &Path) {
    let self_signed = |name: &str| {
        let (pem, key, subject) =
            (format!("{name}.pem"), format!("{name}.key"), format!("/CN={name}"));
        openssl(
            dir,
            &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
                .into_iter()
                .chain(["-keyout", &key, "-out", &pem, "-subj", &subject])
                .collect::<Vec<_>>(),
        );
    };
    self_signed("ca");
    self_signed("stranger");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(dir.join("names"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "names",
        ],
    );
}

#[tokio::test]
async fn a_tls_redis_with_a_password_is_shared_through_rediss_and_a_stranger_is_refused() {
    if !redis_installed() || !installed("openssl", "version", "openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let file = |name: &str| dir.path().join(name).display().to_string();
    let tls_port = free_port();
    let _redis = Redis::start_with(&[
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-file",
        &file("server.pem"),
        "--tls-key-file",
        &file("server.key"),
        "--tls-ca-cert-file",
        &file("ca.pem"),
        "--tls-auth-clients",
        "no",
        "--requirepass",
        PASSWORD,
    ]);
    let url = |password: &str| format!("rediss://:{password}@127.0.0.1:{tls_port}/0");
    let (our_ca, other_ca) = (file("ca.pem"), file("stranger.pem"));
    let env = [("SSL_CERT_FILE", our_ca.as_str())];

    let log = std::fs::File::create(file("a.log")).unwrap();
    let a = Instance::spawn_logging(&url(PASSWORD), "180", &env, log);
    a.wait_for_health(200).await;
    let b = Instance::start_with(&url(PASSWORD), "180", &env).await;
    let seeder = Announce::new(11, 1).seeding();
    announce(&a.base, &seeder).await;
    let answer = announce(&b.base, &Announce::new(11, 2)).await;
    assert_eq!(answer.peers, vec!["127.0.0.1:6001".parse().unwrap()], "a's seeder, at b");

    // A server whose certificate the tracker cannot verify is never used.
    let unverified =
        Instance::spawn(&url(PASSWORD), "180", &[("SSL_CERT_FILE", other_ca.as_str())]);
    unverified.wait_for_health(503).await;
    let body = unverified.announce_raw(&Announce::new(11, 3)).await;
    assert_eq!(failure_reason(&body), "tracker storage unavailable: try again later");
    // Nor a wrong password.
    let wrong = Instance::spawn(&url("not-the-password"), "180", &env);
    wrong.wait_for_health(503).await;

    drop(a);
    let logged = std::fs::read_to_string(file("a.log")).unwrap();
    assert!(logged.contains("serving"), "the log was written: {logged}");
    assert!(!logged.contains(PASSWORD), "the password was logged: {logged}");
}
