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
        let options: Vec<&str> = COMMON_OPTIONS.into_iter().chain(TABLE_OPTIONS).collect();

        let mut default = Once::new("default");
        let mut store = Once::new("store");
        let mut help = Once::new("help");
        let common = decl::read_options(&cx, &decl, &args, &options, |opt| {
            let key = &opt.key;
            match opt.name().as_str() {
                "default" => default.set(&cx, key, Some(opt.bare_flag(&cx))),
                "store" => store.set(&cx, key, read_store(&cx, opt)),
                "help" => help.set(&cx, key, opt.string(&cx, "help = \"totals per account\"")),
                _ => return false,
            }
            true
        });

        cx.check()?;

        Ok(Table {
            decl,
            common,
            default: default.get().unwrap_or(false),
            store: store.get(),
            help: help.get().map(|s| s.value()).unwrap_or_default(),
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
    let fields = quote! {
        store: #store,
        help: #help,
        default: #default,
        kind: #kind,
        types: #types,
    };
    decl::generate(&table.decl, &table.common, fields)
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
                 key_serializer, value_serializer, default, store, help; did you mean `store`?"
            ]
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
