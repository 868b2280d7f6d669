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
//! | `page_views` | views per page per minute: tumbling and hopping windows over event time, `group_by`, final results only |
//! | `enrich` | a stream-table join: orders enriched from a `GlobalTable` of customers |
//! | `order_payments` | a stream-stream join within 10 minutes, and the orders left unpaid |
//! | `prices_rpc` | asking an agent and waiting for its reply (`ask`, `join`) |
//! | `scheduled` | a crontab in a time zone and a timer that runs on the group's leader only |
//! | `exactly_once` | exact table counts through crashes (exact state), and a reader dropping repeated sink records with `Dedup` |
//! | `transactions` | `processing_guarantee = "exactly_once"`: a ledger and balances in Kafka transactions, each payment once |
//! | `sensors` | a sensor (`App::sensor`) that logs the events an agent took too long over |
//! | `commands` | a `#[command]`: a subcommand of the program (`seed --count 5`) that sends orders an agent bills |
//! | `python_interop` | records shared with Python Faust (`namespace`, its JSON bytes both ways), an agent with `concurrency = 4` |
//! | `sliding_windows` | a sliding-window table: an alert when a user fails to log in more than three times in five minutes |
