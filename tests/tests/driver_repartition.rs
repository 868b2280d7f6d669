//! Repartitioning under the test driver: `group_by` re-keys an agent's
//! events through `<app id>-<agent>-<name>-repartition` so a table keyed
//! by something else than the input's key stays co-partitioned; `through`
//! sends them through a named topic as they are.

use faust::prelude::*;
use faust::testing::TestDriver;

/// A click, keyed by user on its topic.
#[record]
#[derive(Debug, Clone, PartialEq)]
struct Click {
    user: String,
    page: String,
}

fn page_of(click: &Click) -> String {
    click.page.clone()
}

#[table(name = "clicks-per-page", default, partitions = 4)]
static PER_PAGE: Table<String, u64>;

/// Counts clicks per page; the input is keyed by user.
#[agent(topic = "clicks", group_by = page_of, dead_letter = "clicks-dlq")]
async fn count_pages(click: Event<Click>) -> Result<()> {
    // Each page's events all come from one partition: the page's.
    assert_eq!(click.key.as_deref(), Some(click.value.page.as_str()));
    PER_PAGE.update(&click.value.page, |n| *n += 1)?;
    Ok(())
}

fn click(user: &str, page: &str) -> Click {
    Click {
        user: user.into(),
        page: page.into(),
    }
}

fn clicks() -> Vec<Click> {
    let mut out = Vec::new();
    for (i, user) in ["ann", "bob", "cid", "dee", "eve", "fay"]
        .iter()
        .enumerate()
    {
        for page in ["home", "cart", "help", "about"].iter().take(1 + i % 4) {
            out.push(click(user, page));
        }
    }
    out
}

#[tokio::test]
async fn group_by_rekeys_events_so_a_table_by_another_key_counts_right() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("regroup")
            .topic_partitions(4)
            .table(&PER_PAGE)
            .agent(&count_pages::AGENT),
    );
    let all = clicks();
    for c in &all {
        t.send("clicks", c.user.as_str(), c.clone()).await;
    }
    t.run_until_idle().await?;
    for page in ["home", "cart", "help", "about"] {
        let want = all.iter().filter(|c| c.page == page).count() as u64;
        assert_eq!(t.table(&PER_PAGE).get(page), Some(want), "{page}");
    }
    // The repartition topic holds every click, keyed by page, each page in
    // the partition its key hashes to.
    let through = t.topic::<Click>("regroup-count_pages-page-of-repartition");
    through.assert_len(all.len());
    for event in through.events() {
        assert_eq!(event.key.as_deref(), Some(event.value.page.as_str()));
        assert_eq!(
            event.partition(),
            faust::partition_for_key(event.message().key.as_deref().unwrap_or_default(), 4)
        );
    }
    // Both stages committed everything.
    let source_committed: i64 = (0..4).map(|p| t.committed("clicks", p).unwrap_or(0)).sum();
    assert_eq!(source_committed, all.len() as i64);
    Ok(())
}

#[tokio::test]
async fn a_record_the_key_function_cannot_read_goes_to_the_dead_letter_topic() -> faust::Result<()>
{
    let mut t = TestDriver::with_app(
        App::bare("regroup-bad")
            .topic_partitions(4)
            .table(&PER_PAGE)
            .agent(&count_pages::AGENT),
    );
    t.send("clicks", "ann", click("ann", "home")).await;
    t.send_raw(
        "clicks",
        Some("bob".into()),
        Some("{not json".into()),
        Default::default(),
    )
    .await;
    t.send("clicks", "cid", click("cid", "home")).await;
    t.run_until_idle().await?;
    let dead = t.dead_letters("clicks-dlq");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].kind(), "decode");
    assert_eq!(dead[0].agent(), "count_pages");
    assert_eq!(t.table(&PER_PAGE).get("home"), Some(2));
    Ok(())
}

// --------------------------------------------------------------- through

#[agent(topic = "orders", through = "orders-checked", sink = "order-ids")]
async fn check(order: Event<Click>) -> Result<String> {
    Ok(format!("{}@{}", order.value.user, order.topic()))
}

#[tokio::test]
async fn through_sends_events_on_through_a_topic_with_their_keys() -> faust::Result<()> {
    let mut t = TestDriver::for_agent(&check::AGENT);
    t.send("orders", "ann", click("ann", "home")).await;
    t.send("orders", "bob", click("bob", "cart")).await;
    t.run_until_idle().await?;
    t.topic::<Click>("orders-checked").assert_len(2);
    let ids = t.topic::<String>("order-ids");
    ids.assert_values_unordered(&["ann@orders-checked".into(), "bob@orders-checked".into()]);
    let mut keys: Vec<Option<&str>> = ids.keys();
    keys.sort();
    assert_eq!(keys, [Some("ann"), Some("bob")], "keys are kept");
    Ok(())
}

// --------------------------------------------------------- stream form

#[table(name = "pages-seen", default, partitions = 4)]
static SEEN: Table<String, u64>;

#[agent(topic = "visits", group_by(key = page_of, name = "by-page"))]
async fn visits(mut stream: Stream<Click>) -> Result<()> {
    // One event at a time: a table write goes to the partition of the event
    // the stream handed out last.
    while let Some(click) = stream.next().await {
        SEEN.update(&click.page, |n| *n += 1)?;
    }
    Ok(())
}

#[tokio::test]
async fn a_stream_agent_reads_the_regrouped_events() -> faust::Result<()> {
    let mut t = TestDriver::with_app(
        App::bare("regroup-stream")
            .topic_partitions(4)
            .table(&SEEN)
            .agent(&visits::AGENT),
    );
    let all = clicks();
    for c in &all {
        t.send("visits", c.user.as_str(), c.clone()).await;
    }
    t.run_until_idle().await?;
    for page in ["home", "cart", "help", "about"] {
        let want = all.iter().filter(|c| c.page == page).count() as u64;
        assert_eq!(t.table(&SEEN).get(page), Some(want), "{page}");
    }
    t.topic::<Click>("regroup-stream-visits-by-page-repartition")
        .assert_len(all.len());
    Ok(())
}
