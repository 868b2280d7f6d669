//! `#[table]`: declares and registers a `static NAME: Table<K, V>;`.
//!
//! The declaration, the name (checked like a topic's: the table's changelog
//! topic is named after it), `partitions` and the codecs are shared with
//! `#[topic]` (see [`crate::decl`]); this module reads what only a table
//! has (`default`, `store`, `help`) and adds it to the `TableDef` the macro
//! writes as the initializer, with `Table::from_def`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::{Args, Once, Opt};
use crate::ctxt::Ctxt;
use crate::decl::{self, COMMON_OPTIONS, Common, Decl, Kind, StaticDecl};
use crate::emit;
use crate::window::{TableType, WINDOW_OPTIONS, WindowOpts, WindowReader};

/// The options only `#[table]` has; it accepts [`COMMON_OPTIONS`] too.
const TABLE_OPTIONS: [&str; 3] = ["default", "store", "help"];

/// The stores a table may keep its data in.
const STORES: &[&str] = &["memory", "rocksdb"];

/// Expands `#[table(args)] item`. On any error, emits only the errors: a
/// static without its initializer cannot be emitted.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let table = StaticDecl::parse(Kind::Table, item).and_then(|item| Table::from_ast(args, item));
    match table {
        Ok(table) => generate(&table),
        Err(error) => error.into_compile_error(),
    }
}

/// A checked `#[table]`.
#[derive(Debug)]
pub(crate) struct Table {
    /// The static, emitted as written.
    pub(crate) decl: Decl,
    /// Name, partitions and codecs.
    pub(crate) common: Common,
    /// Missing keys read as `V::default()` in `update`.
    pub(crate) default: bool,
    /// Where the table keeps its data; `None`: the app's default.
    pub(crate) store: Option<Store>,
    /// A description for humans (Faust's `help`); empty when not given.
    pub(crate) help: String,
    /// A windowed table's windows.
    pub(crate) window: Option<WindowOpts>,
}

/// A table's store: one of [`STORES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Store {
    /// `"memory"`.
    Memory,
    /// `"rocksdb"`.
    RocksDb,
}

impl Store {
    /// The name the runtime knows it by.
    fn as_str(self) -> &'static str {
        match self {
            Store::Memory => "memory",
            Store::RocksDb => "rocksdb",
        }
    }
}

impl Table {
    /// Parses and checks the options and the declaration, reporting every
    /// mistake at once.
    pub(crate) fn from_ast(args: TokenStream, item: StaticDecl) -> syn::Result<Table> {
        let cx = Ctxt::new();
        let decl = item.check(&cx, Kind::Table);
        let args = Args::parse_or_report(&cx, args);
        let options: Vec<&str> = COMMON_OPTIONS
            .into_iter()
            .chain(TABLE_OPTIONS)
            .chain(WINDOW_OPTIONS)
            .collect();
        let mut window = WindowReader::default();

        let mut default = Once::new("default");
        let mut store = Once::new("store");
        let mut help = Once::new("help");
        let common = decl::read_options(&cx, &decl, &args, &options, |opt| {
            let key = &opt.key;
            match opt.name().as_str() {
                "default" => default.set(&cx, key, Some(opt.bare_flag(&cx))),
                "store" => store.set(&cx, key, read_store(&cx, opt)),
                "help" => help.set(&cx, key, opt.string(&cx, "help = \"totals per account\"")),
                _ => return window.read(&cx, opt),
            }
            true
        });
        let window = window.finish(&cx, table_type(&decl.ty), &decl.ty);

        cx.check()?;

        Ok(Table {
            decl,
            common,
            default: default.get().unwrap_or(false),
            store: store.get(),
            help: help.get().map(|s| s.value()).unwrap_or_default(),
            window,
        })
    }
}

/// The static, initialized from a registered `TableDef`.
pub(crate) fn generate(table: &Table) -> TokenStream {
    let store = emit::option(table.store.map(Store::as_str));
    let help = &table.help;
    let default = table.default;
    let ty = &table.decl.ty;
    let kind = quote_spanned!(ty.span()=> <#ty>::KIND);
    let types = quote_spanned!(ty.span()=> <#ty>::TYPES);
    let (items, window) = match &table.window {
        Some(window) => (
            crate::window::generate(window, ty),
            quote!(::core::option::Option::Some(&WINDOW)),
        ),
        None => (TokenStream::new(), quote!(::core::option::Option::None)),
    };
    let fields = quote! {
        store: #store,
        help: #help,
        default: #default,
        kind: #kind,
        types: #types,
        window: #window,
    };
    decl::generate(&table.decl, &table.common, fields, items)
}

/// Which kind of table the declared type is, as spelled.
fn table_type(ty: &syn::Type) -> TableType {
    let last = match ty {
        syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    match last.as_deref() {
        Some("WindowedTable") => TableType::Windowed,
        Some("JoinWindow") => TableType::Join,
        _ => TableType::Other,
    }
}

/// `store = "memory" | "rocksdb"`.
fn read_store(cx: &Ctxt, opt: &Opt) -> Option<Store> {
    let value = opt.one_of(cx, "store", STORES, "")?;
    match value.value().as_str() {
        "memory" => Some(Store::Memory),
        // `one_of` let only the stores through.
        _ => Some(Store::RocksDb),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(args: TokenStream) -> Result<Table, Vec<String>> {
        let item = quote!(
            pub static TOTALS: Table<String, u64>;
        );
        StaticDecl::parse(Kind::Table, item)
            .and_then(|item| Table::from_ast(args, item))
            .map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn the_short_form_gives_the_name_and_defaults_for_the_rest() {
        let t = table(quote!("totals")).unwrap();
        assert_eq!(t.common.name, "totals");
        assert_eq!(t.common.partitions, None);
        assert_eq!(t.common.key_serializer, None);
        assert_eq!(t.common.value_serializer, None);
        assert!(!t.default);
        assert_eq!(t.store, None);
        assert_eq!(t.help, "");
    }

    #[test]
    fn every_option_is_read() {
        let t = table(quote!(
            name = "totals",
            default,
            partitions = 8,
            key_serializer = "str",
            value_serializer = "json",
            store = "rocksdb",
            help = "Totals per account",
        ))
        .unwrap();
        assert_eq!(t.common.name, "totals");
        assert!(t.default);
        assert_eq!(t.common.partitions, Some(8));
        assert_eq!(t.common.key_serializer.as_deref(), Some("str"));
        assert_eq!(t.common.value_serializer.as_deref(), Some("json"));
        assert_eq!(t.store, Some(Store::RocksDb));
        assert_eq!(t.help, "Totals per account");
        assert_eq!(
            table(quote!("t", store = "memory")).unwrap().store,
            Some(Store::Memory)
        );
    }

    #[test]
    fn a_name_is_required_and_suggested_from_the_static() {
        let e = table(quote!(default)).unwrap_err();
        assert_eq!(
            e,
            [
                "#[table] needs the table's name: write `#[table(\"totals\")]` or `#[table(name = \"...\")]`"
            ]
        );
    }

    #[test]
    fn the_name_follows_kafka_rules() {
        let e = table(quote!("per account")).unwrap_err();
        assert_eq!(
            e,
            [
                "invalid table name \"per account\": Kafka topic names use only ASCII letters, \
                 digits, `.`, `_` and `-` (a table's name is part of its changelog topic's name)"
            ]
        );
    }

    #[test]
    fn default_is_a_flag_without_value() {
        let e = table(quote!("t", default = 5)).unwrap_err();
        assert_eq!(e, ["`default` takes no value: write `default` alone"]);
    }

    #[test]
    fn only_known_stores_are_accepted() {
        let e = table(quote!("t", store = "redis")).unwrap_err();
        assert_eq!(
            e,
            ["unknown store \"redis\"; expected \"memory\" or \"rocksdb\""]
        );
    }

    #[test]
    fn unknown_options_list_the_common_and_table_options() {
        let e = table(quote!("t", stor = "memory")).unwrap_err();
        assert_eq!(
            e,
            [
                "unknown #[table] option `stor`; expected one of: name, partitions, \
                 key_serializer, value_serializer, default, store, help, tumbling, hopping, \
                 sliding, join, expires, grace, time, late, on_window_close, on_late, \
                 emit_closed; did you mean `store`?"
            ]
        );
    }

    fn windowed(args: TokenStream) -> Result<Table, Vec<String>> {
        let item = StaticDecl::parse(
            Kind::Table,
            quote!(
                static VIEWS: WindowedTable<String, u64>;
            ),
        )
        .map_err(|e| vec![e.to_string()])?;
        Table::from_ast(args, item).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn window_options_read_into_the_model() {
        let t = windowed(quote!(
            "views",
            default,
            hopping(size = "10m", step = "1m"),
            expires = "1h",
            grace = "30s",
            time = "processing",
            late = "dead_letter",
            on_window_close = report,
            emit_closed = "views-final"
        ))
        .unwrap();
        let w = t.window.unwrap();
        assert_eq!(
            w.kind,
            crate::window::WindowKind::Hopping {
                size: std::time::Duration::from_secs(600),
                step: std::time::Duration::from_secs(60)
            }
        );
        assert_eq!(w.expires, Some(std::time::Duration::from_secs(3600)));
        assert!(w.processing_time && w.dead_letter_late);
        assert!(w.on_close.is_some() && w.on_late.is_none());
        assert_eq!(w.emit_closed.unwrap().value(), "views-final");
    }

    #[test]
    fn window_mistakes_are_reported_together() {
        let e = windowed(quote!(
            "views",
            tumbling = "1m",
            sliding(before = "1s"),
            grace = "2h",
            expires = "1h",
            late = "ignore"
        ))
        .unwrap_err();
        assert_eq!(
            e,
            [
                "a table has one kind of window: `tumbling` is set already, remove `sliding`",
                "unknown late-event policy \"ignore\"; expected \"drop\" or \"dead_letter\"",
                "grace (7200s) is longer than expires (3600s): a window is kept until it closes; \
                 make expires at least as long as grace",
            ]
        );
    }

    #[test]
    fn a_window_needs_a_windowed_table_and_the_other_way_round() {
        let e = table(quote!("t", tumbling = "1m")).unwrap_err();
        assert_eq!(
            e,
            [
                "a table with `tumbling` windows is declared `WindowedTable<K, V>` (from \
              `faust::window`)"
            ]
        );
        let e = windowed(quote!("t", default)).unwrap_err();
        assert!(
            e[0].starts_with("a WindowedTable needs its windows"),
            "{e:?}"
        );
        let e = table(quote!("t", expires = "1h")).unwrap_err();
        assert!(
            e[0].starts_with("`expires` is a window option, but the table has no window"),
            "{e:?}"
        );
    }

    #[test]
    fn hopping_needs_a_step_no_longer_than_its_size() {
        let e = windowed(quote!("t", hopping(size = "1m", step = "2m"))).unwrap_err();
        assert!(e[0].contains("would leave gaps"), "{e:?}");
        let e = windowed(quote!("t", hopping(size = "1m"))).unwrap_err();
        assert!(
            e[0].starts_with("`hopping` needs a size and a step"),
            "{e:?}"
        );
    }

    #[test]
    fn a_misspelt_name_is_not_also_reported_missing() {
        let e = table(quote!(nme = "t")).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].ends_with("did you mean `name`?"), "{e:?}");
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let e = table(quote!(
            "t",
            partitions = 0,
            default,
            default,
            store = "redis",
            colour = "red"
        ))
        .unwrap_err();
        assert_eq!(e.len(), 4, "{e:?}");
        assert_eq!(e[0], "`partitions` must be an integer >= 1, found `0`");
        assert_eq!(e[1], "`default` set more than once");
    }

    #[test]
    fn generated_code_registers_the_def_with_every_field() {
        let t = table(quote!(
            "totals",
            partitions = 8,
            default,
            store = "rocksdb",
            help = "h"
        ))
        .unwrap();
        let code = generate(&t).to_string();
        for part in [
            "pub static TOTALS : Table < String , u64 > =",
            "static DEF : :: faust :: __private :: TableDef = :: faust :: __private :: TableDef {",
            "name : \"totals\"",
            "partitions : :: core :: option :: Option :: Some (8u32)",
            "key_serializer : :: core :: option :: Option :: None",
            "store : :: core :: option :: Option :: Some (\"rocksdb\")",
            "help : \"h\"",
            "default : true",
            "location : :: core :: option :: Option :: Some (:: faust :: __private :: Location {",
            ":: faust :: __private :: register ! { table DEF }",
            "< Table < String , u64 > > :: from_def (& DEF)",
            "kind : < Table < String , u64 > > :: KIND",
        ] {
            assert!(code.contains(part), "missing `{part}` in {code}");
        }
    }
}
