#![deny(warnings)]

use faust::prelude::*;
use faust::{FieldRule, RecordSchema};

mod checks {
    pub fn account(a: &String) -> Result<(), &'static str> {
        if a.is_empty() { Err("empty") } else { Ok(()) }
    }
}

/// A postal address.
#[record(validate)]
#[derive(Debug, Clone)]
struct Address {
    #[validate(length(min = 1, max = 64))]
    city: String,
}

/// A tree of parts, holding itself.
#[record(validate)]
#[derive(Debug, Clone)]
struct Part {
    #[validate(nested)]
    children: Vec<Part>,
}

/// An order.
///
/// As the shop sends it.
#[record(
    validate,
    serializer = "msgpack",
    namespace = "shop.Order",
    timestamp = "at"
)]
#[derive(Debug, Clone)]
struct Order {
    /// Who pays.
    #[validate(custom = checks::account)]
    account: String,
    #[validate(range(min = 0, max = 1000))]
    amount: f64,
    #[validate(range(min = -10))]
    delta: i32,
    #[validate(length(max = 8), pattern = "^[A-Z]+$")]
    sku: String,
    #[validate(nested)]
    ship_to: Option<Address>,
    #[validate(nested)]
    stops: Vec<Address>,
    parts: Option<Box<Part>>,
    at: i64,
}

/// No rules.
#[record]
struct Plain {
    tags: std::collections::BTreeMap<String, Vec<(u8, char)>>,
}

fn schema<T: Payload>() -> &'static RecordSchema {
    T::SCHEMA.expect("a #[record] has a schema")
}

fn main() {
    let order = schema::<Order>();
    assert_eq!(order.name, "Order");
    assert_eq!(order.module, module_path!());
    assert_eq!(order.doc, "An order.\n\nAs the shop sends it.");
    assert_eq!(order.serializer, "msgpack");
    assert_eq!(order.namespace, Some("shop.Order"));
    assert_eq!(order.timestamp, Some("at"));
    assert!(order.validate);

    let shown: Vec<(&str, &str, Vec<String>)> = order
        .fields
        .iter()
        .map(|f| {
            (
                f.name,
                f.ty,
                f.rules.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    let rules = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        shown,
        [
            ("account", "String", rules(&["custom = checks::account"])),
            ("amount", "f64", rules(&["range(min = 0.0, max = 1000.0)"])),
            ("delta", "i32", rules(&["range(min = -10)"])),
            (
                "sku",
                "String",
                rules(&["length(max = 8)", "pattern = \"^[A-Z]+$\""])
            ),
            ("ship_to", "Option<Address>", rules(&["nested"])),
            ("stops", "Vec<Address>", rules(&["nested"])),
            ("parts", "Option<Box<Part>>", rules(&[])),
            ("at", "i64", rules(&[])),
        ]
    );
    assert_eq!(order.fields[0].doc, "Who pays.");
    assert_eq!(
        order.fields[1].rules,
        [FieldRule::Range {
            min: Some("0.0"),
            max: Some("1000.0")
        }]
    );

    // `nested` fields lead to their records, through Option and Vec.
    let nested: Vec<&str> = order.nested_records().iter().map(|r| r.name).collect();
    assert_eq!(nested, ["Address"]);
    assert_eq!(
        order
            .field("ship_to")
            .and_then(|f| f.nested_record())
            .map(|r| r.doc),
        Some("A postal address.")
    );
    // A field without `nested` leads nowhere, a self-holding record to itself.
    assert!(
        order
            .field("parts")
            .and_then(|f| f.nested_record())
            .is_none()
    );
    let part = schema::<Part>();
    assert_eq!(part.nested_records()[0].name, "Part");

    let plain = schema::<Plain>();
    assert!(!plain.validate);
    assert_eq!(
        plain.fields[0].ty,
        "std::collections::BTreeMap<String, Vec<(u8, char)>>"
    );
    assert!(plain.fields[0].rules.is_empty());

    // Built-in payloads have none.
    assert!(<String as Payload>::SCHEMA.is_none());
}
