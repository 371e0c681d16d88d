//! The attribute's arguments: parsed, checked one by one, then checked
//! against each other, each error pointing at the token to change.
//!
//! The runtime arguments and their meaning are `#[tokio::test]`'s (tokio
//! 1.54, tokio-macros 2.7), so that replacing `#[tokio::test(...)]` by
//! `#[leak_check(...)]` never needs the arguments rewritten. Like tokio, an
//! argument name is matched case-insensitively.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Expr, Lit, LitStr, Meta, Path, Token};
use taskleak_grammar::{parse_duration, parse_pattern};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
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
        self.flavor.unwrap_or(Flavor::CurrentThread)
    }
}

/// Which arguments were written, and their tokens (`name = value`), for
/// errors about combinations: those underline the whole argument.
#[derive(Default)]
struct Seen {
    flavor: bool,
    worker_threads: Option<TokenStream>,
    start_paused: Option<TokenStream>,
    unhandled_panic: Option<TokenStream>,
    /// Every argument by name, to refuse a repeat.
    names: Vec<String>,
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
                    examples()
                ),
            )
        })?;

    let mut args = Args::default();
    let mut seen = Seen::default();
    for meta in metas {
        let (key, value) = match meta {
            Meta::NameValue(nv) => (nv.path, nv.value),
            // The one flag: `threads` alone means `threads = true`.
            Meta::Path(path) if path.is_ident("threads") => {
                let value: Expr = syn::parse_quote!(true);
                (path, value)
            }
            Meta::Path(path) => return Err(bare_word(&path)),
            Meta::List(list) => return Err(list_form(&list)),
        };
        let name = key_name(&key)?;
        if !ARGUMENTS.iter().any(|(known, _)| *known == name) {
            return Err(unknown(&key, &name));
        }
        if seen.names.contains(&name) {
            return Err(syn::Error::new_spanned(
                &key,
                format!("`{name}` is given twice; keep only one `{name} = ...`"),
            ));
        }
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
        seen.names.push(name.clone());
        let pair = quote!(#key = #value);
        match name.as_str() {
            "flavor" => {
                args.flavor = Some(parse_flavor(&value)?);
                seen.flavor = true;
            }
            "worker_threads" => {
                args.worker_threads = Some(parse_worker_threads(&value)?);
                seen.worker_threads = Some(pair);
            }
            "start_paused" => {
                args.start_paused = Some(parse_bool(&value, &name)?);
                seen.start_paused = Some(pair);
            }
            "crate" => args.crate_path = Some(parse_crate(&value)?),
            "taskleak" => args.taskleak_path = Some(parse_taskleak(&value)?),
            "unhandled_panic" => {
                args.unhandled_panic = Some(parse_unhandled_panic(&value)?);
                seen.unhandled_panic = Some(pair);
            }
            "name" => args.name = Some(parse_name(&value)?),
            "grace" => args.grace = Some(parse_grace(&value)?),
            "ignore" => args.ignore = parse_ignore(&value)?,
            "threads" => args.threads = parse_threads(&value)?,
            _ => unreachable!("`{name}` is in ARGUMENTS but not handled"),
        }
    }
    check_combinations(&args, &seen)?;
    Ok(args)
}

/// Errors that depend on two arguments: the same rules as `#[tokio::test]`,
/// reported on the argument that does not fit the flavor.
fn check_combinations(args: &Args, seen: &Seen) -> syn::Result<()> {
    let flavor = args.flavor();
    if let (Some(pair), Flavor::CurrentThread | Flavor::Local) = (&seen.worker_threads, flavor) {
        let current = if flavor == Flavor::Local {
            "`flavor = \"local\"` runs"
        } else if seen.flavor {
            "`flavor = \"current_thread\"` runs"
        } else {
            "the default flavor, `current_thread`, runs"
        };
        return Err(syn::Error::new_spanned(
            pair,
            format!(
                "`worker_threads` needs the multi-thread runtime, and {current} everything on \
                 the test's thread; add `flavor = \"multi_thread\"`, or remove `worker_threads`"
            ),
        ));
    }
    if flavor == Flavor::MultiThread {
        for (pair, name) in [
            (&seen.start_paused, "start_paused"),
            (&seen.unhandled_panic, "unhandled_panic"),
        ] {
            if let Some(pair) = pair {
                return Err(syn::Error::new_spanned(
                    pair,
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

fn key_name(key: &Path) -> syn::Result<String> {
    match key.get_ident() {
        Some(ident) => Ok(ident.to_string().to_lowercase()),
        None => Err(syn::Error::new_spanned(
            key,
            format!(
                "an argument name is a single word, not a path; expected one of {}",
                names()
            ),
        )),
    }
}

/// `#[leak_check(multi_thread)]`, `#[leak_check(start_paused)]`, ...
fn bare_word(path: &Path) -> syn::Error {
    let name = path
        .get_ident()
        .map(|i| i.to_string().to_lowercase())
        .unwrap_or_default();
    let msg = match name.as_str() {
        "multi_thread" | "threaded_scheduler" => {
            "set the flavor with a value: `flavor = \"multi_thread\"`".to_owned()
        }
        "current_thread" | "basic_scheduler" | "single_threaded" | "local" => {
            let flavor = if name == "local" {
                "local"
            } else {
                "current_thread"
            };
            format!("set the flavor with a value: `flavor = \"{flavor}\"`")
        }
        _ => match ARGUMENTS.iter().find(|(n, _)| *n == name) {
            Some((_, example)) => format!("`{name}` needs a value: write `{example}`"),
            None => return unknown(path, &name),
        },
    };
    syn::Error::new_spanned(path, msg)
}

/// `#[leak_check(ignore("a"))]`: the right name in the wrong shape.
fn list_form(list: &syn::MetaList) -> syn::Error {
    let name = list
        .path
        .get_ident()
        .map(|i| i.to_string().to_lowercase())
        .unwrap_or_default();
    match ARGUMENTS.iter().find(|(n, _)| *n == name) {
        Some((_, example)) => syn::Error::new_spanned(
            list,
            format!("`{name}` takes its value after `=`: write `{example}`"),
        ),
        None => unknown(&list.path, &name),
    }
}

fn unknown(key: impl quote::ToTokens, name: &str) -> syn::Error {
    let hint = match suggestion(name) {
        Some(known) => format!("did you mean `{known}`? "),
        None => String::new(),
    };
    syn::Error::new_spanned(
        key,
        format!(
            "unknown argument `{name}`; {hint}`#[leak_check]` takes {}",
            examples()
        ),
    )
}

/// The closest known argument to a misspelt one, if any is close.
fn suggestion(name: &str) -> Option<&'static str> {
    // Names other test macros or older tokio versions use for the same knob.
    let alias = match name {
        "core_threads" | "num_threads" | "workers" | "worker_thread" => Some("worker_threads"),
        "paused" | "pause" | "start_pause" => Some("start_paused"),
        "timeout" | "grace_period" | "wait" => Some("grace"),
        "allow" | "ignored" | "ignores" | "skip" | "exclude" => Some("ignore"),
        "runtime" | "rt" | "flavour" => Some("flavor"),
        _ => None,
    };
    alias.or_else(|| {
        ARGUMENTS
            .iter()
            .map(|(known, _)| (*known, edit_distance(name, known)))
            .filter(|&(known, d)| d <= 2 && d < known.len())
            .min_by_key(|&(_, d)| d)
            .map(|(known, _)| known)
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn names() -> String {
    let names: Vec<String> = ARGUMENTS.iter().map(|(n, _)| format!("`{n}`")).collect();
    names.join(", ")
}

fn examples() -> String {
    let examples: Vec<String> = ARGUMENTS.iter().map(|(_, e)| format!("`{e}`")).collect();
    examples.join(", ")
}

/// The literal of `name = <literal>`, or an error saying which kind of
/// literal `name` takes.
fn literal<'a>(value: &'a Expr, name: &str) -> syn::Result<&'a Lit> {
    match value {
        Expr::Lit(lit) => Ok(&lit.lit),
        // Also `flavor = multi_thread`: a word meant as a string.
        _ => Err(wrong_type(value, name)),
    }
}

fn wrong_type(value: &Expr, name: &str) -> syn::Error {
    let example = ARGUMENTS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, e)| e);
    let (kind, fixed) = match name {
        "worker_threads" => (
            "an integer",
            unquoted(value).filter(|s| s.parse::<usize>().is_ok()),
        ),
        "start_paused" | "threads" => (
            "`true` or `false`",
            unquoted(value).filter(|s| s == "true" || s == "false"),
        ),
        "ignore" => ("a list of string literals", None),
        // `flavor = multi_thread`, `crate = tokio`: the word, meant as a string.
        _ => (
            "a string literal",
            bare_path(value).map(|p| format!("{p:?}")),
        ),
    };
    let write = match fixed {
        Some(fixed) => format!("{name} = {fixed}"),
        None => (*example).to_owned(),
    };
    syn::Error::new_spanned(value, format!("`{name}` takes {kind}: write `{write}`"))
}

/// The contents of a string literal, for `worker_threads = "2"`.
fn unquoted(value: &Expr) -> Option<String> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// `multi_thread` or `my_crate::tokio` written without quotes.
fn bare_path(value: &Expr) -> Option<String> {
    match value {
        Expr::Path(p) if p.qself.is_none() => {
            let segments: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            Some(segments.join("::"))
        }
        _ => None,
    }
}

fn string(value: &Expr, name: &str) -> syn::Result<LitStr> {
    match literal(value, name)? {
        Lit::Str(s) => Ok(s.clone()),
        _ => Err(wrong_type(value, name)),
    }
}

fn parse_flavor(value: &Expr) -> syn::Result<Flavor> {
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

fn parse_worker_threads(value: &Expr) -> syn::Result<usize> {
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
fn parse_threads(value: &Expr) -> syn::Result<bool> {
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

fn parse_bool(value: &Expr, name: &str) -> syn::Result<bool> {
    match literal(value, name)? {
        Lit::Bool(b) => Ok(b.value),
        _ => Err(wrong_type(value, name)),
    }
}

fn parse_crate(value: &Expr) -> syn::Result<Path> {
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

fn parse_taskleak(value: &Expr) -> syn::Result<Path> {
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

fn parse_unhandled_panic(value: &Expr) -> syn::Result<UnhandledPanic> {
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

fn parse_name(value: &Expr) -> syn::Result<String> {
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
fn parse_grace(value: &Expr) -> syn::Result<Duration> {
    let lit = string(value, "grace")?;
    parse_duration(&lit.value()).map_err(|e| syn::Error::new_spanned(&lit, e))
}

fn parse_ignore(value: &Expr) -> syn::Result<Vec<LitStr>> {
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

    fn err(tokens: TokenStream) -> String {
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
    fn suggests_close_names() {
        assert!(err(quote!(flavour = "local")).contains("did you mean `flavor`?"));
        assert!(err(quote!(num_threads = 2)).contains("did you mean `worker_threads`?"));
        assert!(err(quote!(threads = 2)).contains("write `worker_threads = 2`"));
        assert!(err(quote!(grcae = "1s")).contains("did you mean `grace`?"));
        assert!(!err(quote!(zzz = 1)).contains("did you mean"));
    }

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

    #[test]
    fn refuses_runtime_arguments_on_plain_fn() {
        let e = parse(quote!(flavor = "multi_thread"), false).err().unwrap();
        assert!(e.to_string().contains("plain `fn`"));
        assert!(parse(quote!(grace = "1ms", ignore = ["a"]), false).is_ok());
    }
}
