//! The parser of each argument's value: from the expression after `=` to
//! what the expansion needs, or an error on the value itself.

use std::time::Duration;

use syn::{Expr, Lit, LitStr, Path};
use taskleak_grammar::{parse_duration, parse_pattern};

use super::diagnostics::wrong_type;
use super::{Flavor, UnhandledPanic};

/// The literal of `name = <literal>`, or an error saying which kind of
/// literal `name` takes.
fn literal<'a>(value: &'a Expr, name: &str) -> syn::Result<&'a Lit> {
    match value {
        Expr::Lit(lit) => Ok(&lit.lit),
        // Also `flavor = multi_thread`: a word meant as a string.
        _ => Err(wrong_type(value, name)),
    }
}

fn string(value: &Expr, name: &str) -> syn::Result<LitStr> {
    match literal(value, name)? {
        Lit::Str(s) => Ok(s.clone()),
        _ => Err(wrong_type(value, name)),
    }
}

pub(super) fn parse_flavor(value: &Expr) -> syn::Result<Flavor> {
    let lit = string(value, "flavor")?;
    let hint = match lit.value().as_str() {
        "current_thread" => return Ok(Flavor::CurrentThread),
        "multi_thread" => return Ok(Flavor::MultiThread),
        "local" => return Ok(Flavor::Local),
        "single_thread" | "single_threaded" | "basic_scheduler" => {
            "did you mean \"current_thread\"? "
        }
        "threaded_scheduler" | "multi_threaded" | "multi-thread" => {
            "did you mean \"multi_thread\"? "
        }
        "current-thread" => "did you mean \"current_thread\"? ",
        _ => "",
    };
    Err(syn::Error::new_spanned(
        &lit,
        format!(
            "unknown flavor {:?}; {hint}the flavors are \"current_thread\" (the default), \
             \"multi_thread\" and \"local\"",
            lit.value()
        ),
    ))
}

pub(super) fn parse_worker_threads(value: &Expr) -> syn::Result<usize> {
    let Lit::Int(int) = literal(value, "worker_threads")? else {
        return Err(wrong_type(value, "worker_threads"));
    };
    match int.base10_parse::<usize>() {
        Ok(0) => Err(syn::Error::new_spanned(
            int,
            "`worker_threads` must be at least 1; write `worker_threads = 1` or more",
        )),
        Ok(n) => Ok(n),
        Err(e) => Err(syn::Error::new_spanned(
            int,
            format!(
                "`worker_threads` must be a positive integer such as `worker_threads = 2`: {e}"
            ),
        )),
    }
}

/// `threads = true`; `threads = 2` is most likely a worker count.
pub(super) fn parse_threads(value: &Expr) -> syn::Result<bool> {
    match literal(value, "threads")? {
        Lit::Bool(b) => Ok(b.value),
        Lit::Int(_) => Err(syn::Error::new_spanned(
            value,
            "`threads` turns on the check of OS threads left running: write `threads` or \
             `threads = true`; for the runtime's number of workers write `worker_threads = 2` \
             (with `flavor = \"multi_thread\"`)",
        )),
        _ => Err(wrong_type(value, "threads")),
    }
}

pub(super) fn parse_bool(value: &Expr, name: &str) -> syn::Result<bool> {
    match literal(value, name)? {
        Lit::Bool(b) => Ok(b.value),
        _ => Err(wrong_type(value, name)),
    }
}

pub(super) fn parse_crate(value: &Expr) -> syn::Result<Path> {
    let lit = string(value, "crate")?;
    lit.parse::<Path>().map_err(|_| {
        syn::Error::new_spanned(
            &lit,
            format!(
                "`crate` must name the path where tokio is, such as \"tokio\" or \
                 \"my_crate::tokio\"; {:?} is not a path",
                lit.value()
            ),
        )
    })
}

pub(super) fn parse_taskleak(value: &Expr) -> syn::Result<Path> {
    let lit = string(value, "taskleak")?;
    lit.parse::<Path>().map_err(|_| {
        syn::Error::new_spanned(
            &lit,
            format!(
                "`taskleak` must name the path where the taskleak library is, such as \
                 \"my_crate::taskleak\"; {:?} is not a path",
                lit.value()
            ),
        )
    })
}

pub(super) fn parse_unhandled_panic(value: &Expr) -> syn::Result<UnhandledPanic> {
    let lit = string(value, "unhandled_panic")?;
    match lit.value().as_str() {
        "ignore" => Ok(UnhandledPanic::Ignore),
        "shutdown_runtime" => Ok(UnhandledPanic::ShutdownRuntime),
        other => Err(syn::Error::new_spanned(
            &lit,
            format!(
                "unknown `unhandled_panic` behavior {other:?}; write \"ignore\" or \
                 \"shutdown_runtime\""
            ),
        )),
    }
}

pub(super) fn parse_name(value: &Expr) -> syn::Result<String> {
    let lit = string(value, "name")?;
    let name = lit.value();
    if name.trim().is_empty() {
        // tokio's `Builder::name` would panic at run time on this.
        return Err(syn::Error::new_spanned(
            &lit,
            "the runtime `name` must not be empty; write `name = \"my-runtime\"` or remove it",
        ));
    }
    Ok(name)
}

/// The library's own grammar, so the attribute, `TASKLEAK_GRACE` and
/// `configure!` accept the same strings with the same message.
pub(super) fn parse_grace(value: &Expr) -> syn::Result<Duration> {
    let lit = string(value, "grace")?;
    parse_duration(&lit.value()).map_err(|e| syn::Error::new_spanned(&lit, e))
}

pub(super) fn parse_ignore(value: &Expr) -> syn::Result<Vec<LitStr>> {
    let Expr::Array(array) = value else {
        // A single string is the likely slip; show it inside brackets.
        if let Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) = value
        {
            return Err(syn::Error::new_spanned(
                value,
                format!(
                    "`ignore` takes a list, even of one pattern: write `ignore = [{:?}]`",
                    s.value()
                ),
            ));
        }
        return Err(wrong_type(value, "ignore"));
    };
    let mut patterns = Vec::new();
    for element in &array.elems {
        let Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) = element
        else {
            return Err(syn::Error::new_spanned(
                element,
                "each `ignore` pattern must be a string literal, such as \"my_crate::metrics\" \
                 or \"src/pool.rs:42\"",
            ));
        };
        // The library parses it again at run time, with the same grammar:
        // refused here, it is a compile error on the literal.
        if let Err(e) = parse_pattern(&s.value()) {
            return Err(syn::Error::new_spanned(s, e));
        }
        patterns.push(s.clone());
    }
    Ok(patterns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse;
    use crate::args::tests::err;
    use quote::quote;

    /// The attribute's errors are the grammar's, word for word, on the
    /// same strings the library refuses.
    #[test]
    fn grace_and_ignore_errors_are_the_grammars() {
        for text in ["250", "1_000ms", "1m 30s", "-1s", "fast", ""] {
            let want = parse_duration(text).unwrap_err().to_string();
            assert_eq!(err(quote!(grace = #text)), want, "{text:?}");
        }
        for text in ["", "a.rs:0", "my crate", "a::", "src/a.rs:4:9"] {
            let want = parse_pattern(text).unwrap_err().to_string();
            assert_eq!(err(quote!(ignore = [#text])), want, "{text:?}");
        }
        let copied = "hyper_util::client::legacy::pool::PoolInner<T,K>::spawn_idle_interval";
        assert!(parse(quote!(ignore = [#copied]), true).is_ok());
        assert!(
            parse(
                quote!(grace = "1m", ignore = ["<my::Pool<M> as Trait>::f"]),
                true
            )
            .is_ok()
        );
    }

    #[test]
    fn taskleak_names_the_library_and_crate_stays_tokios() {
        let args = parse(quote!(taskleak = "my::tl", crate = "my::tokio"), true).unwrap();
        let path = |p: &Option<Path>| quote!(#p).to_string().replace(' ', "");
        assert_eq!(path(&args.taskleak_path), "my::tl");
        assert_eq!(path(&args.crate_path), "my::tokio");
        assert!(
            parse(quote!(taskleak = "tl"), false).is_ok(),
            "plain fn too"
        );
        assert!(err(quote!(taskleak = "not a path")).contains("is not a path"));
    }
}
