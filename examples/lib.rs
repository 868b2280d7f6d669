//! Runnable examples of faust-rs, one feature each. Run one with
//! `cargo run --example NAME`; none needs a broker.
//!
//! | example | shows |
//! | --- | --- |
//! | `quickstart` | two agents chained through a sink, a timer producing demo input |
//! | `dead_letters` | validation, decode errors and handler errors going to a dead-letter topic |
//! | `stream_batches` | a stream agent batching with `take(n, within)` |
//! | `word_count` | the classic word count: re-keying by word, a `Table` in RocksDB |
//! | `account_totals` | a `Table` of totals per account, a sink of balances, bad payments dead-lettered |
//! | `reference_data` | a `GlobalTable` of rates set by one agent and read by another, a `SetTable` of tags |
