//! `examples/pages.rs`, run by the test driver: each page answers from the
//! table, parameters come from the path and the query string, and bad
//! requests get a clear answer.

use faust::testing::TestDriver;

/// The example itself (its `main` is not used here).
#[allow(dead_code)]
#[path = "../../examples/pages.rs"]
pub mod pages;

#[tokio::test]
async fn pages_answer_from_the_table() -> faust::Result<()> {
    let mut t = TestDriver::with_app(pages::app());
    t.run_until_idle().await?;
    assert_eq!(t.table(&pages::TOTALS).get("ada"), Some(30));

    let ada = t.get("/totals/ada").await;
    assert_eq!(ada.status(), 200);
    assert_eq!(ada.content_type(), "application/json");
    assert_eq!(
        ada.json_body(),
        serde_json::json!({"player": "ada", "points": 30})
    );
    let nobody = t.get("/totals/zed").await;
    assert_eq!(nobody.status(), 404);
    assert_eq!(nobody.json_body(), "zed has not played");
    // Path parameters are percent-decoded.
    t.send("games", "ann lee", 7u64).await;
    t.run_until_idle().await?;
    assert_eq!(
        t.get("/totals/ann%20lee").await.json_body()["points"],
        serde_json::json!(7)
    );

    let best = t.get("/leaderboard?limit=2").await;
    assert_eq!(
        best.json_body(),
        serde_json::json!([
            {"player": "ada", "points": 30},
            {"player": "cyd", "points": 12},
        ])
    );
    assert_eq!(
        t.get("/leaderboard")
            .await
            .json_body()
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    let text = t.get("/leaderboard.txt?limit=1").await;
    assert_eq!(text.content_type(), "text/plain; charset=utf-8");
    assert_eq!(text.text_body(), format!("{:<10} {:>6}", "ada", 30));
    Ok(())
}

#[tokio::test]
async fn bad_requests_name_the_parameter_or_the_pages() {
    let t = TestDriver::with_app(pages::app());
    let bad = t.get("/leaderboard?limit=many").await;
    assert_eq!(bad.status(), 400);
    let error = bad.json_body()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("page `/leaderboard`: parameter `limit` has a bad value \"many\""),
        "{error}"
    );
    let missing = t.get("/nowhere").await;
    assert_eq!(missing.status(), 404);
    let error = missing.json_body()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("no #[page] serves `/nowhere`"), "{error}");
    assert!(error.contains("/totals/{player}"), "{error}");
}
