//! Records: the typed values that travel on topics, and their validation.
//!
//! A record is a plain struct with named fields marked `#[faust::record]`.
//! The macro derives serde's `Serialize` and `Deserialize` for it and
//! implements [`Payload`](crate::codec::Payload), which tells the codecs how
//! to carry it: its default codec (`serializer = "json"`), its Python Faust
//! namespace (`namespace = "orders.models.Order"`, written as
//! `"__faust": {"ns": ...}` next to the fields) and, with
//! `#[record(validate)]`, a `validate` method built from the fields'
//! `#[validate(...)]` constraints.
//!
//! Validation runs right after a value is decoded, before any agent sees it:
//! a message that decodes but breaks a constraint is rejected like a
//! malformed one ([`CodecError::Validation`](crate::codec::CodecError)), so
//! an agent only ever handles values that hold their constraints. Every
//! broken constraint is reported, not only the first, each as a
//! [`FieldFailure`] naming the field's path (`amount`, `address.city`,
//! `items[2].price`), what was expected and what was found.
//!
//! The constraints, as `#[validate(...)]` spells them:
//!
//! | constraint | field types | holds when |
//! | --- | --- | --- |
//! | `range(min = 0, max = 10)` | any `PartialOrd + Display` (numbers) | `min <= value <= max` |
//! | `length(min = 1, max = 64)` | `String`, `str`, `Vec`, slices, arrays, maps, sets, `Bytes` | the length (in characters for text, as Python counts) is within bounds |
//! | `pattern = "^[A-Z]+$"` | `String`, `&str`, `Box<str>`, `Cow<str>` | the regex matches (unanchored unless the pattern anchors itself) |
//! | `custom = path::to::check` | anything; `check: fn(&Field) -> Result<(), E: Display>` | `check` returns `Ok` |
//! | `nested` | a record, `Option`/`Vec`/`Box` of one | the inner record's own constraints hold |
//!
//! Each works on an `Option` of such a field too, and is checked only when
//! the field is `Some`. The helpers behind the macro live in the hidden
//! [`validate`] module; a hand-written [`Payload::validate`](crate::codec::Payload::validate)
//! may use them the same way.
//!
//! Each record also carries its [`RecordSchema`] (its fields, their Rust
//! types and their rules, in [`Payload::SCHEMA`](crate::codec::Payload::SCHEMA)),
//! which the command line's `model` prints.
//!
//! This module may call `codec` (for the `Payload` trait); nothing else.

mod schema;

use std::fmt;

pub(crate) use schema::same_record;
pub use schema::{FieldRule, FieldSchema, RecordSchema};

/// A decoded record broke one or more of its field constraints.
///
/// Its `Display` lists every failure:
/// `Order failed validation: field `amount`: expected >= 0, found -5; field
/// `account`: expected length >= 1, found length 0`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{record} failed validation: {}", FailureList(.failures))]
pub struct ValidationError {
    /// The record's type name, as written in Rust (`Order`).
    pub record: &'static str,
    /// Every broken constraint, in field order; never empty.
    pub failures: Vec<FieldFailure>,
}

/// One broken constraint of one field.
///
/// Displays as `field `amount`: expected >= 0, found -5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldFailure {
    /// Where the field is: `amount`, `address.city`, `items[2].price`.
    pub path: String,
    /// What the constraint wants, e.g. `>= 0` or `length <= 64`.
    pub expected: String,
    /// What the value holds instead, e.g. `-5` or `length 70`.
    pub found: String,
}

impl fmt::Display for FieldFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "field `{}`: expected {}, found {}",
            self.path, self.expected, self.found
        )
    }
}

/// Writes failures separated by `; `.
struct FailureList<'a>(&'a [FieldFailure]);

impl fmt::Display for FailureList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, failure) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(failure, f)?;
        }
        Ok(())
    }
}

/// Helpers that `#[record(validate)]` calls from the generated
/// [`Payload::validate`](crate::codec::Payload::validate).
///
/// Not a stable API: only the macro's output should name these. Each helper
/// checks one constraint of one field and records a [`FieldFailure`] in the
/// [`Checker`](validate::Checker) when it does not hold; nothing allocates while constraints
/// hold.
#[doc(hidden)]
pub mod validate {
    use std::borrow::Cow;
    use std::cmp::Ordering;
    use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
    use std::fmt::{self, Display};
    use std::sync::OnceLock;

    use regex::Regex;

    use super::{FieldFailure, RecordSchema, ValidationError};
    use crate::codec::Payload;

    /// Collects the failures of one record's constraints.
    #[derive(Debug, Default)]
    pub struct Checker {
        failures: Vec<FieldFailure>,
    }

    impl Checker {
        /// An empty checker; does not allocate.
        #[must_use]
        pub const fn new() -> Self {
            Checker {
                failures: Vec::new(),
            }
        }

        /// Records a broken constraint (for hand-written checks).
        pub fn fail(
            &mut self,
            path: impl Into<String>,
            expected: impl Into<String>,
            found: impl Into<String>,
        ) {
            self.failures.push(FieldFailure {
                path: path.into(),
                expected: expected.into(),
                found: found.into(),
            });
        }

        /// Whether no constraint has failed so far.
        #[must_use]
        pub fn is_ok(&self) -> bool {
            self.failures.is_empty()
        }

        /// `Ok` when every constraint held, else every failure for `record`.
        pub fn finish(self, record: &'static str) -> Result<(), ValidationError> {
            if self.failures.is_empty() {
                Ok(())
            } else {
                Err(ValidationError {
                    record,
                    failures: self.failures,
                })
            }
        }
    }

    /// Checks `min <= value <= max` (either bound may be absent).
    ///
    /// `NaN` never lies in a range. An `Option` field is checked only when
    /// `Some`.
    pub fn range<F, B>(c: &mut Checker, path: &str, value: &F, min: Option<B>, max: Option<B>)
    where
        F: RangeField<B> + ?Sized,
        B: PartialOrd + Display,
    {
        let Some(v) = value.range_value() else {
            return;
        };
        // Incomparable (NaN) counts as out of range.
        let below = min.as_ref().is_some_and(|m| {
            !matches!(v.partial_cmp(m), Some(Ordering::Greater | Ordering::Equal))
        });
        let above = max
            .as_ref()
            .is_some_and(|m| !matches!(v.partial_cmp(m), Some(Ordering::Less | Ordering::Equal)));
        if below || above {
            c.fail(path, Bounds::new("", &min, &max).to_string(), v.to_string());
        }
    }

    /// Checks `min <= length <= max` (either bound may be absent).
    ///
    /// Text is measured in characters (Unicode scalar values), as Python's
    /// `len(str)` does; collections in elements; bytes in bytes.
    pub fn length<F>(c: &mut Checker, path: &str, value: &F, min: Option<usize>, max: Option<usize>)
    where
        F: LengthField + ?Sized,
    {
        let Some(len) = value.field_len() else {
            return;
        };
        if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
            c.fail(
                path,
                Bounds::new("length ", &min, &max).to_string(),
                format!("length {len}"),
            );
        }
    }

    /// Checks that the text matches `pattern`.
    ///
    /// A pattern that does not compile is reported as a failure of the
    /// field (the macro checks patterns at compile time, so this only
    /// happens with hand-written checks).
    pub fn pattern<F>(c: &mut Checker, path: &str, value: &F, pattern: &Pattern)
    where
        F: PatternField + ?Sized,
    {
        let Some(text) = value.field_text() else {
            return;
        };
        match pattern.regex() {
            Ok(re) if re.is_match(text) => {}
            Ok(_) => c.fail(
                path,
                format!("text matching `{}`", pattern.source),
                Excerpt(text).to_string(),
            ),
            Err(e) => c.fail(
                path,
                format!("text matching `{}`", pattern.source),
                format!(
                    "a pattern that does not compile ({e}); fix the pattern in #[validate(pattern = ...)]"
                ),
            ),
        }
    }

    /// Checks the field with a user function; `name` is how the function is
    /// named in the failure (`path::to::check`).
    ///
    /// The function takes the field (`fn(&Field)`), or its borrowed form
    /// for a `String` or `Vec` (`fn(&str)`, `fn(&[T])`), or, for an
    /// `Option` field, either the option or its content (then it runs only
    /// on `Some`).
    pub fn custom<F, V, E, C>(c: &mut Checker, path: &str, value: &F, check: C, name: &str)
    where
        F: CustomField<V> + ?Sized,
        V: ?Sized,
        E: Display,
        C: FnOnce(&V) -> Result<(), E>,
    {
        let Some(v) = value.field_value() else {
            return;
        };
        if let Err(e) = check(v) {
            c.fail(
                path,
                format!("a value accepted by `{name}`"),
                format!("an error: {e}"),
            );
        }
    }

    /// Validates a nested record (or an `Option`, `Vec` or `Box` of one)
    /// with its own constraints; its failures get `path` as a prefix
    /// (`address.city`, `items[2].price`).
    pub fn nested<F, M>(c: &mut Checker, path: &str, value: &F)
    where
        F: NestedField<M> + ?Sized,
    {
        let start = c.failures.len();
        value.nested_failures(&mut c.failures);
        for failure in &mut c.failures[start..] {
            failure.path = join_path(path, &failure.path);
        }
    }

    /// A regex for [`pattern`], compiled once on first use.
    ///
    /// `const fn new` lets the macro put it in a `static`, so each pattern is
    /// compiled once per process, lazily.
    #[derive(Debug)]
    pub struct Pattern {
        source: &'static str,
        compiled: OnceLock<Result<Regex, String>>,
    }

    impl Pattern {
        /// A pattern from its regex source; nothing is compiled yet.
        #[must_use]
        pub const fn new(source: &'static str) -> Self {
            Pattern {
                source,
                compiled: OnceLock::new(),
            }
        }

        /// The regex source, as written.
        #[must_use]
        pub const fn source(&self) -> &'static str {
            self.source
        }

        /// The compiled regex, or why it does not compile.
        pub fn regex(&self) -> Result<&Regex, &str> {
            self.compiled
                .get_or_init(|| Regex::new(self.source).map_err(|e| e.to_string()))
                .as_ref()
                .map_err(String::as_str)
        }
    }

    /// A field [`range`] can check: a `PartialOrd + Display` value, or an
    /// `Option` of one (`None` is not checked).
    pub trait RangeField<B> {
        /// The value to compare, `None` to skip the check.
        fn range_value(&self) -> Option<&B>;
    }

    impl<T: PartialOrd + Display> RangeField<T> for T {
        fn range_value(&self) -> Option<&T> {
            Some(self)
        }
    }

    impl<T: PartialOrd + Display> RangeField<T> for Option<T> {
        fn range_value(&self) -> Option<&T> {
            self.as_ref()
        }
    }

    /// A field [`length`] can measure.
    pub trait LengthField {
        /// The length, `None` to skip the check (an absent `Option`).
        fn field_len(&self) -> Option<usize>;
    }

    impl LengthField for str {
        fn field_len(&self) -> Option<usize> {
            Some(self.chars().count())
        }
    }

    impl LengthField for String {
        fn field_len(&self) -> Option<usize> {
            self.as_str().field_len()
        }
    }

    impl LengthField for Cow<'_, str> {
        fn field_len(&self) -> Option<usize> {
            (**self).field_len()
        }
    }

    impl LengthField for bytes::Bytes {
        fn field_len(&self) -> Option<usize> {
            Some(self.len())
        }
    }

    impl<T: LengthField + ?Sized> LengthField for &T {
        fn field_len(&self) -> Option<usize> {
            (**self).field_len()
        }
    }

    impl<T: LengthField + ?Sized> LengthField for Box<T> {
        fn field_len(&self) -> Option<usize> {
            (**self).field_len()
        }
    }

    impl<T: LengthField> LengthField for Option<T> {
        fn field_len(&self) -> Option<usize> {
            self.as_ref().and_then(LengthField::field_len)
        }
    }

    macro_rules! length_by_len {
        ($($ty:ty => [$($generics:tt)*]),* $(,)?) => {
            $(impl<$($generics)*> LengthField for $ty {
                fn field_len(&self) -> Option<usize> {
                    Some(self.len())
                }
            })*
        };
    }

    length_by_len! {
        [T] => [T],
        [T; N] => [T, const N: usize],
        Vec<T> => [T],
        VecDeque<T> => [T],
        HashMap<K, V, S> => [K, V, S],
        BTreeMap<K, V> => [K, V],
        HashSet<T, S> => [T, S],
        BTreeSet<T> => [T],
    }

    /// A field [`pattern`] can match: text, or an `Option` of it.
    pub trait PatternField {
        /// The text to match, `None` to skip the check.
        fn field_text(&self) -> Option<&str>;
    }

    impl PatternField for str {
        fn field_text(&self) -> Option<&str> {
            Some(self)
        }
    }

    impl PatternField for String {
        fn field_text(&self) -> Option<&str> {
            Some(self)
        }
    }

    impl PatternField for Cow<'_, str> {
        fn field_text(&self) -> Option<&str> {
            Some(self)
        }
    }

    impl<T: PatternField + ?Sized> PatternField for &T {
        fn field_text(&self) -> Option<&str> {
            (**self).field_text()
        }
    }

    impl<T: PatternField + ?Sized> PatternField for Box<T> {
        fn field_text(&self) -> Option<&str> {
            (**self).field_text()
        }
    }

    impl<T: PatternField> PatternField for Option<T> {
        fn field_text(&self) -> Option<&str> {
            self.as_ref().and_then(PatternField::field_text)
        }
    }

    /// A field [`custom`] can hand to a check of `&V`: the field itself, or
    /// the content of an `Option` field.
    pub trait CustomField<V: ?Sized> {
        /// The value to check, `None` to skip the check.
        fn field_value(&self) -> Option<&V>;
    }

    impl<T: ?Sized> CustomField<T> for T {
        fn field_value(&self) -> Option<&T> {
            Some(self)
        }
    }

    impl<T> CustomField<T> for Option<T> {
        fn field_value(&self) -> Option<&T> {
            self.as_ref()
        }
    }

    impl CustomField<str> for String {
        fn field_value(&self) -> Option<&str> {
            Some(self)
        }
    }

    impl CustomField<str> for Option<String> {
        fn field_value(&self) -> Option<&str> {
            self.as_deref()
        }
    }

    impl<T> CustomField<[T]> for Vec<T> {
        fn field_value(&self) -> Option<&[T]> {
            Some(self)
        }
    }

    impl<T> CustomField<[T]> for Option<Vec<T>> {
        fn field_value(&self) -> Option<&[T]> {
            self.as_deref()
        }
    }

    /// A field [`nested`] can validate. `M` tells the shapes apart (a record,
    /// an `Option`, a `Vec` or a `Box` of one) and is always inferred.
    pub trait NestedField<M> {
        /// The schema of the record the field holds, if it has one.
        const RECORD: Option<&'static RecordSchema> = None;

        /// Appends the failures of the nested record(s), with paths relative
        /// to this field (`city`, `[2].price`).
        fn nested_failures(&self, out: &mut Vec<FieldFailure>);
    }

    /// The schema of the record a `nested` field holds: `field` picks the
    /// field out of its record, so the field's type (and its shape `M`) is
    /// inferred. Generated code puts it in the field's
    /// [`FieldSchema`](super::FieldSchema).
    pub fn nested_record<R, F, M>(field: impl Fn(&R) -> &F) -> Option<&'static RecordSchema>
    where
        F: NestedField<M> + ?Sized,
    {
        let _ = field;
        F::RECORD
    }

    /// [`NestedField`] shape: the field is a record.
    #[derive(Debug)]
    pub enum One {}
    /// [`NestedField`] shape: the field is an `Option` of a shape.
    #[derive(Debug)]
    pub struct Opt<M>(std::marker::PhantomData<M>);
    /// [`NestedField`] shape: the field is a `Vec` of a shape.
    #[derive(Debug)]
    pub struct Many<M>(std::marker::PhantomData<M>);
    /// [`NestedField`] shape: the field is a `Box` of a shape.
    #[derive(Debug)]
    pub struct Boxed<M>(std::marker::PhantomData<M>);

    impl<T: Payload> NestedField<One> for T {
        const RECORD: Option<&'static RecordSchema> = T::SCHEMA;

        fn nested_failures(&self, out: &mut Vec<FieldFailure>) {
            if let Err(e) = self.validate() {
                out.extend(e.failures);
            }
        }
    }

    impl<M, T: NestedField<M>> NestedField<Opt<M>> for Option<T> {
        const RECORD: Option<&'static RecordSchema> = T::RECORD;

        fn nested_failures(&self, out: &mut Vec<FieldFailure>) {
            if let Some(inner) = self {
                inner.nested_failures(out);
            }
        }
    }

    impl<M, T: NestedField<M>> NestedField<Boxed<M>> for Box<T> {
        const RECORD: Option<&'static RecordSchema> = T::RECORD;

        fn nested_failures(&self, out: &mut Vec<FieldFailure>) {
            (**self).nested_failures(out);
        }
    }

    impl<M, T: NestedField<M>> NestedField<Many<M>> for Vec<T> {
        const RECORD: Option<&'static RecordSchema> = T::RECORD;

        fn nested_failures(&self, out: &mut Vec<FieldFailure>) {
            for (i, item) in self.iter().enumerate() {
                let start = out.len();
                item.nested_failures(out);
                for failure in &mut out[start..] {
                    failure.path = join_path(&format!("[{i}]"), &failure.path);
                }
            }
        }
    }

    /// `address` + `city` = `address.city`; `items` + `[2].price` =
    /// `items[2].price`.
    fn join_path(prefix: &str, inner: &str) -> String {
        if inner.is_empty() {
            prefix.to_owned()
        } else if prefix.is_empty() || inner.starts_with('[') {
            format!("{prefix}{inner}")
        } else {
            format!("{prefix}.{inner}")
        }
    }

    /// Writes `>= 0`, `<= 10` or `in 0..=10`, after `what` (`length `).
    struct Bounds<'a, B> {
        what: &'static str,
        min: &'a Option<B>,
        max: &'a Option<B>,
    }

    impl<'a, B> Bounds<'a, B> {
        fn new(what: &'static str, min: &'a Option<B>, max: &'a Option<B>) -> Self {
            Bounds { what, min, max }
        }
    }

    impl<B: Display> Display for Bounds<'_, B> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let what = self.what;
            match (self.min, self.max) {
                (Some(min), Some(max)) => write!(f, "{what}in {min}..={max}"),
                (Some(min), None) => write!(f, "{what}>= {min}"),
                (None, Some(max)) => write!(f, "{what}<= {max}"),
                (None, None) => write!(f, "{what}without bounds"),
            }
        }
    }

    /// Text quoted, cut after 64 characters so a huge field does not flood
    /// a log line.
    struct Excerpt<'a>(&'a str);

    impl Display for Excerpt<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            const MAX: usize = 64;
            match self.0.char_indices().nth(MAX) {
                None => write!(f, "{:?}", self.0),
                Some((cut, _)) => write!(
                    f,
                    "{:?}... ({} characters)",
                    &self.0[..cut],
                    self.0.chars().count()
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::validate::{self, Checker, Pattern};
    use super::*;
    use crate::codec::Payload;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    struct Address {
        city: String,
        zip: Option<String>,
    }

    // What `#[record(validate)]` generates for
    // `#[validate(length(min = 1))] city` and `#[validate(pattern = "^[0-9]{5}$")] zip`.
    impl Payload for Address {
        fn validate(&self) -> Result<(), ValidationError> {
            let mut c = validate::Checker::new();
            validate::length(&mut c, "city", &self.city, Some(1usize), None);
            validate::pattern(&mut c, "zip", &self.zip, {
                static P: validate::Pattern = validate::Pattern::new("^[0-9]{5}$");
                &P
            });
            c.finish("Address")
        }
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    struct Item {
        sku: String,
        price: f64,
    }

    impl Payload for Item {
        fn validate(&self) -> Result<(), ValidationError> {
            let mut c = validate::Checker::new();
            validate::range(&mut c, "price", &self.price, Some(0.0), None);
            validate::custom(&mut c, "sku", &self.sku, no_spaces, "no_spaces");
            c.finish("Item")
        }
    }

    fn no_spaces(s: &str) -> Result<(), &'static str> {
        if s.contains(' ') {
            Err("contains a space")
        } else {
            Ok(())
        }
    }

    fn positive_discount(d: &u8) -> Result<(), String> {
        if *d == 0 {
            Err("a discount of 0 is no discount".to_owned())
        } else {
            Ok(())
        }
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    struct Order {
        account: String,
        amount: f64,
        quantity: Option<u32>,
        discount: Option<u8>,
        tags: Vec<String>,
        address: Address,
        billing: Option<Address>,
        items: Vec<Item>,
    }

    impl Payload for Order {
        fn validate(&self) -> Result<(), ValidationError> {
            let mut c = validate::Checker::new();
            validate::range(
                &mut c,
                "amount",
                &self.amount,
                Some(0.0),
                ::core::option::Option::None,
            );
            validate::length(&mut c, "account", &self.account, Some(1usize), None);
            validate::range(&mut c, "quantity", &self.quantity, Some(1), Some(100));
            validate::custom(
                &mut c,
                "discount",
                &self.discount,
                positive_discount,
                "positive_discount",
            );
            validate::length(&mut c, "tags", &self.tags, None, Some(2usize));
            validate::nested(&mut c, "address", &self.address);
            validate::nested(&mut c, "billing", &self.billing);
            validate::nested(&mut c, "items", &self.items);
            c.finish("Order")
        }
    }

    fn valid_order() -> Order {
        Order {
            account: "alice".to_owned(),
            amount: 5.0,
            quantity: Some(3),
            discount: None,
            tags: vec!["a".to_owned()],
            address: Address {
                city: "Oslo".to_owned(),
                zip: Some("12345".to_owned()),
            },
            billing: None,
            items: vec![Item {
                sku: "A1".to_owned(),
                price: 2.5,
            }],
        }
    }

    fn paths(e: &ValidationError) -> Vec<&str> {
        e.failures.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn valid_record_passes() {
        assert_eq!(valid_order().validate(), Ok(()));
    }

    #[test]
    fn display_lists_every_failure_in_field_order() {
        let mut order = valid_order();
        order.amount = -5.0;
        order.account = String::new();
        let err = order.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Order failed validation: field `amount`: expected >= 0, found -5; \
             field `account`: expected length >= 1, found length 0"
        );
    }

    #[test]
    fn range_reports_both_bounds_and_skips_none() {
        let mut order = valid_order();
        order.quantity = Some(101);
        let err = order.validate().unwrap_err();
        assert_eq!(
            err.failures,
            vec![FieldFailure {
                path: "quantity".to_owned(),
                expected: "in 1..=100".to_owned(),
                found: "101".to_owned(),
            }]
        );
        order.quantity = None;
        assert_eq!(order.validate(), Ok(()));
    }

    #[test]
    fn range_rejects_nan() {
        let mut c = Checker::new();
        validate::range(&mut c, "x", &f64::NAN, Some(0.0), Some(1.0));
        let err = c.finish("R").unwrap_err();
        assert_eq!(err.failures[0].found, "NaN");
    }

    #[test]
    fn range_bounds_are_inclusive() {
        let mut c = Checker::new();
        validate::range(&mut c, "x", &0i64, Some(0), Some(0));
        validate::range(&mut c, "y", &Some(10u8), None, Some(10));
        validate::range(&mut c, "z", &Some(0.5f64), Some(0.0), Some(1.0));
        validate::range(&mut c, "w", &None::<f32>, Some(0.0), Some(1.0));
        assert_eq!(c.finish("R"), Ok(()));
    }

    #[test]
    fn length_counts_characters_of_text_and_elements_of_collections() {
        let mut c = Checker::new();
        validate::length(&mut c, "text", "héllo", Some(5), Some(5));
        validate::length(&mut c, "list", &vec![1, 2, 3], Some(3), None);
        validate::length(&mut c, "array", &[0u8; 4], None, Some(4));
        validate::length(&mut c, "slice", &[1, 2][..], Some(2), None);
        let map: std::collections::HashMap<String, u8> = [("a".to_owned(), 1)].into();
        validate::length(&mut c, "map", &map, Some(1), Some(1));
        validate::length(&mut c, "absent", &None::<String>, Some(1), None);
        validate::length(
            &mut c,
            "bytes",
            &bytes::Bytes::from_static(b"ab"),
            None,
            Some(2),
        );
        assert!(c.is_ok());

        validate::length(&mut c, "some", &Some("ab".to_owned()), Some(3), Some(9));
        let err = c.finish("R").unwrap_err();
        assert_eq!(
            err.failures[0].to_string(),
            "field `some`: expected length in 3..=9, found length 2"
        );
    }

    #[test]
    fn length_max_failure_on_vec_field() {
        let mut order = valid_order();
        order.tags = vec!["a".into(), "b".into(), "c".into()];
        let err = order.validate().unwrap_err();
        assert_eq!(
            err.failures[0].to_string(),
            "field `tags`: expected length <= 2, found length 3"
        );
    }

    #[test]
    fn pattern_matches_strings_str_and_options() {
        static UPPER: Pattern = Pattern::new("^[A-Z]+$");
        let mut c = Checker::new();
        validate::pattern(&mut c, "a", &"ABC".to_owned(), &UPPER);
        validate::pattern(&mut c, "b", "XYZ", &UPPER);
        validate::pattern(&mut c, "c", &None::<String>, &UPPER);
        validate::pattern(&mut c, "d", &Some("Q".to_owned()), &UPPER);
        assert!(c.is_ok());
        validate::pattern(&mut c, "e", &Some("abc".to_owned()), &UPPER);
        let err = c.finish("R").unwrap_err();
        assert_eq!(
            err.failures[0].to_string(),
            "field `e`: expected text matching `^[A-Z]+$`, found \"abc\""
        );
    }

    #[test]
    fn pattern_that_does_not_compile_is_a_failure_not_a_panic() {
        static BAD: Pattern = Pattern::new("(unclosed");
        let mut c = Checker::new();
        validate::pattern(&mut c, "sku", "anything", &BAD);
        let err = c.finish("R").unwrap_err();
        assert_eq!(err.failures[0].path, "sku");
        assert!(
            err.failures[0].found.contains("does not compile"),
            "{}",
            err.failures[0].found
        );
        // Compiled (and failed) once; asking again gives the same answer.
        assert!(BAD.regex().is_err());
    }

    #[test]
    fn pattern_found_value_is_cut_when_long() {
        static DIGITS: Pattern = Pattern::new("^[0-9]+$");
        let long = "x".repeat(200);
        let mut c = Checker::new();
        validate::pattern(&mut c, "f", &long, &DIGITS);
        let found = &c.finish("R").unwrap_err().failures[0].found;
        assert!(found.ends_with("... (200 characters)"), "{found}");
        assert!(found.len() < 100);
    }

    #[test]
    fn custom_names_the_function_and_its_error() {
        let mut order = valid_order();
        order.discount = Some(0);
        let err = order.validate().unwrap_err();
        assert_eq!(
            err.failures[0].to_string(),
            "field `discount`: expected a value accepted by `positive_discount`, \
             found an error: a discount of 0 is no discount"
        );
        order.discount = Some(10);
        assert_eq!(order.validate(), Ok(()));
    }

    #[test]
    fn custom_accepts_owned_or_borrowed_forms_of_the_field() {
        #[allow(clippy::ptr_arg)] // the field's own type, as a user may write it
        fn owned(s: &String) -> Result<(), &'static str> {
            s.is_empty().then_some(()).ok_or("not empty")
        }
        fn short(v: &[u8]) -> Result<(), &'static str> {
            (v.len() < 2).then_some(()).ok_or("too long")
        }
        let mut c = Checker::new();
        validate::custom(&mut c, "a", &"x".to_owned(), owned, "owned");
        validate::custom(&mut c, "b", &vec![1u8, 2], short, "short");
        validate::custom(&mut c, "c", &Some(vec![1u8, 2, 3]), short, "short");
        validate::custom(&mut c, "d", &Some("a b".to_owned()), no_spaces, "no_spaces");
        validate::custom(&mut c, "e", &None::<Vec<u8>>, short, "short");
        let err = c.finish("R").unwrap_err();
        assert_eq!(paths(&err), ["a", "b", "c", "d"]);
    }

    #[test]
    fn custom_on_option_may_take_the_whole_option() {
        fn present(v: &Option<u8>) -> Result<(), &'static str> {
            v.map(|_| ()).ok_or("missing")
        }
        let mut c = Checker::new();
        validate::custom(&mut c, "d", &None::<u8>, present, "present");
        assert_eq!(c.finish("R").unwrap_err().failures[0].path, "d");
    }

    #[test]
    fn nested_prefixes_paths_of_records_options_and_vecs() {
        let mut order = valid_order();
        order.address.city = String::new();
        order.billing = Some(Address {
            city: "Bergen".to_owned(),
            zip: Some("no".to_owned()),
        });
        order.items.push(Item {
            sku: "B 2".to_owned(),
            price: -1.0,
        });
        order.items.push(Item {
            sku: "C3".to_owned(),
            price: -2.0,
        });
        let err = order.validate().unwrap_err();
        assert_eq!(
            paths(&err),
            [
                "address.city",
                "billing.zip",
                "items[1].price",
                "items[1].sku",
                "items[2].price"
            ]
        );
        assert_eq!(err.record, "Order");
    }

    #[test]
    fn nested_handles_vec_of_options_and_boxes() {
        let items: Vec<Option<Box<Item>>> = vec![
            None,
            Some(Box::new(Item {
                sku: "ok".to_owned(),
                price: -3.0,
            })),
        ];
        let mut c = Checker::new();
        validate::nested(&mut c, "items", &items);
        let err = c.finish("Cart").unwrap_err();
        assert_eq!(paths(&err), ["items[1].price"]);
    }

    #[test]
    fn checker_fail_supports_hand_written_checks() {
        let mut c = Checker::new();
        assert!(c.is_ok());
        c.fail("start", "before `end`", "after it");
        assert!(!c.is_ok());
        assert_eq!(
            c.finish("Window").unwrap_err().to_string(),
            "Window failed validation: field `start`: expected before `end`, found after it"
        );
    }
}
