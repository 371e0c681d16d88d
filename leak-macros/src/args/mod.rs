//! The attribute's arguments: parsed, checked one by one, then checked
//! against each other, each error pointing at the token to change.
//!
//! The runtime arguments and their meaning are `#[tokio::test]`'s (tokio
//! 1.54, tokio-macros 2.7), so that replacing `#[tokio::test(...)]` by
//! `#[leak_check(...)]` never needs the arguments rewritten. Like tokio, an
//! argument name is matched case-insensitively.
//!
//! This file is the schema (which arguments exist, what they become) and
//! the walk over what was written. The steps have a file each, in the
//! shape of tokio-macros' `entry.rs`:
//!
//! - `given`: one setter per argument, which refuses a repeat, parses the
//!   value and keeps the tokens it was written as;
//! - `values`: the parser of each argument's value;
//! - `combinations`: the rules between arguments, checked once all are
//!   read;
//! - `diagnostics`: the messages for a name or a value of the wrong shape,
//!   with what to write instead.

mod combinations;
mod diagnostics;
mod given;
mod values;

use std::time::Duration;

use proc_macro2::TokenStream;
use syn::punctuated::Punctuated;
use syn::{Expr, LitStr, Meta, Path, Token};

use given::Given;

/// Every argument, with an example; unknown names list these.
const ARGUMENTS: &[(&str, &str)] = &[
    ("flavor", "flavor = \"multi_thread\""),
    ("worker_threads", "worker_threads = 2"),
    ("start_paused", "start_paused = true"),
    ("crate", "crate = \"my_crate::tokio\""),
    ("taskleak", "taskleak = \"my_crate::taskleak\""),
    ("unhandled_panic", "unhandled_panic = \"shutdown_runtime\""),
    ("name", "name = \"my-runtime\""),
    ("grace", "grace = \"250ms\""),
    ("threads", "threads"),
    (
        "ignore",
        "ignore = [\"my_crate::metrics\", \"src/pool.rs:42\"]",
    ),
];

/// Arguments that configure the runtime, which a plain `fn` does not have.
const RUNTIME_ONLY: &[&str] = &[
    "flavor",
    "worker_threads",
    "start_paused",
    "crate",
    "unhandled_panic",
    "name",
];

/// The runtime `#[leak_check]` builds for an `async fn`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `#[tokio::test]`'s default too.
    #[default]
    CurrentThread,
    MultiThread,
    Local,
}

/// `unhandled_panic = "..."`, as in `#[tokio::test]` (needs `tokio_unstable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnhandledPanic {
    Ignore,
    ShutdownRuntime,
}

/// The validated arguments. `Default` is what a bare `#[leak_check]` means,
/// and also what the expansion falls back to after an error, so that one
/// mistake yields one error and not a cascade.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) flavor: Option<Flavor>,
    pub(crate) worker_threads: Option<usize>,
    pub(crate) start_paused: Option<bool>,
    pub(crate) crate_path: Option<Path>,
    /// Where the taskleak library is, when not found by name (a re-export).
    pub(crate) taskleak_path: Option<Path>,
    pub(crate) unhandled_panic: Option<UnhandledPanic>,
    pub(crate) name: Option<String>,
    pub(crate) grace: Option<Duration>,
    pub(crate) ignore: Vec<LitStr>,
    /// Also check OS threads (`Options::threads`).
    pub(crate) threads: bool,
}

impl Args {
    pub(crate) fn flavor(&self) -> Flavor {
        self.flavor.unwrap_or_default()
    }
}

/// Parses and validates the tokens inside `#[leak_check(...)]`.
///
/// `is_async` is false for a plain `fn`, which builds no runtime and so
/// takes only `grace`, `ignore`, `threads` and `taskleak`.
pub(crate) fn parse(tokens: TokenStream, is_async: bool) -> syn::Result<Args> {
    let metas = syn::parse::Parser::parse2(Punctuated::<Meta, Token![,]>::parse_terminated, tokens)
        .map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "{e}; `#[leak_check]` takes `name = value` pairs, such as {}",
                    diagnostics::examples()
                ),
            )
        })?;

    let mut given = Given::default();
    for meta in metas {
        let (key, value) = match meta {
            Meta::NameValue(nv) => (nv.path, nv.value),
            // The one flag: `threads` alone means `threads = true`.
            Meta::Path(path) if path.is_ident("threads") => {
                let value: Expr = syn::parse_quote!(true);
                (path, value)
            }
            Meta::Path(path) => return Err(diagnostics::bare_word(&path)),
            Meta::List(list) => return Err(diagnostics::list_form(&list)),
        };
        let name = diagnostics::key_name(&key)?;
        if !ARGUMENTS.iter().any(|(known, _)| *known == name) {
            return Err(diagnostics::unknown(&key, &name));
        }
        // Before the value is read: on a plain `fn` the value is beside the
        // point, the argument itself has to go.
        if !is_async && RUNTIME_ONLY.contains(&name.as_str()) {
            return Err(syn::Error::new_spanned(
                &key,
                format!(
                    "`{name}` configures the tokio runtime, but a plain `fn` test has none; \
                     make the test an `async fn`, or remove `{name}` \
                     (a plain `fn` takes only `grace`, `ignore`, `threads` and `taskleak`)"
                ),
            ));
        }
        match name.as_str() {
            "flavor" => given.set_flavor(&key, &value)?,
            "worker_threads" => given.set_worker_threads(&key, &value)?,
            "start_paused" => given.set_start_paused(&key, &value)?,
            "crate" => given.set_crate(&key, &value)?,
            "taskleak" => given.set_taskleak(&key, &value)?,
            "unhandled_panic" => given.set_unhandled_panic(&key, &value)?,
            "name" => given.set_name(&key, &value)?,
            "grace" => given.set_grace(&key, &value)?,
            "ignore" => given.set_ignore(&key, &value)?,
            "threads" => given.set_threads(&key, &value)?,
            _ => unreachable!("`{name}` is in ARGUMENTS but not handled"),
        }
    }
    given.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    /// The message `parse` gives for an `async fn`; the tests of the other
    /// files in `args` use it too, since each rule is reached through `parse`.
    pub(super) fn err(tokens: TokenStream) -> String {
        match parse(tokens, true) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_to_current_thread() {
        let args = parse(quote!(), true).unwrap();
        assert_eq!(args.flavor(), Flavor::CurrentThread);
        assert!(args.grace.is_none() && args.ignore.is_empty());
    }

    #[test]
    fn parses_every_argument() {
        let args = parse(
            quote!(
                flavor = "multi_thread",
                worker_threads = 3,
                crate = "my::tokio",
                name = "rt",
                grace = "1.5s",
                ignore = ["a::b", "x.rs:4"]
            ),
            true,
        )
        .unwrap();
        assert_eq!(args.flavor(), Flavor::MultiThread);
        assert_eq!(args.worker_threads, Some(3));
        assert_eq!(args.grace, Some(Duration::from_millis(1500)));
        assert_eq!(args.ignore.len(), 2);
        assert_eq!(args.name.as_deref(), Some("rt"));
        let args = parse(
            quote!(
                Flavor = "local",
                start_paused = true,
                unhandled_panic = "shutdown_runtime"
            ),
            true,
        )
        .unwrap();
        assert_eq!(args.flavor(), Flavor::Local);
        assert_eq!(args.start_paused, Some(true));
        assert_eq!(args.unhandled_panic, Some(UnhandledPanic::ShutdownRuntime));
    }

    #[test]
    fn threads_is_a_flag() {
        assert!(parse(quote!(threads), true).unwrap().threads);
        assert!(parse(quote!(threads = true), false).unwrap().threads);
        assert!(!parse(quote!(threads = false), true).unwrap().threads);
        assert!(!parse(quote!(), true).unwrap().threads);
    }

    #[test]
    fn refuses_runtime_arguments_on_plain_fn() {
        let e = parse(quote!(flavor = "multi_thread"), false).err().unwrap();
        assert!(e.to_string().contains("plain `fn`"));
        assert!(parse(quote!(grace = "1ms", ignore = ["a"]), false).is_ok());
    }
}
