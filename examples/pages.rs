//! Pages: your own routes on the worker's web endpoint, answered from its
//! tables (Python Faust's `@app.page`).
//!
//! `score` adds each game's points to the player's total in the `totals`
//! table. Three pages read it:
//!
//! ```text
//! cargo run --example pages                      # the worker; Ctrl-C to stop
//! curl localhost:6066/totals/ada                 # {"player":"ada","points":30}
//! curl 'localhost:6066/leaderboard?limit=2'      # the two best, as JSON
//! curl 'localhost:6066/leaderboard.txt?limit=2'  # the same, as text
//! ```
//!
//! A `{name}` in the path is the argument of that name; an `Option` or a
//! `bool` argument comes from the query string. What the function returns
//! is answered as JSON, or as it is when it is a `faust::web::Reply`. A
//! page answers from this worker's copy of the table: with several
//! workers, each holds the players of its own partitions (the built-in
//! `/tables/totals/{player}` asks the owner).

use faust::prelude::*;
use faust::web::Reply;

/// A game's result: points for a player, keyed by the player.
#[topic(name = "games")]
pub static GAMES: Topic<String, u64>;

/// Each player's points so far.
#[table(name = "totals", default, help = "Points per player")]
pub static TOTALS: Table<String, u64>;

/// One player's total, as the pages answer it.
#[record]
#[derive(Debug)]
pub struct Total {
    /// The player.
    pub player: String,
    /// Their points so far.
    pub points: u64,
}

/// Adds a game's points to its player's total.
#[agent(topic = "games")]
pub async fn score(game: Event<u64>) -> Result<()> {
    let player = game.key.clone().unwrap_or_default();
    TOTALS.update(&player, |points| *points += game.value)?;
    Ok(())
}

/// A player's total; 404 for a player who has not played.
#[page("/totals/{player}")]
pub async fn total(player: String) -> Result<Reply> {
    Ok(match TOTALS.get(&player)? {
        Some(points) => Reply::json(&Total { player, points }),
        None => Reply::json(&format!("{player} has not played")).with_status(404),
    })
}

/// The best players, most points first (`?limit=N`, 10 unless given).
#[page("/leaderboard")]
pub async fn leaderboard(limit: Option<usize>) -> Result<Vec<Total>> {
    best(limit)
}

/// The leaderboard as plain text, one player a line.
#[page("/leaderboard.txt")]
pub async fn leaderboard_text(limit: Option<usize>) -> Result<Reply> {
    let lines: Vec<String> = best(limit)?
        .iter()
        .map(|t| format!("{:<10} {:>6}", t.player, t.points))
        .collect();
    Ok(Reply::text(lines.join("\n")))
}

/// The `limit` (10 unless given) players with the most points.
fn best(limit: Option<usize>) -> Result<Vec<Total>> {
    let mut totals: Vec<Total> = TOTALS
        .items()?
        .into_iter()
        .map(|(player, points)| Total { player, points })
        .collect();
    totals.sort_by(|a, b| b.points.cmp(&a.points).then(a.player.cmp(&b.player)));
    totals.truncate(limit.unwrap_or(10));
    Ok(totals)
}

/// A few games, so the pages have something to show.
#[task]
pub async fn demo_games() -> Result<()> {
    for (player, points) in [("ada", 10), ("bob", 5), ("ada", 20), ("cyd", 12)] {
        GAMES.send(player.to_owned(), points).await?;
    }
    Ok(())
}

/// The app: the embedded broker unless `--broker` says otherwise.
pub fn app() -> App {
    App::new("pages-example")
}

faust::main!(app());
