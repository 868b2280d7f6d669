//! `model [NAME]`: the `#[record]` types the app uses and their schemas.
//!
//! The records are those the app's definitions name: agents' input values
//! (and `Event` keys) and what per-event agents return, tables' keys and
//! values, and, through `#[validate(nested)]` fields, the records those
//! hold. Without a name, `model` lists them; `model Order` prints one
//! record's fields, their Rust types, their validation rules and doc
//! comments, from its [`RecordSchema`]. A name that two records share is
//! told apart by its module path (`shop::Order`).
//!
//! This module may call `app` and `record`; it reads no broker.

use std::process::ExitCode;

use crate::app::App;
use crate::record::{RecordSchema, same_record};

/// A record the app uses, and where.
#[derive(Debug, Clone)]
pub(crate) struct RecordUse {
    /// Its schema.
    pub(crate) schema: &'static RecordSchema,
    /// Where the app uses it: `input of agent process`, `value of table
    /// totals`, `field address of Order`.
    pub(crate) used_by: Vec<String>,
}

/// Lists the records (no `name`) or prints one's schema.
pub(crate) fn run(app: &App, name: Option<&str>) -> ExitCode {
    let records = records(app);
    let Some(name) = name else {
        let rows: Vec<Vec<String>> = records
            .iter()
            .map(|r| {
                vec![
                    r.schema.name.to_owned(),
                    r.schema.module.to_owned(),
                    r.schema.fields.len().to_string(),
                    r.used_by.join(", "),
                ]
            })
            .collect();
        super::print_columns(&["record", "module", "fields", "used by"], &rows);
        return ExitCode::SUCCESS;
    };
    match find(&records, name, &app.id) {
        Ok(record) => {
            print!("{}", describe(record));
            ExitCode::SUCCESS
        }
        Err(message) => super::fail(message),
    }
}

/// The records `app` uses, each once, in the order its agents, then its
/// tables, name them; nested records after the records holding them.
pub(crate) fn records(app: &App) -> Vec<RecordUse> {
    let mut found: Vec<RecordUse> = Vec::new();
    for agent in &app.agents {
        let records = (agent.build)().records();
        let name = agent.name;
        note(&mut found, records.input, || {
            format!("input of agent {name}")
        });
        note(&mut found, records.key, || format!("key of agent {name}"));
        note(&mut found, records.output, || {
            format!("output of agent {name}")
        });
    }
    for table in &app.tables {
        let name = table.name;
        note(&mut found, table.types.key_record, || {
            format!("key of table {name}")
        });
        note(&mut found, table.types.value_record, || {
            format!("value of table {name}")
        });
    }
    // Nested records, breadth first; `found` grows as they are met.
    let mut i = 0;
    while i < found.len() {
        let holder = found[i].schema;
        for field in holder.fields {
            note(&mut found, field.nested_record(), || {
                format!("field {} of {}", field.name, holder.name)
            });
        }
        i += 1;
    }
    found
}

/// Adds that `schema` (if any) is used as `how` says.
fn note(
    found: &mut Vec<RecordUse>,
    schema: Option<&'static RecordSchema>,
    how: impl FnOnce() -> String,
) {
    let Some(schema) = schema else {
        return;
    };
    let how = how();
    match found.iter_mut().find(|r| same_record(r.schema, schema)) {
        Some(record) => {
            if !record.used_by.contains(&how) {
                record.used_by.push(how);
            }
        }
        None => found.push(RecordUse {
            schema,
            used_by: vec![how],
        }),
    }
}

/// The record named `name` (`Order`, or `shop::Order` when two share a
/// name) among `app`'s; the error lists the names there are.
pub(crate) fn find<'a>(
    records: &'a [RecordUse],
    name: &str,
    app: &str,
) -> Result<&'a RecordUse, String> {
    let full = |r: &RecordUse| format!("{}::{}", r.schema.module, r.schema.name);
    let matches: Vec<&RecordUse> = records
        .iter()
        .filter(|r| r.schema.name == name || full(r) == name)
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => {
            let known: Vec<&str> = records.iter().map(|r| r.schema.name).collect();
            Err(format!(
                "no record named `{name}` in app `{app}`; its records are: {}",
                if known.is_empty() {
                    "(none)".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        }
        several => {
            let names: Vec<String> = several.iter().map(|r| full(r)).collect();
            Err(format!(
                "several records of app `{app}` are named `{name}`; name one with its \
                 module: {}",
                names.join(", ")
            ))
        }
    }
}

/// A record's schema as `model NAME` prints it: a heading, its settings,
/// where it is used, then one aligned line per field.
pub(crate) fn describe(record: &RecordUse) -> String {
    let schema = record.schema;
    let mut out = format!("{} ({})\n", schema.name, schema.module);
    if !schema.doc.is_empty() {
        for line in schema.doc.lines() {
            out.push_str(&format!("  {line}\n").replace("  \n", "\n"));
        }
    }
    let mut settings = vec![format!("serializer {}", schema.serializer)];
    if let Some(ns) = schema.namespace {
        settings.push(format!("namespace {ns}"));
    }
    if let Some(field) = schema.timestamp {
        settings.push(format!("timestamp field {field}"));
    }
    settings.push(
        if schema.validate {
            "validated"
        } else {
            "not validated"
        }
        .to_owned(),
    );
    out.push_str(&format!("  {}\n", settings.join(", ")));
    out.push_str(&format!("  used by: {}\n\n", record.used_by.join(", ")));
    let rows: Vec<Vec<String>> = schema
        .fields
        .iter()
        .map(|f| {
            let rules: Vec<String> = f.rules.iter().map(ToString::to_string).collect();
            vec![
                f.name.to_owned(),
                f.ty.to_owned(),
                rules.join(", "),
                f.doc.lines().next().unwrap_or("").to_owned(),
            ]
        })
        .collect();
    out.push_str(&super::columns(&["field", "type", "rules", "doc"], &rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{FieldRule, FieldSchema};

    static ADDRESS: RecordSchema = RecordSchema {
        name: "Address",
        module: "shop",
        doc: "",
        serializer: "json",
        namespace: None,
        timestamp: None,
        validate: true,
        fields: &[FieldSchema {
            name: "city",
            ty: "String",
            doc: "",
            rules: &[FieldRule::Length {
                min: Some(1),
                max: None,
            }],
            nested: None,
        }],
    };

    fn address() -> Option<&'static RecordSchema> {
        Some(&ADDRESS)
    }

    static ORDER: RecordSchema = RecordSchema {
        name: "Order",
        module: "shop",
        doc: "An order.\n\nAs the shop sends it.",
        serializer: "json",
        namespace: Some("shop.Order"),
        timestamp: None,
        validate: true,
        fields: &[
            FieldSchema {
                name: "amount",
                ty: "f64",
                doc: "What it costs.\nIn euros.",
                rules: &[FieldRule::Range {
                    min: Some("0.0"),
                    max: None,
                }],
                nested: None,
            },
            FieldSchema {
                name: "ship_to",
                ty: "Option<Address>",
                doc: "",
                rules: &[FieldRule::Nested],
                nested: Some(address),
            },
        ],
    };

    fn uses() -> Vec<RecordUse> {
        let mut found = Vec::new();
        note(&mut found, Some(&ORDER), || "input of agent a".to_owned());
        note(&mut found, Some(&ORDER), || "value of table t".to_owned());
        note(&mut found, Some(&ORDER), || "input of agent a".to_owned());
        note(&mut found, None, || unreachable!("no schema, no note"));
        found
    }

    #[test]
    fn a_record_is_listed_once_with_every_use() {
        let found = uses();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].used_by, ["input of agent a", "value of table t"]);
    }

    #[test]
    fn a_record_is_found_by_name_or_module_path() {
        let mut found = uses();
        assert_eq!(find(&found, "Order", "a").unwrap().schema.name, "Order");
        assert_eq!(
            find(&found, "shop::Order", "a").unwrap().schema.name,
            "Order"
        );
        let e = find(&found, "Ordre", "a").unwrap_err();
        assert_eq!(
            e,
            "no record named `Ordre` in app `a`; its records are: Order"
        );

        static OTHER: RecordSchema = RecordSchema {
            module: "billing",
            ..ORDER
        };
        note(&mut found, Some(&OTHER), || "key of table k".to_owned());
        let e = find(&found, "Order", "a").unwrap_err();
        assert_eq!(
            e,
            "several records of app `a` are named `Order`; name one with its module: \
             shop::Order, billing::Order"
        );
        assert_eq!(
            find(&found, "billing::Order", "a").unwrap().used_by,
            ["key of table k"]
        );
    }

    #[test]
    fn the_schema_shows_fields_types_rules_and_docs() {
        let text = describe(&uses()[0]);
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        assert_eq!(
            lines,
            [
                "Order (shop)",
                "  An order.",
                "",
                "  As the shop sends it.",
                "  serializer json, namespace shop.Order, validated",
                "  used by: input of agent a, value of table t",
                "",
                "field    type             rules             doc",
                "amount   f64              range(min = 0.0)  What it costs.",
                "ship_to  Option<Address>  nested",
            ]
        );
    }
}
