#![deny(warnings)]

use faust::prelude::*;

#[table("totals")]
static TOTALS: Table<String, f64>;

fn main() {
    let def = TOTALS.def();
    assert_eq!(TOTALS.name(), "totals");
    assert_eq!(def.partitions, None);
    assert_eq!(def.key_serializer, None);
    assert_eq!(def.value_serializer, None);
    assert_eq!(def.store, None);
    assert_eq!(def.help, "");
    assert!(!def.default);
}
