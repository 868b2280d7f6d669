#![deny(warnings)]

use faust::__private::ArgKind;
use faust::prelude::*;

#[topic("resets")]
static RESETS: Topic<String, f64>;

/// An account id, parsed from `acct-N`.
#[derive(Debug)]
struct AccountId(u64);

impl std::str::FromStr for AccountId {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        s.strip_prefix("acct-")
            .and_then(|n| n.parse().ok())
            .map(AccountId)
            .ok_or_else(|| format!("expected acct-N, found {s:?}"))
    }
}

/// Sets an account's total back to zero.
///
/// Or to `--to`.
#[command]
async fn reset_totals(account: AccountId, to: Option<f64>, dry_run: bool) -> Result<()> {
    if !dry_run {
        RESETS
            .send(format!("acct-{}", account.0), to.unwrap_or(0.0))
            .await?;
    }
    Ok(())
}

#[command(name = "ping")]
pub(crate) async fn ping_the_broker() -> std::result::Result<(), std::io::Error> {
    Ok(())
}

#[faust::command]
async fn r#move(mut path: std::path::PathBuf, count: Option<u32>) -> Result<()> {
    path.push("x");
    let _ = (path, count);
    Ok(())
}

fn main() {
    let def = &reset_totals::COMMAND;
    assert_eq!(def.name, "reset-totals");
    assert_eq!(
        def.doc,
        "Sets an account's total back to zero.\n\nOr to `--to`."
    );
    let args: Vec<(&str, &str, &str, ArgKind)> = def
        .args
        .iter()
        .map(|a| (a.name, a.long, a.ty, a.kind))
        .collect();
    assert_eq!(
        args,
        [
            ("account", "account", "AccountId", ArgKind::Required),
            ("to", "to", "Option<f64>", ArgKind::Optional),
            ("dry_run", "dry-run", "bool", ArgKind::Flag),
        ]
    );
    assert_eq!(def.args[2].value_name, "DRY_RUN");
    assert!((def.args[0].parse)("acct-7").is_ok());
    assert_eq!(
        (def.args[0].parse)("7").err().as_deref(),
        Some("expected acct-N, found \"7\"")
    );
    assert!((def.args[1].parse)("2.5").is_ok());

    // The hidden module is named after the function, as a task's is.
    assert_eq!(ping_the_broker::COMMAND.name, "ping");
    assert!(ping_the_broker::COMMAND.args.is_empty());
    assert_eq!(r#move::COMMAND.name, "move");
    assert_eq!(r#move::COMMAND.args[0].ty, "std::path::PathBuf");

    // Registered like agents and tasks; `App::bare` takes them one by one.
    let app = App::bare("commands").command(&reset_totals::COMMAND);
    let _ = app;
}
