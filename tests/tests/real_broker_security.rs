//! Real-broker suite: a broker that requires TLS and SASL/SCRAM.
//!
//! Tansu runs with `--authentication` (every client must log in with
//! SCRAM-SHA-512; the user is created with `tansu user create` before the
//! switch) behind a TLS front: `socat` terminates TLS with a self-signed
//! certificate made for the test, and Tansu advertises the front's port,
//! so every connection a client makes is TLS. (Tansu 0.6 reads `--cert`
//! and `--key` but never wraps a connection in TLS: its broker builds the
//! acceptor and drops it. A front is what a TLS test can stand on.)
//!
//! What is checked:
//!
//! * a worker given `security.protocol = SASL_SSL`, the mechanism, the user,
//!   the password and the certificate authority, for its consumer, producer
//!   and admin client, handles every event end to end, creating its own
//!   topics;
//! * the password never appears in its log (at `debug`, which prints every
//!   setting), on its status page, `/status`, `/agents`, `/topics` or
//!   `/metrics`, and the web endpoint listens on loopback;
//! * a client without TLS, one that does not trust the certificate, one
//!   without credentials and one with a wrong password get nothing, and a
//!   worker with a wrong password says why in its log, without the
//!   password.
//!
//! Enabled by `FAUST_TEST_BROKER` as the rest of the suite (`.ci/run`);
//! each test has a broker of its own. Needs `socat` and `openssl`
//! (`scripts/setup` installs them with the tests' packages).

mod common;
mod http;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    OwnBroker, Reader, TaggedProducer, WorkerProcess, create_topic, log_dir, log_tails,
    reader_config,
};
use rdkafka::consumer::{BaseConsumer, Consumer};

/// The worker's user on the broker.
const USER: &str = "orders-app";
/// Its password: written nowhere but the broker's user table and the
/// worker's environment, so any other place it shows up is a leak.
const PASSWORD: &str = "pw-7f3a9c-never-printed";
/// Input partitions.
const PARTITIONS: i32 = 2;
/// Events each end-to-end check sends.
const EVENTS: u64 = 300;

#[test]
fn a_worker_on_sasl_ssl_handles_every_event_and_never_shows_its_password() {
    let Some(secured) = SecuredBroker::start("security-ok") else {
        return;
    };
    let input = secured.topic("pipeline-in");
    let output = secured.topic("pipeline-out");
    let web_port = http::free_port();
    // Debug: the worker logs every setting it resolved.
    let mut worker = secured.start_worker(
        PASSWORD,
        &[
            ("FAUST_WEB_PORT", &web_port.to_string()),
            ("FAUST_LOGLEVEL", "debug"),
        ],
    );

    let client = secured.client_properties(PASSWORD);
    let mut producer = TaggedProducer::with_properties(&secured.bootstrap(), &input, &client);
    for id in 0..EVENTS {
        let value = format!(r#"{{"id":{id},"qty":1,"note":"item {id}"}}"#);
        producer.send(
            (id % PARTITIONS as u64) as i32,
            Some(id.to_string().as_bytes()),
            Some(value.as_bytes()),
        );
    }
    producer
        .flush()
        .unwrap_or_else(|e| panic!("producing over SASL_SSL: {e}"));

    // Every id comes out of the pipeline (its output topic is one the
    // worker created through its admin client).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut reader = None;
    let mut seen = BTreeSet::new();
    while seen.len() < EVENTS as usize {
        if let Some(status) = worker.exited() {
            panic!(
                "the worker exited: {status}{}",
                log_tails([&worker], 40).replace(PASSWORD, "<the password>")
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} of {EVENTS} events came out within 120 s{}",
            seen.len(),
            log_tails([&worker], 40).replace(PASSWORD, "<the password>")
        );
        if reader.is_none() {
            reader = Reader::try_open_with(&secured.bootstrap(), &output, &secured.name, &client);
        }
        match &reader {
            Some(r) => {
                r.read(Duration::from_millis(500), |record| {
                    let done: serde_json::Value =
                        serde_json::from_slice(record.value.as_deref().unwrap_or_default())
                            .expect("an output is JSON");
                    seen.insert(done["id"].as_u64().expect("an output names its id"));
                });
            }
            None => std::thread::sleep(Duration::from_millis(500)),
        }
    }
    println!("security: {EVENTS} events through SASL_SSL, all out");

    // The endpoint answers on loopback, and none of its pages has the
    // password.
    for path in ["/", "/status", "/agents", "/topics", "/metrics"] {
        let (status, body) = http::get(web_port, path)
            .unwrap_or_else(|| panic!("no answer from 127.0.0.1:{web_port}{path}"));
        assert_eq!(status, 200, "GET {path}: {body}");
        assert!(!body.contains(PASSWORD), "GET {path} shows the password");
    }
    let status = worker.terminate(Duration::from_secs(30));
    let log = worker.log_text();
    assert!(status.success(), "the worker's exit: {status}");
    assert!(
        !log.contains(PASSWORD),
        "the worker's log has the password: {}",
        worker.log.display()
    );
    // The settings were printed (so their absence above means something),
    // the password among them masked, and the endpoint bound to loopback.
    assert!(
        log.contains(r#"setting consumer.sasl.password = "***""#),
        "no masked sasl.password in the worker's debug log{}",
        log_tails([&worker], 40)
    );
    assert!(
        log.contains(r#"setting web_bind = "127.0.0.1""#),
        "the endpoint is not on loopback by default{}",
        log_tails([&worker], 40)
    );
}

#[test]
fn clients_without_tls_trust_or_credentials_get_nothing_and_a_wrong_password_is_reported() {
    let Some(secured) = SecuredBroker::start("security-refused") else {
        return;
    };
    let tls = [
        ("security.protocol", "SSL"),
        ("ssl.ca.location", secured.ca()),
    ];
    let untrusted = [
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", USER),
        ("sasl.password", PASSWORD),
    ];
    let wrong = secured.client_properties("not-the-password");
    let input = secured.topic("pipeline-in");
    let cases: [(&str, &[(&str, &str)]); 4] = [
        ("plaintext to the TLS port", &[]),
        ("TLS, certificate not trusted", &untrusted),
        ("TLS without credentials", &tls),
        ("SASL_SSL with a wrong password", &wrong),
    ];
    for (what, properties) in cases {
        assert!(
            !sees_topic(&secured.bootstrap(), properties, &input),
            "{what}: the client read the broker's metadata"
        );
        println!("security: {what}: refused");
    }
    // The right credentials do see it: the refusals above were the
    // security's doing, not a broken broker.
    assert!(
        sees_topic(
            &secured.bootstrap(),
            &secured.client_properties(PASSWORD),
            &input
        ),
        "SASL_SSL with the right password: no metadata"
    );

    // A worker with a wrong password says so, and never prints it.
    let mut worker = secured.start_worker("wrong-pw-5d1e", &[("FAUST_WEB_ENABLED", "false")]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = worker.log_text().to_lowercase();
        if log.contains("authentication") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a worker with a wrong password logged no authentication error within 60 s{}",
            log_tails([&worker], 40)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    worker.terminate(Duration::from_secs(30));
    assert!(
        !worker.log_text().contains("wrong-pw-5d1e"),
        "the worker's log has the (wrong) password: {}",
        worker.log.display()
    );
}

// ---------------------------------------------------------------- the secured broker

/// Tansu with `--authentication` on a port of its own, behind a `socat` TLS
/// front on another; clients are told the front's port. Both stopped when
/// dropped.
struct SecuredBroker {
    /// The test's name: its app id, and its topics' suffix (`-NAME`).
    name: String,
    broker: OwnBroker,
    front: Child,
    tls_port: u16,
    ca: String,
}

impl SecuredBroker {
    /// Starts Tansu plain, creates the user and the input topic of the
    /// test named `name` (`pipeline-in-NAME`), restarts Tansu requiring
    /// authentication, and starts the TLS front. `None` with the suite off.
    fn start(name: &str) -> Option<SecuredBroker> {
        let mut broker = OwnBroker::start(name)?;
        broker.tansu(&[
            "user",
            "create",
            "--broker",
            &format!("tcp://{}", broker.bootstrap()),
            "--mechanism",
            "scram512",
            USER,
            PASSWORD,
        ]);
        create_topic(
            &broker.bootstrap(),
            &format!("pipeline-in-{name}"),
            PARTITIONS,
            &[],
        );
        let (cert, key) = self_signed_certificate(&broker.dir);
        let tls_port = http::free_port();
        broker.down("TERM");
        broker.reconfigure(tls_port, &["--authentication"]);
        broker.up();
        let front = Command::new("socat")
            .arg(format!(
                "OPENSSL-LISTEN:{tls_port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
                cert.display(),
                key.display()
            ))
            .arg(format!("TCP:{}", broker.bootstrap()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start socat (scripts/setup installs it with the tests): {e}")
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the TLS front did not listen on 127.0.0.1:{tls_port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(SecuredBroker {
            name: name.to_owned(),
            broker,
            front,
            tls_port,
            ca: cert.display().to_string(),
        })
    }

    /// `base` with the test's suffix, as the worker names it.
    fn topic(&self, base: &str) -> String {
        format!("{base}-{}", self.name)
    }

    /// A `pipeline_worker` in the test's group on the test's topics,
    /// logging in with `password`, with `extra` environment on top.
    fn start_worker(&self, password: &str, extra: &[(&str, &str)]) -> WorkerProcess {
        let mut env = self.worker_env(password);
        env.push(("PIPELINE_APP".into(), self.name.clone()));
        env.push(("PIPELINE_SUFFIX".into(), format!("-{}", self.name)));
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        WorkerProcess::start(
            env!("CARGO_BIN_EXE_pipeline_worker"),
            &self.bootstrap(),
            &self.name,
            log_dir().join(format!("{}-worker.log", self.name)),
            &env,
        )
    }

    /// The TLS front: the only address clients are given.
    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.tls_port)
    }

    /// The certificate clients trust (self-signed: it is its own CA).
    fn ca(&self) -> &str {
        &self.ca
    }

    /// A client's properties for SASL_SSL as `USER` with `password`.
    fn client_properties<'a>(&'a self, password: &'a str) -> [(&'a str, &'a str); 5] {
        [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", USER),
            ("sasl.password", password),
            ("ssl.ca.location", self.ca()),
        ]
    }

    /// The worker's environment: the same properties for each of its
    /// clients (`FAUST_CONSUMER__SASL_PASSWORD`, ...).
    fn worker_env(&self, password: &str) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for client in ["CONSUMER", "PRODUCER", "ADMIN"] {
            for (key, value) in self.client_properties(password) {
                let key = key.to_uppercase().replace('.', "_");
                env.push((format!("FAUST_{client}__{key}"), value.to_owned()));
            }
        }
        env
    }
}

impl Drop for SecuredBroker {
    fn drop(&mut self) {
        let _ = self.front.kill();
        let _ = self.front.wait();
        if std::thread::panicking() {
            println!(
                "security: the broker's log is kept in {}",
                self.broker.dir.display()
            );
        }
    }
}

/// Whether a client with `properties` reads `topic`'s metadata from
/// `bootstrap` within 10 s.
fn sees_topic(bootstrap: &str, properties: &[(&str, &str)], topic: &str) -> bool {
    let mut config = reader_config(bootstrap, "security-probe");
    for (k, v) in properties {
        config.set(*k, *v);
    }
    let consumer: BaseConsumer = config.create().expect("probe client");
    consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map(|m| {
            m.topics()
                .iter()
                .any(|t| t.name() == topic && t.error().is_none())
        })
        .unwrap_or(false)
}

/// A self-signed certificate for `127.0.0.1` (and its key) in `dir`,
/// made with `openssl`.
fn self_signed_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (scripts/setup installs it): {e}"));
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}
