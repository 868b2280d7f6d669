//! Test-driver tests of records and codecs: Python Faust's JSON form in
//! both directions, msgpack topics, custom codecs, string keys.

use faust::codec::{Codec, erased_serde};
use faust::prelude::*;
use faust::testing::TestDriver;

/// The record as Python Faust's `class Order(faust.Record, namespace="shop.Order")` writes it.
#[record(namespace = "shop.Order")]
#[derive(Debug, Clone, PartialEq)]
struct Order {
    account: String,
    amount: f64,
}

#[record(namespace = "shop.Total")]
#[derive(Debug, Clone, PartialEq)]
struct Total {
    account: String,
    cents: i64,
}

#[agent(topic = "py-orders", sink = "py-totals")]
async fn total(order: Order) -> Result<Total> {
    Ok(Total {
        account: order.account,
        cents: (order.amount * 100.0).round() as i64,
    })
}

#[tokio::test]
async fn a_record_written_by_python_faust_decodes_and_ours_reads_in_python_form()
-> faust::Result<()> {
    let mut t = TestDriver::with_app(App::bare("py").topic_partitions(1).agent(&total::AGENT));
    // Bytes exactly as Python Faust (faust-streaming) serializes a Record with json.
    let from_python = br#"{"account": "alice", "amount": 5.5, "__faust": {"ns": "shop.Order"}}"#;
    t.send_raw(
        "py-orders",
        Some("alice".into()),
        Some(faust::Bytes::from_static(from_python)),
        Headers::new(),
    )
    .await;
    t.run_until_idle().await?;

    t.topic::<Total>("py-totals").assert_values(&[Total {
        account: "alice".into(),
        cents: 550,
    }]);
    // What we wrote carries Faust's metadata, so a Python Faust app decodes it as shop.Total.
    let raw = t.records("py-totals");
    let json: serde_json::Value = serde_json::from_slice(raw[0].value.as_deref().unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"account": "alice", "cents": 550, "__faust": {"ns": "shop.Total"}})
    );
    Ok(())
}

#[record(serializer = "msgpack")]
#[derive(Debug, Clone, PartialEq)]
struct Reading {
    sensor: String,
    celsius: f32,
}

#[agent(topic = "readings", sink = "fahrenheit")]
async fn to_fahrenheit(reading: Reading) -> Result<f32> {
    Ok(reading.celsius * 9.0 / 5.0 + 32.0)
}

#[tokio::test]
async fn a_msgpack_record_round_trips_through_an_agent() -> faust::Result<()> {
    let mut t = TestDriver::for_agent(&to_fahrenheit::AGENT);
    t.send(
        "readings",
        "s1",
        Reading {
            sensor: "s1".into(),
            celsius: 100.0,
        },
    )
    .await;
    t.run_until_idle().await?;
    t.topic::<f32>("fahrenheit").assert_values(&[212.0]);
    // The input is MessagePack with named fields, as Python Faust's msgpack codec writes dicts.
    let raw = t.records("readings");
    let bytes = raw[0].value.as_deref().unwrap();
    assert_eq!(bytes[0] & 0xf0, 0x80, "a msgpack fixmap");
    assert!(bytes.windows(6).any(|w| w == b"sensor"));
    Ok(())
}

/// A framing codec: one version byte, then JSON.
struct VersionedJson;

impl Codec for VersionedJson {
    fn encode(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>, BoxError> {
        let mut out = vec![1u8];
        serde_json::to_writer(&mut out, value)?;
        Ok(out)
    }

    fn decode(
        &self,
        bytes: &[u8],
        seed: &mut dyn FnMut(
            &mut dyn erased_serde::Deserializer<'_>,
        ) -> Result<(), erased_serde::Error>,
    ) -> Result<(), BoxError> {
        match bytes.split_first() {
            Some((1, json)) => {
                let mut de = serde_json::Deserializer::from_slice(json);
                seed(&mut <dyn erased_serde::Deserializer>::erase(&mut de))?;
                Ok(())
            }
            Some((v, _)) => Err(format!("unknown version byte {v}").into()),
            None => Err("no version byte".into()),
        }
    }
}

#[topic(name = "versioned", value_serializer = "versioned-json")]
static VERSIONED: Topic<String, Total>;

#[agent(
    topic = "versioned",
    sink = "versioned-accounts",
    dead_letter = "versioned-dlq"
)]
async fn read_versioned(total: Total) -> Result<String> {
    Ok(total.account)
}

#[tokio::test]
async fn a_custom_codec_registered_by_name_encodes_and_decodes() -> faust::Result<()> {
    let app = App::bare("custom")
        .topic_partitions(1)
        .codec("versioned-json", VersionedJson)
        .topic(&VERSIONED)
        .agent(&read_versioned::AGENT);
    let mut t = TestDriver::with_app(app);
    t.send(
        "versioned",
        "k",
        Total {
            account: "bob".into(),
            cents: 1,
        },
    )
    .await;
    t.send_raw(
        "versioned",
        Some("k".into()),
        Some("\u{2}{}".into()),
        Headers::new(),
    )
    .await;
    t.run_until_idle().await?;
    assert_eq!(t.records("versioned")[0].value.as_deref().unwrap()[0], 1);
    t.topic::<String>("versioned-accounts")
        .assert_values(&["bob".into()]);
    let letters = t.dead_letters("versioned-dlq");
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].error().contains("unknown version byte 2"),
        "{}",
        letters[0].error()
    );
    Ok(())
}

#[agent(topic = "counts", sink = "count-keys")]
async fn key_of(event: Event<u64, u64>) -> Result<String> {
    Ok(format!("{:?}:{}", event.key, event.value))
}

#[tokio::test]
async fn numeric_keys_and_values_use_their_text_and_json_forms() -> faust::Result<()> {
    let mut t = TestDriver::for_agent(&key_of::AGENT);
    t.send("counts", 7u64, 42u64).await;
    t.run_until_idle().await?;
    t.topic::<String>("count-keys")
        .assert_values(&["Some(7):42".into()]);
    let raw = &t.records("counts")[0];
    assert_eq!(raw.key.as_deref(), Some(&b"7"[..]));
    assert_eq!(raw.value.as_deref(), Some(&b"42"[..]));
    Ok(())
}
