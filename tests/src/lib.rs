//! Shared helpers for the integration tests and their worker binaries.

use faust::__private::{AgentDef, Repartition, SinkRef};

/// `def` with `suffix` appended to its topic, sink, dead-letter and
/// `through` topic names, so each test has its own topics on a shared
/// broker.
///
/// Topic names are literals in `#[agent]`, and the runtime has no setting
/// that renames them yet, so this copies the generated definition (a
/// `#[doc(hidden)]` type whose layout may change). Leaks a few strings,
/// once per process.
pub fn with_suffix(def: &'static AgentDef, suffix: &str) -> &'static AgentDef {
    if suffix.is_empty() {
        return def;
    }
    let rename = |topic: &str| -> &'static str { format!("{topic}{suffix}").leak() };
    let topics: Vec<&'static str> = def.topics.iter().map(|t| rename(t)).collect();
    let sinks: Vec<SinkRef> = def
        .sinks
        .iter()
        .map(|sink| match sink {
            SinkRef::Topic(topic) => SinkRef::Topic(rename(topic)),
            other => *other,
        })
        .collect();
    let repartition = def.repartition.map(|r| match r {
        Repartition::Through { topic } => Repartition::Through {
            topic: rename(topic),
        },
        group_by => group_by,
    });
    Box::leak(Box::new(AgentDef {
        topics: topics.leak(),
        sinks: sinks.leak(),
        dead_letter: def.dead_letter.map(rename),
        repartition,
        ..*def
    }))
}
