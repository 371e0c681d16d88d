//! The arguments as written, before the rules between them are checked:
//! one setter per argument, as tokio-macros' `Configuration` has, each
//! refusing a repeat, then parsing the value, then keeping the tokens it
//! was written as.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Expr, LitStr, Path};

use super::{Args, Flavor, UnhandledPanic, combinations, values};

/// A parsed value and its whole argument as written (`name = value`):
/// errors about combinations underline the argument, not only the value.
pub(super) struct Written<T> {
    pub(super) value: T,
    pub(super) argument: TokenStream,
}

/// Each argument written so far. `None` is "not written", which is kept
/// apart from the default because some errors depend on it (a defaulted
/// flavor is named differently from a chosen one).
#[derive(Default)]
pub(super) struct Given {
    pub(super) flavor: Option<Written<Flavor>>,
    pub(super) worker_threads: Option<Written<usize>>,
    pub(super) start_paused: Option<Written<bool>>,
    pub(super) crate_path: Option<Written<Path>>,
    pub(super) taskleak_path: Option<Written<Path>>,
    pub(super) unhandled_panic: Option<Written<UnhandledPanic>>,
    pub(super) name: Option<Written<String>>,
    pub(super) grace: Option<Written<Duration>>,
    pub(super) ignore: Option<Written<Vec<LitStr>>>,
    pub(super) threads: Option<Written<bool>>,
}

impl Given {
    pub(super) fn set_flavor(&mut self, key: &Path, value: &Expr) -> syn::Result<()> {
        set(&mut self.flavor, "flavor", key, value, values::parse_flavor)
    }

    pub(super) fn set_worker_threads(&mut self, key: &Path, value: &Expr) -> syn::Result<()> {
        set(
            &mut self.worker_threads,
            "worker_threads",
            key,
            value,
            values::parse_worker_threads,
        )
    }

    pub(super) fn set_start_paused(&mut self, key: &Path, value: &Expr) -> syn::Result<()> {
        set(&mut self.start_paused, "start_paused", key, value, |v| {
            values::parse_bool(v, "start_paused")
        })
    }

    pub(super) fn set_crate(&mut self, key: &Path, value: &Expr) -> syn::Result<()> {
        set(
            &mut self.crate_path,
            "crate",
            key,
            value,
            values::parse_crate,
        )
    }

    pub(super) fn set_taskleak(&mut self, key: &Path, value: &Expr) -> syn::Result<()> {
        set(
            &mut self.taskleak_path,
            "taskleak",
            key,
            value,
            values::parse_taskleak,
        )
    }

    pub(super) fn set_unhandled_panic(&mut self, key: &Path, value: &Expr) -> syn::Result<()> {
        set(
            &mut self.unhandled_panic,
            "unhandled_panic",
            key,
            value,
            values::parse_unhandled_panic,
        )
    }

    pub(super) fn set_name(&mut self, key: &Path, value: &Expr) -> syn::Result<()> {
        set(&mut self.name, "name", key, value, values::parse_name)
    }

    pub(super) fn set_grace(&mut self, key: &Path, value: &Expr) -> syn::Result<()> {
        set(&mut self.grace, "grace", key, value, values::parse_grace)
    }

    pub(super) fn set_ignore(&mut self, key: &Path, value: &Expr) -> syn::Result<()> {
        set(&mut self.ignore, "ignore", key, value, values::parse_ignore)
    }

    pub(super) fn set_threads(&mut self, key: &Path, value: &Expr) -> syn::Result<()> {
        set(
            &mut self.threads,
            "threads",
            key,
            value,
            values::parse_threads,
        )
    }

    /// The validated arguments, once the rules between them hold.
    pub(super) fn build(self) -> syn::Result<Args> {
        combinations::check(&self)?;
        Ok(Args {
            flavor: self.flavor.map(|w| w.value),
            worker_threads: self.worker_threads.map(|w| w.value),
            start_paused: self.start_paused.map(|w| w.value),
            crate_path: self.crate_path.map(|w| w.value),
            taskleak_path: self.taskleak_path.map(|w| w.value),
            unhandled_panic: self.unhandled_panic.map(|w| w.value),
            name: self.name.map(|w| w.value),
            grace: self.grace.map(|w| w.value),
            ignore: self.ignore.map(|w| w.value).unwrap_or_default(),
            threads: self.threads.is_some_and(|w| w.value),
        })
    }
}

/// The body of every setter. The repeat is refused before the value is
/// read: the second argument is the one to remove, whatever its value.
fn set<T>(
    slot: &mut Option<Written<T>>,
    name: &str,
    key: &Path,
    value: &Expr,
    parse: impl FnOnce(&Expr) -> syn::Result<T>,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new_spanned(
            key,
            format!("`{name}` is given twice; keep only one `{name} = ...`"),
        ));
    }
    *slot = Some(Written {
        value: parse(value)?,
        argument: quote!(#key = #value),
    });
    Ok(())
}
