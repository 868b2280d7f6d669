//! Dead letters: events an agent could not process, kept with the reason.
//!
//! A dead-letter record has the failed event's original key, value and
//! headers, plus the headers below. It is written to the agent's
//! `dead_letter` topic, keyed like the original, so a tool (or another
//! agent) can inspect, fix and replay it. Dead-letter topics are created
//! to take records up to 16 MiB (`max.message.bytes`); a record larger
//! than the topic takes is written without its value, with
//! [`headers::VALUE_DROPPED`] saying so — it never blocks its partition.

/// Names of the headers added to a dead-letter record.
pub mod headers {
    /// The error message.
    pub const ERROR: &str = "faust.error";
    /// What failed: `decode` (malformed bytes, wrong type, missing field,
    /// empty payload), `validation` (a field constraint), `handler` (the
    /// agent's function returned an error) or `output` (its result did not
    /// encode). A record an agent produced that the broker does not take,
    /// after the client's retries, stops the worker instead: the events
    /// behind it are not committed.
    pub const ERROR_KIND: &str = "faust.error.kind";
    /// How many times the handler was tried.
    pub const ATTEMPTS: &str = "faust.error.attempts";
    /// The agent's name.
    pub const AGENT: &str = "faust.agent";
    /// The source topic.
    pub const TOPIC: &str = "faust.source.topic";
    /// The source partition.
    pub const PARTITION: &str = "faust.source.partition";
    /// The source offset.
    pub const OFFSET: &str = "faust.source.offset";
    /// The source record's timestamp (ms since the Unix epoch).
    pub const TIMESTAMP: &str = "faust.source.timestamp";
    /// Present when the original value was too large for the dead-letter
    /// topic and was left out; says how large it was.
    pub const VALUE_DROPPED: &str = "faust.error.value-dropped";
}
