//! The worker directory: which worker's web endpoint holds which table
//! partitions, so that a table query reaching a worker that does not own
//! the key's partition is forwarded to the worker that does (Faust routes
//! its table queries to the owner in the same way).
//!
//! Faust learns the owners from its partition assignor's metadata;
//! librdkafka lets no custom assignor carry user data, so faust-rs keeps
//! the directory in the app's own Kafka instead: the compacted,
//! one-partition topic `<app id>-__workers` (declared with the app's other
//! topics when the web endpoint is on and the app has a partitioned
//! table). Each worker keeps one record there, keyed by its instance id,
//! whose value is an [`Announcement`]:
//!
//! ```json
//! {"web": "127.0.0.1:6066", "tables": {"counts": [0, 2]}, "at": 1767225600000}
//! ```
//!
//! A worker announces again whenever the partitions it owns change (after
//! an assignment once their tables are recovered, so a forwarded query
//! never reads a half-rebuilt table, and after a revocation), and removes
//! its record with a tombstone when it stops. Every worker reads the topic
//! from its beginning, outside any consumer group, with the transport's
//! changelog reader (as global tables are followed), so the directory
//! works on the in-memory broker, the embedded one and Kafka alike.
//!
//! While the group rebalances two announcements may claim one partition
//! (the old owner's revocation not read yet, or a worker that died without
//! its tombstone): the newest claim wins.
//!
//! This module may call `table`, `transport`, `time` and the `worker`'s
//! engine and lifecycle.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{Either, select};
use serde::{Deserialize, Serialize};

use crate::app::Settings;
use crate::error::{Error, Result};
use crate::table::{ChangelogRead, Tables};
use crate::time::Clock;
use crate::transport::{OutgoingRecord, Transport};
use crate::worker::engine::Engine;
use crate::worker::lifecycle::Lifecycle;

/// The request header that marks a forwarded table query: its receiver
/// answers from its own copy and never forwards it again.
pub(crate) const FORWARDED: &str = "x-faust-forwarded";

/// The answer header naming the worker (its web address) whose copy of the
/// table answered.
pub(crate) const ANSWERED_BY: &str = "x-faust-worker";

/// How often the directory reads new announcements and checks whether
/// this worker's partitions changed.
const REFRESH_EVERY: Duration = Duration::from_millis(200);

/// How long the tombstone sent at shutdown may take to reach the broker.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(5);

/// The directory topic of `app_id`, when the worker keeps one: its web
/// endpoint is on and some table is partitioned (a global table is
/// answered by every worker).
pub(crate) fn directory_topic(
    app_id: &str,
    settings: &Settings,
    tables: &Tables,
) -> Option<String> {
    let partitioned = tables.all().iter().any(|t| !t.def.kind.is_global());
    (settings.web_enabled && partitioned).then(|| format!("{app_id}-__workers"))
}

/// What one worker says of itself in the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Announcement {
    /// The `host:port` of its web endpoint.
    pub(crate) web: String,
    /// The partitions it owns, by partitioned table.
    pub(crate) tables: BTreeMap<String, BTreeSet<i32>>,
    /// When it said so, in milliseconds since the Unix epoch.
    pub(crate) at: i64,
}

/// This worker's view of the directory, and its own place in it.
#[derive(Debug)]
pub(crate) struct Peers {
    topic: Arc<str>,
    /// This worker's instance id: the key of its record.
    id: String,
    /// This worker's web address.
    web: String,
    /// The latest announcement of each worker, by instance id.
    known: Mutex<HashMap<String, Announcement>>,
}

impl Peers {
    /// The directory of `engine`'s worker, whose web endpoint serves on
    /// `web`; `None` when the app keeps none (see [`directory_topic`]).
    pub(crate) fn of(engine: &Engine, web: SocketAddr) -> Option<Arc<Peers>> {
        let topic = directory_topic(&engine.app.id, &engine.app.settings, &engine.core.tables)?;
        Some(Arc::new(Peers::new(topic, web)))
    }

    /// The directory `topic` as seen by the worker serving on `web`.
    pub(crate) fn new(topic: String, web: SocketAddr) -> Peers {
        if web.ip().is_unspecified() {
            tracing::warn!(
                "the web endpoint listens on {web}: other workers are told this address and \
                 cannot forward table queries to it; set `web_bind` to an address they reach"
            );
        }
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Peers {
            topic: Arc::from(topic),
            id: format!("{web}-{}-{started:x}", std::process::id()),
            web: web.to_string(),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// This worker's web address, as it announces it.
    pub(crate) fn address(&self) -> &str {
        &self.web
    }

    /// The web address of the worker that owns `partition` of `table`, by
    /// the newest announcement that claims it; `None` when no worker
    /// claims it, or when the newest claim is this worker's own (then the
    /// partition is moving: this worker's copy of the directory, or of
    /// the assignment, is behind).
    pub(crate) fn owner(&self, table: &str, partition: i32) -> Option<String> {
        let known = self.known();
        let (id, newest) = known
            .iter()
            .filter(|(_, a)| a.tables.get(table).is_some_and(|p| p.contains(&partition)))
            .max_by(|(a_id, a), (b_id, b)| (a.at, *a_id).cmp(&(b.at, *b_id)))?;
        (*id != self.id).then(|| newest.web.clone())
    }

    /// Takes in one record of the directory topic: an announcement, or a
    /// tombstone (the worker stopped). A record that does not parse is
    /// skipped with a warning.
    pub(crate) fn learn(&self, key: &[u8], value: Option<&[u8]>) {
        let id = String::from_utf8_lossy(key).into_owned();
        let Some(value) = value else {
            self.known().remove(&id);
            return;
        };
        match serde_json::from_slice::<Announcement>(value) {
            Ok(announcement) => {
                self.known().insert(id, announcement);
            }
            Err(e) => tracing::warn!(
                "skipping the record of worker {id:?} in `{}`: {e} (expected \
                 {{\"web\": \"host:port\", \"tables\": {{...}}, \"at\": ms}})",
                self.topic
            ),
        }
    }

    /// Keeps the directory of `engine`'s worker until it stops: reads new
    /// records every [`REFRESH_EVERY`], announces this worker's
    /// partitions when they changed, and at the stop removes its record.
    pub(crate) fn keep(
        self: Arc<Self>,
        engine: &Engine,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        self.run(
            engine.transport.clone(),
            engine.core.tables.clone(),
            engine.lifecycle.clone(),
            engine.core.clock.clone(),
            engine.app.id.clone(),
        )
    }

    async fn run(
        self: Arc<Self>,
        transport: Arc<dyn Transport>,
        tables: Arc<Tables>,
        lifecycle: Arc<Lifecycle>,
        clock: Clock,
        app_id: String,
    ) -> Result<()> {
        let reader: Arc<dyn ChangelogRead + Send + Sync> =
            Arc::from(transport.changelog_reader(&app_id)?);
        let producer = transport.producer();
        let mut next = 0;
        let mut announced = None;
        // A broker that is away fails every round: said once, until it
        // works again.
        let mut failing = false;
        let trouble = |what: &str, e: Error, failing: &mut bool| {
            if std::mem::replace(failing, true) {
                tracing::debug!("{what} `{}`: {e}; trying again", self.topic);
            } else {
                tracing::warn!("{what} `{}`: {e}; trying again", self.topic);
            }
        };
        loop {
            let me = self.clone();
            let read = reader.clone();
            let from = next;
            let refresh = tokio::task::spawn_blocking(move || me.read_from(&*read, from));
            let stop = lifecycle.stopped();
            futures_util::pin_mut!(stop);
            let read = match select(refresh, stop).await {
                Either::Left((read, _)) => read
                    .map_err(|e| Error::Transport {
                        what: "the thread reading the worker directory".into(),
                        source: Box::new(e),
                    })
                    .and_then(|read| read),
                Either::Right(_) => break,
            };
            match read {
                Ok(to) => next = to,
                Err(e) => trouble("reading the worker directory", e, &mut failing),
            }
            // Partitions still being recovered are not announced yet.
            if tables.has_owner() && !tables.is_recovering() {
                let claims = claims(&tables);
                if announced.as_ref() != Some(&claims) {
                    let announcement = Announcement {
                        web: self.web.clone(),
                        tables: claims.clone(),
                        at: clock.wall_ms(),
                    };
                    let value = serde_json::to_vec(&announcement).map_err(|e| {
                        Error::config(format!("encoding this worker's announcement: {e}"))
                    })?;
                    match producer.send(self.record(Some(value.into()))).await {
                        Ok(_) => {
                            tracing::info!(
                                "announced to the worker directory `{}`: {} owns {claims:?}",
                                self.topic,
                                self.web
                            );
                            announced = Some(claims);
                            failing = false;
                        }
                        Err(e) => {
                            trouble("announcing this worker's partitions in", e, &mut failing)
                        }
                    }
                }
            }
            let sleep = clock.sleep(REFRESH_EVERY);
            let stop = lifecycle.stopped();
            futures_util::pin_mut!(sleep, stop);
            if let Either::Right(_) = select(sleep, stop).await {
                break;
            }
        }
        if announced.is_some() {
            let farewell = producer.send(self.record(None));
            match tokio::time::timeout(FAREWELL_TIMEOUT, farewell).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(
                    "removing this worker from the directory `{}`: {e}; the other workers \
                     forward to it until the partitions' new owners announce",
                    self.topic
                ),
                Err(_) => tracing::warn!(
                    "removing this worker from the directory `{}`: no answer within {}s",
                    self.topic,
                    FAREWELL_TIMEOUT.as_secs()
                ),
            }
        }
        Ok(())
    }

    /// Reads the directory topic from offset `from` to its end; returns
    /// the offset to read from next.
    fn read_from(&self, reader: &dyn ChangelogRead, from: i64) -> Result<i64> {
        let (low, high) = reader.watermarks(&self.topic, 0)?;
        let from = from.max(low);
        if from >= high {
            return Ok(from);
        }
        let mut next = from;
        reader.read(&[(self.topic.clone(), 0, from, high)], &mut |message| {
            if let Some(key) = &message.key {
                self.learn(key, message.value.as_deref());
            }
            next = message.offset + 1;
            Ok(())
        })?;
        Ok(next)
    }

    /// This worker's record: `value`, or a tombstone.
    fn record(&self, value: Option<Bytes>) -> OutgoingRecord {
        OutgoingRecord {
            topic: self.topic.clone(),
            partition: Some(0),
            key: Some(Bytes::from(self.id.clone())),
            value,
            ..OutgoingRecord::default()
        }
    }

    fn known(&self) -> MutexGuard<'_, HashMap<String, Announcement>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The partitions this worker owns now, by partitioned table.
fn claims(tables: &Tables) -> BTreeMap<String, BTreeSet<i32>> {
    let owned = tables.owned_partitions();
    tables
        .all()
        .iter()
        .filter(|t| !t.def.kind.is_global())
        .map(|t| {
            let partitions = owned
                .iter()
                .copied()
                .filter(|p| (*p as u32) < t.partitions)
                .collect();
            (t.def.name.to_owned(), partitions)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::app::registry::{TableDef, TableKind};
    use crate::table::Table;
    use crate::transport::memory::{MemoryBroker, MemoryTransport};

    static COUNTS_DEF: TableDef = TableDef {
        name: "counts",
        partitions: Some(4),
        key_serializer: None,
        value_serializer: None,
        store: None,
        help: "",
        default: true,
        kind: TableKind::Table,
        types: crate::table::types::<String, u64>(),
        window: None,
        location: None,
    };
    static COUNTS: Table<String, u64> = Table::from_def(&COUNTS_DEF);

    fn announcement(web: &str, partitions: &[i32], at: i64) -> Vec<u8> {
        serde_json::to_vec(&Announcement {
            web: web.to_owned(),
            tables: BTreeMap::from([("counts".to_owned(), partitions.iter().copied().collect())]),
            at,
        })
        .unwrap()
    }

    #[test]
    fn the_newest_announcement_of_a_partition_wins_and_a_tombstone_withdraws_one() {
        let peers = Peers::new("app-__workers".into(), "127.0.0.1:7000".parse().unwrap());
        peers.learn(b"a", Some(&announcement("127.0.0.1:7001", &[0, 1], 100)));
        peers.learn(b"b", Some(&announcement("127.0.0.1:7002", &[1, 2], 200)));
        assert_eq!(peers.owner("counts", 0).as_deref(), Some("127.0.0.1:7001"));
        assert_eq!(peers.owner("counts", 1).as_deref(), Some("127.0.0.1:7002"));
        assert_eq!(peers.owner("counts", 2).as_deref(), Some("127.0.0.1:7002"));
        assert_eq!(peers.owner("counts", 3), None);
        assert_eq!(peers.owner("other", 0), None);
        // A's later announcement replaces its earlier one, and is newest.
        peers.learn(b"a", Some(&announcement("127.0.0.1:7001", &[1], 300)));
        assert_eq!(peers.owner("counts", 0), None);
        assert_eq!(peers.owner("counts", 1).as_deref(), Some("127.0.0.1:7001"));
        peers.learn(b"a", None);
        assert_eq!(peers.owner("counts", 1).as_deref(), Some("127.0.0.1:7002"));
        // This worker's own newest claim names no other worker: the
        // partition is moving.
        peers.learn(peers.id.as_bytes(), Some(&announcement("x", &[2], 400)));
        assert_eq!(peers.owner("counts", 2), None);
        // A record that is no announcement changes nothing.
        peers.learn(b"c", Some(b"not json"));
        assert_eq!(peers.owner("counts", 1).as_deref(), Some("127.0.0.1:7002"));
    }

    /// `GET path` with `headers` on `addr`: the status, the headers (names
    /// in lower case) and the body.
    async fn get(addr: &str, path: &str, headers: &str) -> (u16, String, String) {
        use std::io::{Read, Write};
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n");
        let addr = addr.to_owned();
        let response = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        })
        .await
        .unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_lowercase(), body.to_owned())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_query_for_a_key_owned_elsewhere_is_forwarded_once_and_a_forwarded_one_never_again() {
        // The owner: a stand-in answering every query with 7, noting the
        // forwarding header of each.
        let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let owner = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let owner_addr = owner.local_addr().unwrap().to_string();
        let noted = seen.clone();
        let router = axum::Router::new().route(
            "/tables/{table}/{key}",
            axum::routing::get(move |headers: axum::http::HeaderMap| async move {
                let forwarded = headers
                    .get(FORWARDED)
                    .map(|v| v.to_str().unwrap().to_owned());
                noted.lock().unwrap().push(forwarded);
                axum::Json(7)
            }),
        );
        tokio::spawn(async move { axum::serve(owner, router).await });

        // This worker holds the table but owns none of its partitions.
        let clock = Clock::real();
        let transport = Arc::new(MemoryTransport::new(MemoryBroker::new(4, clock.clone())));
        let engine =
            Engine::build(App::bare("peers-test").table(&COUNTS), transport, clock).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peers = Peers::of(&engine, addr).expect("a partitioned table: a directory");
        assert_eq!(&*peers.topic, "peers-test-__workers");
        peers.learn(b"owner", Some(&announcement(&owner_addr, &[0, 1, 2, 3], 1)));
        let state = crate::web::state_of(&engine).with_peers(Some(peers.clone()));
        tokio::spawn(crate::web::serve(listener, state));
        let addr = addr.to_string();

        let (status, head, body) = get(&addr, "/tables/counts/alice", "").await;
        assert_eq!((status, body.as_str()), (200, "7"), "{head}");
        assert!(
            head.contains(&format!("{ANSWERED_BY}: {owner_addr}")),
            "{head}"
        );
        assert_eq!(*seen.lock().unwrap(), [Some("1".to_owned())]);

        // Forwarded here already: answered here (421), not sent on.
        let (status, _, body) =
            get(&addr, "/tables/counts/alice", "x-faust-forwarded: 1\r\n").await;
        assert_eq!(status, 421, "{body}");
        assert!(body.contains("forwarded here"), "{body}");
        assert_eq!(seen.lock().unwrap().len(), 1);

        // The owner left: nobody to ask.
        peers.learn(b"owner", None);
        let (status, _, body) = get(&addr, "/tables/counts/alice", "").await;
        assert_eq!(status, 421, "{body}");
        assert!(body.contains("no worker has announced partition"), "{body}");
        assert_eq!(seen.lock().unwrap().len(), 1);
        engine.lifecycle.stop();
    }
}
