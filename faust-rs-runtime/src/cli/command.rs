//! User commands: each `#[command]` function is a subcommand of the
//! program, `my-app NAME --arg VALUE ...`, listed in `--help` with its doc
//! comment.
//!
//! An argument `name: T` is `--name VALUE`, required; `name: Option<T>` is
//! optional; `name: bool` is a flag (`--name` alone). `T` is any type with
//! a `FromStr` whose error displays ([`CommandValue`]); a value that does
//! not parse is a usage error (exit code 2) naming the flag, before the
//! command runs. An `_` in a name is written `-` on the command line
//! (`dry_run` is `--dry-run`).
//!
//! A command runs like a `#[task]`, with the app's context:
//! [`Topic::send`](crate::Topic::send), agents' `send` and `ask`, and
//! [`sleep`](crate::sleep) work, through the configured broker (the config
//! file, the environment and `--broker` apply as for `worker`). It does
//! not join the consumer group and holds no table partitions (read tables
//! with `table get`); its sends are plain at-least-once sends, also under
//! `processing_guarantee = "exactly_once"`, since no input is consumed.
//! The program waits for every record the command sent to be acknowledged,
//! then exits: 0 when the command returned `Ok`, 1 after printing its
//! error.
//!
//! This module may call `app`, `worker` (to bind the app), `context` and
//! `transport`.

use std::any::Any;
use std::fmt::Display;
use std::process::ExitCode;
use std::str::FromStr;

use clap::{Arg, ArgAction, ArgMatches};

use crate::app::config::{CliOverrides, ProcessingGuarantee};
use crate::app::registry::{ArgKind, CommandArg, CommandDef, PageDef};
use crate::app::{App, check_unique};
use crate::error::{Error, Result};

/// A type a `#[command]` argument may have: parsed from its command-line
/// text with `FromStr`. Implemented for every `FromStr` type whose error
/// implements `Display` (`String`, the integers, `f64`, `bool`,
/// `PathBuf`, `IpAddr`, ...).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a #[command] argument",
    label = "not parsed from the command line",
    note = "a #[command] argument's type implements `FromStr` with an error that implements `Display` (String, integers, f64, bool, PathBuf, ...); `Option<T>` makes it optional, `bool` a flag"
)]
pub trait CommandValue: Sized + 'static {
    /// Parses the argument's text; the error is shown to the user.
    fn parse_arg(text: &str) -> std::result::Result<Self, String>;
}

impl<T> CommandValue for T
where
    T: FromStr + 'static,
    T::Err: Display,
{
    fn parse_arg(text: &str) -> std::result::Result<Self, String> {
        text.parse().map_err(|e: T::Err| e.to_string())
    }
}

/// The parsed arguments of one run of a `#[command]`, or of one request
/// to a `#[page]`, handed to its generated `run` function.
#[doc(hidden)]
#[derive(Debug)]
pub struct CommandArgs {
    site: Site,
    args: &'static [CommandArg],
    /// Per argument, in order: the text given (a flag: any text when
    /// given).
    values: Vec<Option<String>>,
}

/// Whose arguments they are, for the errors.
#[derive(Debug, Clone, Copy)]
enum Site {
    /// A command, by name: arguments are `--flags`.
    Command(&'static str),
    /// A page, by path: arguments are path or query parameters.
    Page(&'static str),
}

impl CommandArgs {
    /// The arguments `values` (one per argument of `def`, in order) for
    /// `def`.
    pub fn new(def: &'static CommandDef, values: Vec<Option<String>>) -> Self {
        CommandArgs {
            site: Site::Command(def.name),
            args: def.args,
            values,
        }
    }

    /// The parameters `values` (one per argument of `def`, in order) of a
    /// request to the page `def`.
    pub fn for_page(def: &'static PageDef, values: Vec<Option<String>>) -> Self {
        CommandArgs {
            site: Site::Page(def.path),
            args: def.args,
            values,
        }
    }

    /// A required argument's value.
    pub fn value<T: 'static>(&self, name: &str) -> Result<T> {
        match self.option(name)? {
            Some(value) => Ok(value),
            None => Err(self.error(name, "is required")),
        }
    }

    /// An optional argument's value.
    pub fn option<T: 'static>(&self, name: &str) -> Result<Option<T>> {
        let (arg, text) = self.get(name)?;
        let Some(text) = text else {
            return Ok(None);
        };
        let parsed = (arg.parse)(text)
            .map_err(|e| self.error(name, format!("has a bad value {text:?}: {e}")))?;
        match parsed.downcast::<T>() {
            Ok(value) => Ok(Some(*value)),
            Err(_) => Err(self.error(name, format!("is a `{}`", arg.ty))),
        }
    }

    /// Whether a flag was given.
    pub fn flag(&self, name: &str) -> Result<bool> {
        Ok(self.get(name)?.1.is_some())
    }

    fn get(&self, name: &str) -> Result<(&'static CommandArg, Option<&str>)> {
        let index = self
            .args
            .iter()
            .position(|a| a.name == name)
            .ok_or_else(|| self.error(name, "is not one of its arguments"))?;
        let text = self.values.get(index).and_then(|v| v.as_deref());
        Ok((&self.args[index], text))
    }

    fn error(&self, name: &str, problem: impl Display) -> Error {
        let long = self
            .args
            .iter()
            .find(|a| a.name == name)
            .map_or(name, |a| a.long);
        Error::config(match self.site {
            Site::Command(command) => format!("command `{command}`: argument --{long} {problem}"),
            Site::Page(path) => format!("page `{path}`: parameter `{long}` {problem}"),
        })
    }
}

/// Parses `text` as a `T` for a `#[command]` argument; used by generated
/// code (as the argument's `parse`).
#[doc(hidden)]
pub fn parse_arg<T: CommandValue>(text: &str) -> std::result::Result<Box<dyn Any>, String> {
    T::parse_arg(text).map(|value| Box::new(value) as Box<dyn Any>)
}

/// Checks the app's commands against each other and the built-in command
/// line `base`: unique names, none a built-in command's, no argument that
/// is a built-in flag.
pub(crate) fn check(app: &App, base: &clap::Command) -> Result<()> {
    check_unique("command", app.commands.iter().map(|c| (c.name, c.location)))?;
    let builtin: Vec<&str> = base
        .get_subcommands()
        .map(|c| c.get_name())
        .chain(["help"])
        .collect();
    let flags: Vec<&str> = base
        .get_arguments()
        .filter_map(|a| a.get_long())
        .chain(["help"])
        .collect();
    for def in &app.commands {
        if builtin.contains(&def.name) {
            return Err(Error::config(format!(
                "#[command] `{}` ({}) has the name of a built-in command; rename it with \
                 `#[command(name = \"...\")]` (the built-in commands are: {})",
                def.name,
                def.location,
                builtin.join(", ")
            )));
        }
        let mut seen: Vec<&str> = Vec::new();
        for arg in def.args {
            if flags.contains(&arg.long) {
                return Err(Error::config(format!(
                    "#[command] `{}` ({}): argument `{}` is written --{}, which every command \
                     takes already (--{}); rename the argument",
                    def.name,
                    def.location,
                    arg.name,
                    arg.long,
                    flags.join(", --")
                )));
            }
            if seen.contains(&arg.long) {
                return Err(Error::config(format!(
                    "#[command] `{}` ({}): two arguments are written --{}",
                    def.name, def.location, arg.long
                )));
            }
            seen.push(arg.long);
        }
    }
    Ok(())
}

/// The clap subcommand of `def`: its doc comment as help, an option (or a
/// flag) per argument, each value checked by the argument's parser.
pub(crate) fn subcommand(def: &'static CommandDef) -> clap::Command {
    let doc = def.doc.trim();
    let about = doc.split("\n\n").next().unwrap_or("").replace('\n', " ");
    let mut command = clap::Command::new(def.name).about(about);
    if doc.contains("\n\n") {
        command = command.long_about(doc.to_owned());
    }
    for arg in def.args {
        // Under a heading of their own, apart from the global flags.
        let clap_arg = Arg::new(arg.name).long(arg.long).help_heading("Arguments");
        let clap_arg = match arg.kind {
            ArgKind::Flag => clap_arg.action(ArgAction::SetTrue).help("flag (bool)"),
            ArgKind::Required | ArgKind::Optional => {
                let parse = arg.parse;
                clap_arg
                    .action(ArgAction::Set)
                    .value_name(arg.value_name)
                    .required(arg.kind == ArgKind::Required)
                    .allow_hyphen_values(true)
                    .help(arg.ty.to_owned())
                    .value_parser(move |text: &str| parse(text).map(|_| text.to_owned()))
            }
        };
        command = command.arg(clap_arg);
    }
    command
}

/// The arguments of `def` as clap parsed them.
pub(crate) fn args_of(def: &'static CommandDef, matches: &ArgMatches) -> CommandArgs {
    let values = def
        .args
        .iter()
        .map(|arg| match arg.kind {
            ArgKind::Flag => matches.get_flag(arg.name).then(|| "true".to_owned()),
            ArgKind::Required | ArgKind::Optional => matches.get_one::<String>(arg.name).cloned(),
        })
        .collect();
    CommandArgs::new(def, values)
}

/// Runs `def` with `args`, with the app bound to the configured broker.
pub(crate) fn run(
    mut app: App,
    overrides: &CliOverrides,
    def: &'static CommandDef,
    args: CommandArgs,
) -> ExitCode {
    let mut settings = match super::resolve_settings(&app, overrides) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    super::warn_if_ephemeral(&settings, "a running worker will not see what it sends");
    // No input is consumed, so there is nothing to make atomic with: the
    // command's sends go straight to the producer.
    settings.processing_guarantee = ProcessingGuarantee::AtLeastOnce;
    app.settings = settings;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::fail(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run_in_app(app, def, args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(e),
    }
}

/// Binds `app`, runs the command in its context and waits for what it
/// sent.
async fn run_in_app(app: App, def: &'static CommandDef, args: CommandArgs) -> Result<()> {
    let clock = crate::time::Clock::real();
    let transport = crate::transport::connect(&app.settings, clock.clone())?;
    let engine = crate::worker::engine::Engine::build(app, transport, clock)?;
    let result = async {
        let future = (def.run)(&args)?;
        let scope = crate::context::Scope::new(engine.core.clone());
        let pending = scope.pending.clone();
        let ran = scope.run(future).await;
        // Every send the command started, awaited or not, is on the broker
        // before the program exits.
        let settled = pending.settle().await;
        ran.and_then(|()| settled.map_err(Into::into))
            .map_err(|source| Error::CommandFailed {
                command: def.name.to_owned(),
                source,
            })
    }
    .await;
    if let Err(e) = engine
        .transport
        .flush(std::time::Duration::from_secs(10))
        .await
    {
        tracing::warn!("{e}");
    }
    engine.close();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::registry::{CommandArg, Location};
    use crate::time::TaskFuture;

    fn never(_: &CommandArgs) -> Result<TaskFuture> {
        Err(Error::config("not run in these tests"))
    }

    static RESET: CommandDef = CommandDef {
        name: "reset",
        doc: "Resets an account.\n\nSets its total back to zero.",
        args: &[
            CommandArg {
                name: "account",
                long: "account",
                value_name: "ACCOUNT",
                ty: "String",
                kind: ArgKind::Required,
                parse: parse_arg::<String>,
            },
            CommandArg {
                name: "to",
                long: "to",
                value_name: "TO",
                ty: "Option<u32>",
                kind: ArgKind::Optional,
                parse: parse_arg::<u32>,
            },
            CommandArg {
                name: "dry_run",
                long: "dry-run",
                value_name: "DRY_RUN",
                ty: "bool",
                kind: ArgKind::Flag,
                parse: parse_arg::<bool>,
            },
        ],
        location: Location {
            module: "app",
            file: "app.rs",
            line: 1,
        },
        run: never,
    };

    fn parse(args: &[&str]) -> std::result::Result<CommandArgs, clap::Error> {
        let matches = subcommand(&RESET)
            .try_get_matches_from(std::iter::once("reset").chain(args.iter().copied()))?;
        Ok(args_of(&RESET, &matches))
    }

    #[test]
    fn arguments_are_options_flags_and_typed_values() {
        let args = parse(&["--account", "alice", "--to", "7", "--dry-run"]).unwrap();
        assert_eq!(args.value::<String>("account").unwrap(), "alice");
        assert_eq!(args.option::<u32>("to").unwrap(), Some(7));
        assert!(args.flag("dry_run").unwrap());

        let args = parse(&["--account", "-bob-"]).unwrap();
        assert_eq!(args.value::<String>("account").unwrap(), "-bob-");
        assert_eq!(args.option::<u32>("to").unwrap(), None);
        assert!(!args.flag("dry_run").unwrap());
    }

    #[test]
    fn a_value_that_does_not_parse_is_a_usage_error_naming_the_flag() {
        let e = parse(&["--account", "a", "--to", "seven"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        let message = e.to_string();
        assert!(
            message.contains("--to <TO>") && message.contains("invalid digit"),
            "{message}"
        );
        let e = parse(&[]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn asking_for_the_wrong_type_or_name_is_an_error_not_a_panic() {
        let args = parse(&["--account", "alice"]).unwrap();
        let e = args.value::<u64>("account").unwrap_err().to_string();
        assert!(e.contains("argument --account is a `String`"), "{e}");
        let e = args.value::<String>("nope").unwrap_err().to_string();
        assert!(e.contains("is not one of its arguments"), "{e}");
        let e = args.value::<u32>("to").unwrap_err().to_string();
        assert!(e.contains("argument --to is required"), "{e}");
    }

    #[test]
    fn the_help_is_the_doc_comment_and_the_types() {
        let help = subcommand(&RESET).render_long_help().to_string();
        for expect in [
            "Resets an account.",
            "Sets its total back to zero.",
            "--account <ACCOUNT>",
            "String",
            "--to <TO>",
            "Option<u32>",
            "--dry-run",
        ] {
            assert!(help.contains(expect), "{expect} missing from\n{help}");
        }
    }

    #[test]
    fn a_command_may_not_take_a_built_in_name_or_flag() {
        let base = super::super::base_command();
        let app = App::bare("a").command(&RESET);
        assert!(check(&app, &base).is_ok());

        static SEND: CommandDef = CommandDef {
            name: "send",
            args: &[],
            ..RESET
        };
        let e = check(&App::bare("a").command(&SEND), &base)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`send`") && e.contains("built-in command"),
            "{e}"
        );

        static BROKER: CommandDef = CommandDef {
            name: "b",
            args: &[CommandArg {
                name: "broker",
                long: "broker",
                ..RESET.args[0]
            }],
            ..RESET
        };
        let e = check(&App::bare("a").command(&BROKER), &base)
            .unwrap_err()
            .to_string();
        assert!(e.contains("argument `broker` is written --broker"), "{e}");

        static OTHER_RESET: CommandDef = CommandDef {
            location: Location {
                module: "other",
                file: "other.rs",
                line: 2,
            },
            ..RESET
        };
        let e = check(&App::bare("a").command(&RESET).command(&OTHER_RESET), &base)
            .unwrap_err()
            .to_string();
        assert!(e.contains("two commands are named `reset`"), "{e}");
    }
}
