//! Where the expansion finds the taskleak library: `::taskleak` unless the
//! user's Cargo.toml renames it (`tl = { package = "taskleak", .. }`), or
//! the attribute says where (`taskleak = "my_crate::taskleak"`, for a
//! re-export).
//!
//! `crate = ".."` is not used for this: in `#[tokio::test]` it names
//! tokio's path, and `#[leak_check]` keeps that meaning so that replacing
//! one attribute by the other needs no argument rewritten.

use proc_macro_crate::FoundCrate;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{Ident, Path};

/// The path to the library, as tokens to put before `::Options`.
pub(crate) fn taskleak(explicit: Option<&Path>) -> TokenStream {
    if let Some(path) = explicit {
        return path.to_token_stream();
    }
    match proc_macro_crate::crate_name("taskleak") {
        Ok(FoundCrate::Name(name)) => {
            let name = Ident::new(&name, Span::call_site());
            quote!(::#name)
        }
        // `Itself` is taskleak's own doctests and examples, which see the
        // library as `::taskleak`; an error (no Cargo.toml to read, as under
        // some build systems) leaves the usual name.
        Ok(FoundCrate::Itself) | Err(_) => quote!(::taskleak),
    }
}
