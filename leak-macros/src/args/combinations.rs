//! The rules between arguments, checked once every argument is read: the
//! same as `#[tokio::test]`'s, each reported on the whole argument
//! (`name = value`) that does not fit the flavor, since either may be the
//! one to change.

use super::Flavor;
use super::given::Given;

/// Errors that depend on two arguments.
pub(super) fn check(given: &Given) -> syn::Result<()> {
    let flavor = given.flavor.as_ref().map(|w| w.value).unwrap_or_default();
    if let (Some(worker_threads), Flavor::CurrentThread | Flavor::Local) =
        (&given.worker_threads, flavor)
    {
        let current = if flavor == Flavor::Local {
            "`flavor = \"local\"` runs"
        } else if given.flavor.is_some() {
            "`flavor = \"current_thread\"` runs"
        } else {
            "the default flavor, `current_thread`, runs"
        };
        return Err(syn::Error::new_spanned(
            &worker_threads.argument,
            format!(
                "`worker_threads` needs the multi-thread runtime, and {current} everything on \
                 the test's thread; add `flavor = \"multi_thread\"`, or remove `worker_threads`"
            ),
        ));
    }
    if flavor == Flavor::MultiThread {
        for (argument, name) in [
            (
                given.start_paused.as_ref().map(|w| &w.argument),
                "start_paused",
            ),
            (
                given.unhandled_panic.as_ref().map(|w| &w.argument),
                "unhandled_panic",
            ),
        ] {
            if let Some(argument) = argument {
                return Err(syn::Error::new_spanned(
                    argument,
                    format!(
                        "`{name}` needs a single-thread runtime: tokio supports it only on \
                         `current_thread` and `local`; remove `flavor = \"multi_thread\"` (the \
                         default is `current_thread`), or remove `{name}`"
                    ),
                ));
            }
        }
    }
    Ok(())
}
