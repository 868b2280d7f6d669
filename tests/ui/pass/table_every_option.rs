#![deny(warnings)]

use faust::prelude::*;

#[record]
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub count: u64,
    pub total: f64,
}

// Every option, in the long form.
#[table(
    name = "summaries",
    default,
    partitions = 8,
    key_serializer = "str",
    value_serializer = "msgpack",
    store = "rocksdb",
    help = "Order count and total per account"
)]
pub static SUMMARIES: Table<String, Summary>;

// `store = "memory"`, a `pub(crate)` static, and attributes on both sides
// of the macro's, which are kept.
/// When each account was last seen.
#[table(name = "last-seen", store = "memory")]
#[cfg_attr(test, allow(dead_code))]
pub(crate) static LAST_SEEN: Table<String, u64>;

fn main() {
    let def = SUMMARIES.def();
    assert_eq!(SUMMARIES.name(), "summaries");
    assert_eq!(def.name, "summaries");
    assert!(def.default);
    assert_eq!(def.partitions, Some(8));
    assert_eq!(def.key_serializer, Some("str"));
    assert_eq!(def.value_serializer, Some("msgpack"));
    assert_eq!(def.store, Some("rocksdb"));
    assert_eq!(def.help, "Order count and total per account");
    let location = def.location.expect("a declared table has a location");
    assert!(location.file.ends_with("table_every_option.rs"));
    assert_eq!(location.line, 13);

    assert_eq!(LAST_SEEN.def().store, Some("memory"));
    assert!(!LAST_SEEN.def().default);
}
