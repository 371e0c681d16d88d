//! The messages for a name or a value of the wrong shape: an unknown name
//! (with the closest known one), a path or a bare word where a name goes,
//! the call form, a value of the wrong type. Each says what to write
//! instead, since the fix is usually one token away.

use syn::{Expr, Lit, Path};

use super::ARGUMENTS;

/// The name to match, lowercased as tokio does; a path is no name.
pub(super) fn key_name(key: &Path) -> syn::Result<String> {
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
pub(super) fn bare_word(path: &Path) -> syn::Error {
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
pub(super) fn list_form(list: &syn::MetaList) -> syn::Error {
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

pub(super) fn unknown(key: impl quote::ToTokens, name: &str) -> syn::Error {
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

/// The lists that messages end with, from the one table of arguments.
fn names() -> String {
    let names: Vec<String> = ARGUMENTS.iter().map(|(n, _)| format!("`{n}`")).collect();
    names.join(", ")
}

pub(super) fn examples() -> String {
    let examples: Vec<String> = ARGUMENTS.iter().map(|(_, e)| format!("`{e}`")).collect();
    examples.join(", ")
}

/// A value of another kind than `name` takes: says which kind, and gives
/// the user's own value fixed when that is plain (`worker_threads = "2"`).
pub(super) fn wrong_type(value: &Expr, name: &str) -> syn::Error {
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

#[cfg(test)]
mod tests {
    use crate::args::tests::err;
    use quote::quote;

    #[test]
    fn suggests_close_names() {
        assert!(err(quote!(flavour = "local")).contains("did you mean `flavor`?"));
        assert!(err(quote!(num_threads = 2)).contains("did you mean `worker_threads`?"));
        assert!(err(quote!(threads = 2)).contains("write `worker_threads = 2`"));
        assert!(err(quote!(grcae = "1s")).contains("did you mean `grace`?"));
        assert!(!err(quote!(zzz = 1)).contains("did you mean"));
    }
}
