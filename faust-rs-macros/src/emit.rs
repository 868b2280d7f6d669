//! Fragments of generated code every macro's codegen shares. They name only
//! `::faust::__private` and `::core`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// `Some(value)` or `None`, spelled out through `::core`.
pub(crate) fn option(value: Option<impl ToTokens>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// `Location { module, file, line }` of the macro's call site.
pub(crate) fn location() -> TokenStream {
    quote! {
        ::faust::__private::Location {
            module: ::core::module_path!(),
            file: ::core::file!(),
            line: ::core::line!(),
        }
    }
}

/// A `Duration` expression for `duration` (checked to fit in `u64`
/// nanoseconds when parsed).
pub(crate) fn duration(duration: std::time::Duration) -> TokenStream {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    let nanos = proc_macro2::Literal::u64_suffixed(nanos);
    quote!(::faust::__private::Duration::from_nanos(#nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_spells_out_core_paths() {
        assert_eq!(
            option(Some(quote!(1u32))).to_string(),
            ":: core :: option :: Option :: Some (1u32)"
        );
        assert_eq!(
            option(None::<TokenStream>).to_string(),
            ":: core :: option :: Option :: None"
        );
    }
}
