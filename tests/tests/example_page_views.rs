//! `examples/page_views.rs`, run by the test driver: views keyed by user
//! are regrouped by page and counted per minute and over five minutes;
//! each window's final count comes out once, after its grace, and nothing
//! before.

use faust::prelude::*;
use faust::testing::TestDriver;
use faust::window::{Window, WindowClosed};

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/page_views.rs"]
pub mod page_views;

use page_views::{LAST_FIVE, PER_MINUTE, PageView};

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600_000;
const MIN: i64 = 60_000;

fn app() -> App {
    // Without the demo traffic timer.
    App::bare("page-views")
        .topic_partitions(4)
        .table(&PER_MINUTE)
        .table(&LAST_FIVE)
        .agent(&page_views::count::AGENT)
        .agent(&page_views::report::AGENT)
        .agent(&page_views::report_five::AGENT)
}

async fn view(t: &mut TestDriver, user: &str, page: &str, at: i64) {
    let view = PageView {
        page: page.into(),
        user: user.into(),
        at,
    };
    t.send("page-views", user, view).await;
}

fn minute(m: i64) -> Window {
    Window {
        start: T0 + m * MIN,
        end: T0 + (m + 1) * MIN,
    }
}

#[tokio::test]
async fn each_minute_of_each_page_is_counted_and_reported_once_when_final() -> faust::Result<()> {
    let mut t = TestDriver::with_app(app());
    // Minute 0: /home by three users, /cart once; minute 1: /home twice.
    for (user, page, s) in [
        ("ann", "/home", 5),
        ("bob", "/home", 20),
        ("cid", "/cart", 30),
    ] {
        view(&mut t, user, page, T0 + s * 1000).await;
    }
    view(&mut t, "dan", "/home", T0 + 59_999).await;
    view(&mut t, "ann", "/home", T0 + MIN + 1_000).await;
    view(&mut t, "bob", "/home", T0 + MIN + 2_000).await;
    t.run_until_idle().await?;
    assert_eq!(
        t.table(&PER_MINUTE).get("/home"),
        Some(vec![(minute(0), 3), (minute(1), 2)])
    );
    // Nothing is final yet: the regrouped partitions are at most at 1:02.
    assert!(t.records("views-per-minute-final").is_empty());

    // Time moves on in every partition (a view per page, each page's
    // partition its own): minute 0 closes 10 s after its end.
    for page in ["/home", "/cart", "/help", "/about", "/shop", "/news"] {
        view(&mut t, "eve", page, T0 + 2 * MIN + 11_000).await;
    }
    t.run_until_idle().await?;
    let finals = t.topic::<WindowClosed<u64>>("views-per-minute-final");
    let mut got: Vec<(String, i64, u64)> = finals
        .events()
        .iter()
        .map(|e| {
            (
                e.key.clone().unwrap_or_default(),
                e.value.start,
                e.value.value,
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("/cart".to_owned(), T0, 1),
            ("/home".to_owned(), T0, 3),
            ("/home".to_owned(), T0 + MIN, 2),
        ]
    );
    // Five-minute windows, every minute: /home's windows ending at 1:00
    // and 2:00 are final (the later ones still take views).
    let five = t.topic::<WindowClosed<u64>>("views-last-5m-final");
    let home: Vec<(i64, u64)> = five
        .events()
        .iter()
        .filter(|e| e.key.as_deref() == Some("/home"))
        .map(|e| (e.value.end, e.value.value))
        .collect();
    assert_eq!(home, [(T0 + MIN, 3), (T0 + 2 * MIN, 5)]);
    let line = page_views::final_line("minute", &finals.events()[0]);
    assert!(line.contains("views"), "{line}");
    Ok(())
}
