//! Micro-benchmarks of the pieces every event goes through (issue 8).
//!
//! `cargo bench --workspace --bench hot` (about a minute). Each group's
//! throughput is in elements: records decoded, records acked, writes
//! stored, events assigned to windows.
//!
//! * `codec`: decoding and validating a `#[record(validate)]` order as
//!   JSON (as Rust writes it, and as Python Faust writes it: spaced, with
//!   its `__faust` namespace), as MessagePack, a record that fails
//!   validation (the dead-letter path), and encoding one for a sink;
//!   beside them serde alone and validation alone, to split the cost.
//! * `acks`: the commit watermark of one partition — track a batch, ack
//!   every record in order, out of order as `concurrency = 16` finishes
//!   them, and in reverse — and the committable offsets of 256
//!   partitions.
//! * `store`: table writes into the memory and the RocksDB partition
//!   store, one at a time and as a commit writes them (writes, their
//!   changelog acknowledgements, one flush); the flush's `WriteBatch`
//!   alone, with the keys in write order and in key order.
//! * `window`: the windows an event falls in (tumbling 1 min; hopping
//!   10 min every 1 min), with and without their store keys.
//!
//! The crate-private pieces are reached through the hidden
//! `faust_rs_runtime::__bench` module.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main,
};
use faust_rs_runtime::__bench::{Store, Tracker, window_store_key, windows_for};
use faust_rs_runtime::codec::{CodecRef, Payload};
use faust_rs_runtime::window::{LatePolicy, TimeSource, WindowDef, WindowKind};

/// Distinct inputs cycled through, so no run decodes the same bytes twice
/// in a row.
const INPUTS: usize = 1024;
/// Records per acked batch and writes per commit.
const BATCH: u64 = 1000;
/// Distinct table keys the writes go to.
const KEYS: usize = 10_000;

/// One line of an order.
#[faust::record(validate)]
#[derive(Debug, Clone)]
struct LineItem {
    #[validate(pattern = "^[A-Z]{3}-[0-9]+$")]
    sku: String,
    #[validate(range(min = 1, max = 1000))]
    quantity: u32,
    #[validate(range(min = 0))]
    price: f64,
}

/// An order, as a shop's Python Faust app sends it.
#[faust::record(validate, namespace = "shop.models.Order")]
#[derive(Debug, Clone)]
struct Order {
    #[validate(pattern = "^ord-[0-9]+$")]
    id: String,
    #[validate(length(min = 1, max = 32))]
    account: String,
    #[validate(range(min = 0, max = 1_000_000))]
    amount: f64,
    #[validate(length(min = 3, max = 3))]
    currency: String,
    created_at: i64,
    #[validate(nested)]
    items: Vec<LineItem>,
}

fn order(i: usize) -> Order {
    Order {
        id: format!("ord-{}", 1_000_000 + i),
        account: format!("acct-{:05}", i % 977),
        amount: (i % 5000) as f64 * 1.25 + 0.99,
        currency: "EUR".to_owned(),
        created_at: 1_700_000_000_000 + i as i64 * 37,
        items: (0..1 + i % 3)
            .map(|n| LineItem {
                sku: format!("SKU-{}", 100 + (i + n) % 900),
                quantity: 1 + (n as u32 % 4),
                price: 9.5 + n as f64,
            })
            .collect(),
    }
}

/// The order as Python Faust's `json` codec writes it: `json.dumps`'
/// spacing, the fields, then `__faust`.
fn python_json(o: &Order) -> Vec<u8> {
    let items: Vec<String> = o
        .items
        .iter()
        .map(|i| {
            format!(
                r#"{{"sku": "{}", "quantity": {}, "price": {:?}, "__faust": {{"ns": "shop.models.LineItem"}}}}"#,
                i.sku, i.quantity, i.price
            )
        })
        .collect();
    format!(
        r#"{{"id": "{}", "account": "{}", "amount": {:?}, "currency": "{}", "created_at": {}, "items": [{}], "__faust": {{"ns": "shop.models.Order"}}}}"#,
        o.id,
        o.account,
        o.amount,
        o.currency,
        o.created_at,
        items.join(", ")
    )
    .into_bytes()
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

fn codec(c: &mut Criterion) {
    let orders: Vec<Order> = (0..INPUTS).map(order).collect();
    let rust_json: Vec<Vec<u8>> = orders
        .iter()
        .map(|o| serde_json::to_vec(o).expect("an order encodes"))
        .collect();
    let python: Vec<Vec<u8>> = orders.iter().map(python_json).collect();
    let msgpack: Vec<Vec<u8>> = orders
        .iter()
        .map(|o| {
            CodecRef::MSGPACK
                .encode(o)
                .expect("an order encodes")
                .to_vec()
        })
        .collect();
    let invalid: Vec<Vec<u8>> = orders
        .iter()
        .map(|o| {
            let mut o = o.clone();
            o.amount = -o.amount;
            serde_json::to_vec(&o).expect("an order encodes")
        })
        .collect();
    // Every input decodes and validates (or, for `invalid`, fails validation).
    for (i, bytes) in rust_json.iter().chain(&python).enumerate() {
        let o: Order = CodecRef::JSON.decode(Some(bytes)).expect("a valid order");
        assert_eq!(o.id, orders[i % INPUTS].id);
    }
    assert!(CodecRef::JSON.decode::<Order>(Some(&invalid[0])).is_err());

    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));
    decode(&mut g, "decode_validate_json", CodecRef::JSON, &rust_json);
    decode(
        &mut g,
        "decode_validate_json_python_faust",
        CodecRef::JSON,
        &python,
    );
    decode(
        &mut g,
        "decode_validate_msgpack",
        CodecRef::MSGPACK,
        &msgpack,
    );
    decode(
        &mut g,
        "decode_validation_failure_json",
        CodecRef::JSON,
        &invalid,
    );
    // The two halves of the first figure: serde alone, validation alone.
    let mut i = 0;
    g.bench_function("serde_json_only", |b| {
        b.iter(|| {
            i = (i + 1) % INPUTS;
            black_box(serde_json::from_slice::<Order>(black_box(&rust_json[i])))
        })
    });
    g.bench_function("validate_only", |b| {
        b.iter(|| {
            i = (i + 1) % INPUTS;
            black_box(black_box(&orders[i]).validate())
        })
    });
    g.bench_function("encode_json_with_namespace", |b| {
        b.iter(|| {
            i = (i + 1) % INPUTS;
            black_box(CodecRef::JSON.encode(black_box(&orders[i])))
        })
    });
    // Beside it, serde_json without the `__faust` entry (no flatten).
    g.bench_function("serde_json_to_vec_only", |b| {
        b.iter(|| {
            i = (i + 1) % INPUTS;
            black_box(serde_json::to_vec(black_box(&orders[i])))
        })
    });
    g.finish();
}

/// Decodes and validates an `Order` from each of `inputs` in turn.
fn decode(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, codec: CodecRef, inputs: &[Vec<u8>]) {
    let mut i = 0;
    g.bench_function(name, |b| {
        b.iter(|| {
            i = (i + 1) % INPUTS;
            black_box(codec.decode::<Order>(Some(black_box(&inputs[i]))))
        })
    });
}

fn acks(c: &mut Criterion) {
    let topic: Arc<str> = Arc::from("orders");
    let mut g = c.benchmark_group("acks");
    g.throughput(Throughput::Elements(BATCH));
    // Each run tracks the next batch of offsets of one partition (never
    // rewinding it) and acks all of them, in the order given.
    let mut run = |name: &str, order: Vec<i64>| {
        let tracker = Tracker::default();
        let acks = tracker.partition(&topic, 0);
        let mut base = 0i64;
        g.bench_function(name, |b| {
            b.iter(|| {
                acks.track_all(base..base + BATCH as i64, 1);
                for o in &order {
                    acks.ack(base + o);
                }
                base += BATCH as i64;
                black_box(tracker.take_committable())
            })
        });
    };
    run("track_ack_in_order_1000", (0..BATCH as i64).collect());
    // `concurrency = 16`: each group of 16 finishes last-started first.
    let shuffled = (0..BATCH as i64)
        .collect::<Vec<_>>()
        .chunks(16)
        .flat_map(|c| c.iter().rev().copied().collect::<Vec<_>>())
        .collect();
    run("track_ack_out_of_order_c16_1000", shuffled);
    run("track_ack_reversed_1000", (0..BATCH as i64).rev().collect());

    // 256 partitions (8 topics × 32): one record tracked and acked in
    // each, then the committable offsets taken; and taken again with
    // nothing moved (every commit interval of an idle worker).
    const PARTITIONS: u64 = 256;
    let tracker = Tracker::default();
    let parts: Vec<_> = (0..8)
        .flat_map(|t| {
            let topic: Arc<str> = Arc::from(format!("topic-{t}"));
            (0..32).map(move |p| (topic.clone(), p))
        })
        .map(|(topic, p)| tracker.partition(&topic, p))
        .collect();
    g.throughput(Throughput::Elements(PARTITIONS));
    let mut next = 0i64;
    g.bench_function("commit_256_partitions_moved", |b| {
        b.iter(|| {
            for p in &parts {
                p.track_all([next], 1);
                p.ack(next);
            }
            next += 1;
            let moved = tracker.take_committable();
            debug_assert_eq!(moved.len(), PARTITIONS as usize);
            black_box(moved)
        })
    });
    g.bench_function("commit_256_partitions_idle", |b| {
        b.iter(|| black_box(tracker.take_committable()))
    });
    g.finish();
}

/// Table keys and values as the `str` and `json` codecs write them.
fn table_keys() -> (Vec<Bytes>, Vec<Bytes>) {
    let keys = (0..KEYS)
        .map(|i| Bytes::from(format!("acct-{i:05}")))
        .collect();
    let values = (0..KEYS)
        .map(|i| Bytes::from(format!("{}", 1_000_000 + i * 7)))
        .collect();
    (keys, values)
}

fn store_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("faust-rs-bench-hot-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn store(c: &mut Criterion) {
    let (keys, values) = table_keys();
    let source: (Arc<str>, i32) = (Arc::from("orders"), 0);
    let mut g = c.benchmark_group("store");

    // One write, with its origin (exact state, the default), as a
    // handler's `table[key] = value` makes it.
    g.throughput(Throughput::Elements(1));
    let memory = Store::memory("counts[0]");
    let mut i = 0usize;
    g.bench_function("memory_put", |b| {
        b.iter(|| {
            i += 1;
            let k = i % KEYS;
            black_box(memory.write(
                keys[k].clone(),
                Some(values[k].clone()),
                Some((source.clone(), i as i64)),
            ))
        })
    });
    // At least once: a full buffer (16,384 writes) goes to disk in one
    // batch; that share of the cost is in the figure.
    let dir = store_dir("put");
    let rocks = Store::rocksdb("counts[0]", &dir).expect("a RocksDB store opens");
    rocks.set_exact(false);
    g.bench_function("rocksdb_put_at_least_once", |b| {
        b.iter(|| {
            i += 1;
            let k = i % KEYS;
            black_box(rocks.write(
                keys[k].clone(),
                Some(values[k].clone()),
                Some((source.clone(), i as i64)),
            ))
        })
    });
    drop(rocks);
    let _ = std::fs::remove_dir_all(&dir);

    // A commit: BATCH writes of BATCH events, each acknowledged by the
    // broker at its changelog offset, then one flush that covers them.
    g.throughput(Throughput::Elements(BATCH));
    let commit = |store: &Store, event: &mut i64| {
        let first = *event;
        for _ in 0..BATCH {
            let k = (*event as usize * 7919) % KEYS;
            let seq = store
                .write(
                    keys[k].clone(),
                    Some(values[k].clone()),
                    Some((source.clone(), *event)),
                )
                .expect("a buffered write");
            store.delivered(seq, *event);
            *event += 1;
        }
        debug_assert!(*event > first);
        let committed = HashMap::from([(source.clone(), *event)]);
        store
            .flush(&committed)
            .expect("the commit's batch is written");
    };
    let mut event = 0i64;
    let memory = Store::memory("counts[0]");
    g.bench_function("memory_commit_1000", |b| {
        b.iter(|| commit(&memory, &mut event))
    });
    for exact in [true, false] {
        let name = if exact { "exact" } else { "at_least_once" };
        let dir = store_dir(name);
        let rocks = Store::rocksdb("counts[0]", &dir).expect("a RocksDB store opens");
        rocks.set_exact(exact);
        g.bench_function(format!("rocksdb_commit_1000_{name}"), |b| {
            b.iter(|| commit(&rocks, &mut event))
        });
        drop(rocks);
        let _ = std::fs::remove_dir_all(&dir);
    }
    // The flush alone: one `WriteBatch` of BATCH buffered, acknowledged
    // writes (exact state), the writes made outside the timing; then the
    // same keys buffered in key order, to show what RocksDB's memtable
    // gains from a batch written sorted.
    for sorted in [false, true] {
        let name = if sorted {
            "rocksdb_flush_1000_exact_keys_in_order"
        } else {
            "rocksdb_flush_1000_exact"
        };
        let dir = store_dir(name);
        let rocks = Store::rocksdb("counts[0]", &dir).expect("a RocksDB store opens");
        rocks.set_exact(true);
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut batch: Vec<usize> = (0..BATCH as usize)
                        .map(|n| ((event as usize + n) * 7919) % KEYS)
                        .collect();
                    if sorted {
                        batch.sort_unstable();
                    }
                    for k in batch {
                        let seq = rocks
                            .write(
                                keys[k].clone(),
                                Some(values[k].clone()),
                                Some((source.clone(), event)),
                            )
                            .expect("a buffered write");
                        rocks.delivered(seq, event);
                        event += 1;
                    }
                    HashMap::from([(source.clone(), event)])
                },
                |committed| rocks.flush(&committed).expect("the batch is written"),
                BatchSize::PerIteration,
            )
        });
        drop(rocks);
        let _ = std::fs::remove_dir_all(&dir);
    }
    g.finish();
}

fn window_def(kind: WindowKind) -> WindowDef {
    WindowDef {
        kind,
        expires: Some(Duration::from_secs(3600)),
        grace: None,
        time: TimeSource::Event,
        late: LatePolicy::Drop,
        on_close: None,
        on_late: None,
        emit_closed: None,
    }
}

fn window(c: &mut Criterion) {
    let minute = Duration::from_secs(60);
    let tumbling = window_def(WindowKind::Tumbling { size: minute });
    let hopping = window_def(WindowKind::Hopping {
        size: 10 * minute,
        step: minute,
    });
    assert_eq!(windows_for(&tumbling, 0).len(), 1);
    assert_eq!(windows_for(&hopping, 30_000).len(), 10);
    // Event times a few hundred ms apart, as a busy topic's are.
    let times: Vec<i64> = (0..INPUTS as i64)
        .map(|i| 1_700_000_000_000 + i * 337)
        .collect();
    let key = b"acct-00042";
    let mut g = c.benchmark_group("window");
    g.throughput(Throughput::Elements(1));
    for (name, def) in [
        ("tumbling_1m", &tumbling),
        ("hopping_10m_every_1m", &hopping),
    ] {
        let mut i = 0;
        g.bench_function(format!("{name}_assign"), |b| {
            b.iter(|| {
                i = (i + 1) % INPUTS;
                black_box(windows_for(def, black_box(times[i])))
            })
        });
        g.bench_function(format!("{name}_assign_and_store_keys"), |b| {
            b.iter(|| {
                i = (i + 1) % INPUTS;
                for w in windows_for(def, black_box(times[i])) {
                    black_box(window_store_key(w.start, key));
                }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = hot;
    config = config();
    targets = codec, acks, store, window
}
criterion_main!(hot);
