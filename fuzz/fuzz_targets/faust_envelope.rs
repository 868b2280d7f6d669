//! Python Faust's JSON and MessagePack forms of a record, built from any
//! `PyOrder`: each record (the order, its address, each item) carries a
//! `__faust` entry anywhere among its fields — `{"ns": ...}` with any
//! namespace, with more keys, or any other value — and fields this side
//! does not know, written as Python's `json.dumps` writes them (ASCII
//! escapes, surrogate pairs, `1e-05`, either separator style). Decoding
//! must give exactly the order (or exactly its validation failures): the
//! envelope and unknown fields never change what is read.

#![no_main]

use faust::Payload;
use faust::codec::CodecRef;
use faust_rs_fuzz::{Expected, PyOrder, check_decode};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Number, Value};


/// What a Python app may add to one record.
#[derive(Arbitrary, Debug)]
struct Envelope {
    /// Where the `__faust` entry goes among the fields.
    at: u8,
    meta: Meta,
    /// Fields of a newer version of the record.
    unknown: Vec<(String, Junk)>,
}

/// The `__faust` entry.
#[derive(Arbitrary, Debug)]
enum Meta {
    Absent,
    Ns(String),
    NsAndMore(String, Vec<(String, Junk)>),
    Other(Junk),
}

/// Any JSON value.
#[derive(Arbitrary, Debug)]
enum Junk {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<Junk>),
    Map(Vec<(String, Junk)>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    order: PyOrder,
    top: Envelope,
    address: Envelope,
    items: Vec<Envelope>,
    /// `json.dumps`' default separators (`", "`, `": "`), else compact.
    spaced: bool,
    /// `json.dumps`' default `ensure_ascii=True`.
    ascii: bool,
}

fuzz_target!(|input: Input| {
    let mut input = input;
    // JSON has no NaN or infinity (Python writes them as words no JSON
    // reader takes): the order a Python app can send has finite numbers.
    let finite = |x: &mut f64| {
        if !x.is_finite() {
            *x = 0.0;
        }
    };
    finite(&mut input.order.amount);
    input.order.items.iter_mut().for_each(|item| finite(&mut item.price));
    let fields = serde_json::to_value(&input.order).expect("an order is JSON");
    let python = python_form(&fields, &input);
    let mut text = String::new();
    write_json(&mut text, &python, input.spaced, input.ascii);
    let validation = input.order.validate();
    let expected = Expected::Value(input.order.clone(), validation.clone());
    check_decode(&CodecRef::JSON, text.as_bytes(), expected, "PyOrder");

    let msgpack = rmp_serde::to_vec_named(&python).expect("a JSON value is MessagePack");
    let expected = Expected::Value(input.order, validation);
    check_decode(&CodecRef::MSGPACK, &msgpack, expected, "PyOrder");
});

/// A JSON document whose maps keep the order they are written in.
#[derive(Debug)]
enum Doc {
    Map(Vec<(String, Doc)>),
    List(Vec<Doc>),
    Leaf(Value),
}

impl Doc {
    fn from_value(value: &Value) -> Doc {
        match value {
            Value::Object(map) => {
                Doc::Map(map.iter().map(|(k, v)| (k.clone(), Doc::from_value(v))).collect())
            }
            Value::Array(list) => Doc::List(list.iter().map(Doc::from_value).collect()),
            leaf => Doc::Leaf(leaf.clone()),
        }
    }
}

impl serde::Serialize for Doc {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Doc::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Doc::List(list) => {
                let mut seq = serializer.serialize_seq(Some(list.len()))?;
                for v in list {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Doc::Leaf(value) => value.serialize(serializer),
        }
    }
}

/// The order as a Python app writes it: each record with its envelope.
fn python_form(fields: &Value, input: &Input) -> Doc {
    let mut doc = Doc::from_value(fields);
    if let Doc::Map(entries) = &mut doc {
        for (name, value) in entries.iter_mut() {
            match (name.as_str(), value) {
                ("address", address @ Doc::Map(_)) => {
                    add_envelope(address, &input.address, "shop.models.Address");
                }
                ("items", Doc::List(items)) => {
                    for (i, item) in items.iter_mut().enumerate() {
                        if let Some(envelope) = input.items.get(i % input.items.len().max(1)) {
                            add_envelope(item, envelope, "shop.models.Item");
                        }
                    }
                }
                _ => {}
            }
        }
    }
    add_envelope(&mut doc, &input.top, "shop.models.Order");
    doc
}

/// Adds `envelope`'s unknown fields and `__faust` entry to a record.
fn add_envelope(record: &mut Doc, envelope: &Envelope, default_ns: &str) {
    let Doc::Map(entries) = record else {
        return;
    };
    for (name, junk) in &envelope.unknown {
        // A newer record has other fields, never the same one twice.
        if name == "__faust" || entries.iter().any(|(n, _)| n == name) {
            continue;
        }
        entries.push((name.clone(), Doc::Leaf(junk.to_value())));
    }
    let meta = match &envelope.meta {
        Meta::Absent => None,
        Meta::Ns(ns) if ns.is_empty() => Some(ns_map(default_ns, &[])),
        Meta::Ns(ns) => Some(ns_map(ns, &[])),
        Meta::NsAndMore(ns, more) => Some(ns_map(ns, more)),
        Meta::Other(junk) => Some(junk.to_value()),
    };
    if let Some(meta) = meta {
        let at = usize::from(envelope.at) % (entries.len() + 1);
        entries.insert(at, ("__faust".to_owned(), Doc::Leaf(meta)));
    }
}

fn ns_map(ns: &str, more: &[(String, Junk)]) -> Value {
    let mut map = Map::new();
    for (k, v) in more {
        map.insert(k.clone(), v.to_value());
    }
    map.insert("ns".to_owned(), Value::String(ns.to_owned()));
    Value::Object(map)
}

impl Junk {
    fn to_value(&self) -> Value {
        match self {
            Junk::Null => Value::Null,
            Junk::Bool(b) => Value::Bool(*b),
            Junk::Int(i) => Value::Number((*i).into()),
            // `json.dumps` writes NaN and infinities as non-JSON words: a
            // Python app that sends them sends what no JSON reader takes.
            Junk::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Junk::Text(t) => Value::String(t.clone()),
            Junk::List(list) => Value::Array(list.iter().map(Junk::to_value).collect()),
            Junk::Map(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
        }
    }
}

/// Writes `doc` as Python's `json.dumps` does.
fn write_json(out: &mut String, doc: &Doc, spaced: bool, ascii: bool) {
    let (comma, colon) = if spaced { (", ", ": ") } else { (",", ":") };
    match doc {
        Doc::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                write_string(out, k, ascii);
                out.push_str(colon);
                write_json(out, v, spaced, ascii);
            }
            out.push('}');
        }
        Doc::List(list) => {
            out.push('[');
            for (i, v) in list.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                write_json(out, v, spaced, ascii);
            }
            out.push(']');
        }
        Doc::Leaf(value) => write_value(out, value, spaced, ascii),
    }
}

fn write_value(out: &mut String, value: &Value, spaced: bool, ascii: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&python_number(n)),
        Value::String(s) => write_string(out, s, ascii),
        nested => write_json(out, &Doc::from_value(nested), spaced, ascii),
    }
}

/// A number as Python's `repr` writes it: `1e-05`, `1.5e+16`, `5.0`.
fn python_number(n: &Number) -> String {
    let text = n.to_string();
    if !n.is_f64() {
        return text;
    }
    match text.split_once('e') {
        None => text,
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exponent.trim_start_matches('+')),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
    }
}

/// A string as `json.dumps` writes it; with `ascii`, every non-ASCII
/// character as `\uXXXX` (astral ones as a surrogate pair).
fn write_string(out: &mut String, s: &str, ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
