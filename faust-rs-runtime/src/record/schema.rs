//! A record's schema: its fields, their Rust types and their validation
//! rules, as `#[record]` declares them.
//!
//! The macro writes one [`RecordSchema`] per record into
//! [`Payload::SCHEMA`](crate::codec::Payload::SCHEMA); the command line's
//! `model` prints it, and any tool may read it (say, to document the
//! records a topic carries). Nothing here runs on the data path.

use std::fmt;

/// What `#[record]` knows about a struct: its name, codec, Faust namespace,
/// event-time field and fields.
///
/// ```
/// use faust::prelude::*;
///
/// /// An order as the shop sends it.
/// #[record(validate)]
/// struct Order {
///     /// Who pays.
///     #[validate(length(min = 1))]
///     account: String,
///     #[validate(range(min = 0.0))]
///     amount: f64,
/// }
///
/// let schema = Order::SCHEMA.expect("a #[record] has a schema");
/// assert_eq!(schema.name, "Order");
/// assert_eq!(schema.doc, "An order as the shop sends it.");
/// let fields: Vec<(&str, &str)> = schema.fields.iter().map(|f| (f.name, f.ty)).collect();
/// assert_eq!(fields, [("account", "String"), ("amount", "f64")]);
/// assert_eq!(schema.fields[0].doc, "Who pays.");
/// assert_eq!(schema.fields[1].rules[0].to_string(), "range(min = 0.0)");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RecordSchema {
    /// The struct's name, as written in Rust (`Order`).
    pub name: &'static str,
    /// The module it is declared in (`module_path!()`).
    pub module: &'static str,
    /// Its doc comment (empty without one).
    pub doc: &'static str,
    /// The codec used when a topic names none (`serializer = "json"`).
    pub serializer: &'static str,
    /// Python Faust's namespace (`namespace = "shop.models.Order"`).
    pub namespace: Option<&'static str>,
    /// The field holding the event's time (`timestamp = "created_at"`).
    pub timestamp: Option<&'static str>,
    /// Whether decoded values are validated (`#[record(validate)]`).
    pub validate: bool,
    /// The fields, in declaration order.
    pub fields: &'static [FieldSchema],
}

impl RecordSchema {
    /// The field named `name`, if any.
    pub fn field(&self, name: &str) -> Option<&'static FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The records this one's `#[validate(nested)]` fields hold, in field
    /// order (each once).
    pub fn nested_records(&self) -> Vec<&'static RecordSchema> {
        let mut found: Vec<&'static RecordSchema> = Vec::new();
        for record in self.fields.iter().filter_map(FieldSchema::nested_record) {
            if !found.iter().any(|r| same_record(r, record)) {
                found.push(record);
            }
        }
        found
    }
}

/// One field of a [`RecordSchema`].
#[derive(Clone, Copy)]
pub struct FieldSchema {
    /// The field's name in Rust (serde's `rename` attributes are not
    /// applied).
    pub name: &'static str,
    /// Its type, as written in the struct (`Option<Address>`).
    pub ty: &'static str,
    /// Its doc comment (empty without one).
    pub doc: &'static str,
    /// Its `#[validate(...)]` rules, in the order written.
    pub rules: &'static [FieldRule],
    /// For a `nested` field: the schema of the record it holds. Set by
    /// generated code; read it with [`nested_record`](Self::nested_record).
    #[doc(hidden)]
    pub nested: Option<fn() -> Option<&'static RecordSchema>>,
}

impl FieldSchema {
    /// The record a `#[validate(nested)]` field holds (through `Option`,
    /// `Vec` or `Box`), if it has a schema.
    pub fn nested_record(&self) -> Option<&'static RecordSchema> {
        self.nested.and_then(|f| f())
    }
}

impl fmt::Debug for FieldSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldSchema")
            .field("name", &self.name)
            .field("ty", &self.ty)
            .field("doc", &self.doc)
            .field("rules", &self.rules)
            .field("nested", &self.nested_record().map(|r| r.name))
            .finish()
    }
}

/// A `#[validate(...)]` rule of a field. Displays as written in the
/// attribute: `range(min = 0, max = 100)`, `length(min = 1)`,
/// `pattern = "^[A-Z]+$"`, `custom = checks::account`, `nested`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldRule {
    /// `min <= value <= max`; the bounds as written (`0.0`, `-5`).
    Range {
        /// The lower bound, if any.
        min: Option<&'static str>,
        /// The upper bound, if any.
        max: Option<&'static str>,
    },
    /// The length of a string (in characters) or collection is within
    /// bounds.
    Length {
        /// The shortest allowed.
        min: Option<usize>,
        /// The longest allowed.
        max: Option<usize>,
    },
    /// A string matches this regex.
    Pattern(&'static str),
    /// This function (its path, as written) accepts the value.
    Custom(&'static str),
    /// The field is a record (or `Option` / `Vec` / `Box` of one) that is
    /// validated with its own rules.
    Nested,
}

impl fmt::Display for FieldRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldRule::Range { min, max } => {
                f.write_str("range(")?;
                bounds(f, min.as_ref(), max.as_ref())?;
                f.write_str(")")
            }
            FieldRule::Length { min, max } => {
                f.write_str("length(")?;
                bounds(f, min.as_ref(), max.as_ref())?;
                f.write_str(")")
            }
            FieldRule::Pattern(pattern) => write!(f, "pattern = {pattern:?}"),
            FieldRule::Custom(path) => write!(f, "custom = {path}"),
            FieldRule::Nested => f.write_str("nested"),
        }
    }
}

/// `min = A, max = B`, leaving out the bounds that are not set.
fn bounds(
    f: &mut fmt::Formatter<'_>,
    min: Option<&impl fmt::Display>,
    max: Option<&impl fmt::Display>,
) -> fmt::Result {
    match (min, max) {
        (Some(min), Some(max)) => write!(f, "min = {min}, max = {max}"),
        (Some(min), None) => write!(f, "min = {min}"),
        (None, Some(max)) => write!(f, "max = {max}"),
        (None, None) => Ok(()),
    }
}

/// Whether `a` and `b` describe the same record (same name, same module).
pub(crate) fn same_record(a: &RecordSchema, b: &RecordSchema) -> bool {
    a.name == b.name && a.module == b.module
}

#[cfg(test)]
mod tests {
    use super::*;

    static ADDRESS: RecordSchema = RecordSchema {
        name: "Address",
        module: "shop",
        doc: "",
        serializer: "json",
        namespace: None,
        timestamp: None,
        validate: true,
        fields: &[],
    };

    fn address() -> Option<&'static RecordSchema> {
        Some(&ADDRESS)
    }

    #[test]
    fn rules_display_as_the_attribute_writes_them() {
        let shown: Vec<String> = [
            FieldRule::Range {
                min: Some("0"),
                max: Some("100"),
            },
            FieldRule::Range {
                min: None,
                max: Some("-1"),
            },
            FieldRule::Length {
                min: Some(1),
                max: None,
            },
            FieldRule::Pattern("^[A-Z]+$"),
            FieldRule::Custom("checks::account"),
            FieldRule::Nested,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            shown,
            [
                "range(min = 0, max = 100)",
                "range(max = -1)",
                "length(min = 1)",
                "pattern = \"^[A-Z]+$\"",
                "custom = checks::account",
                "nested"
            ]
        );
    }

    #[test]
    fn nested_records_are_listed_once_in_field_order() {
        let field = |name, nested| FieldSchema {
            name,
            ty: "Address",
            doc: "",
            rules: &[FieldRule::Nested],
            nested,
        };
        let fields: &'static [FieldSchema] = Box::leak(Box::new([
            field("home", Some(address as fn() -> _)),
            field("work", Some(address as fn() -> _)),
            field("note", None),
        ]));
        let order = RecordSchema {
            name: "Order",
            fields,
            ..ADDRESS
        };
        let nested: Vec<&str> = order.nested_records().iter().map(|r| r.name).collect();
        assert_eq!(nested, ["Address"]);
        assert_eq!(order.field("work").map(|f| f.name), Some("work"));
        assert!(order.field("nope").is_none());
    }
}
