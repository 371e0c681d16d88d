//! What the other attributes on the test function tell the macro.
//!
//! An attribute written above `#[leak_check]` has already expanded when
//! `#[leak_check]` runs, so only the ones below it (and whatever an outer
//! macro emitted) are visible here.

use proc_macro2::{TokenStream, TokenTree};
use syn::{Attribute, Meta, Path};

/// Does `path` end in `name` (`test`, `tokio::test`, `::core::prelude::v1::test`)?
fn last_is(path: &Path, name: &str) -> bool {
    path.segments.last().is_some_and(|s| s.ident == name)
}

/// An attribute that already makes the function a test, so the macro must not
/// add `#[test]` again (a second `#[test]` registers the test twice).
///
/// Any path ending in `test` counts, as rstest and test-log also decide:
/// `#[test]`, `#[::core::prelude::v1::test]` (what test-log emits) and
/// `#[test_log::test]` (which adds `#[test]` unless one is there). The
/// others generate their own `#[test]` functions.
pub(crate) fn is_test_attribute(attr: &Attribute) -> bool {
    let path = attr.path();
    last_is(path, "test")
        || ["rstest", "test_case", "test_matrix"]
            .iter()
            .any(|name| last_is(path, name))
}

/// A second `#[leak_check]`, with or without a path or arguments; also
/// `#[taskleak::test]`, should the library offer that alias (a path ending
/// in `test` is what rstest needs to accept an `async fn`).
pub(crate) fn is_leak_check(attr: &Attribute) -> bool {
    let path = attr.path();
    let taskleak_test = path.segments.len() == 2
        && path.segments[0].ident == "taskleak"
        && path.segments[1].ident == "test";
    last_is(path, "leak_check") || taskleak_test
}

/// `#[tokio::test]` below `#[leak_check]`, or handed to a wrapper such as
/// `#[test_log::test(tokio::test)]`: it would build a second, untracked
/// runtime around the one `#[leak_check]` builds.
pub(crate) fn is_tokio_test(attr: &Attribute) -> bool {
    let path = attr.path();
    let direct = path.segments.len() == 2
        && path.segments[0].ident == "tokio"
        && path.segments[1].ident == "test";
    let nested = match &attr.meta {
        Meta::List(list) => mentions_tokio_test(list.tokens.clone()),
        _ => false,
    };
    direct || nested
}

fn mentions_tokio_test(tokens: TokenStream) -> bool {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.windows(4).any(|w| {
        matches!(
            (&w[0], &w[1], &w[2], &w[3]),
            (TokenTree::Ident(a), TokenTree::Punct(c1), TokenTree::Punct(c2), TokenTree::Ident(b))
                if a == "tokio" && c1.as_char() == ':' && c2.as_char() == ':' && b == "test"
        )
    })
}

/// Was this plain `fn` produced by `#[tokio::test]` (written above
/// `#[leak_check]`)? Then the runtime is tokio's own, built without task
/// hooks and dropped before any check could run, so no leak could ever be
/// seen. Recognised by the `expect` message tokio-macros puts in the body.
pub(crate) fn expanded_by_tokio_test(block: &syn::Block) -> bool {
    fn scan(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|tree| match tree {
            TokenTree::Literal(lit) => lit.to_string() == "\"Failed building the Runtime\"",
            TokenTree::Group(group) => scan(group.stream()),
            _ => false,
        })
    }
    scan(quote::ToTokens::to_token_stream(block))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn recognises_test_attributes() {
        let yes: [Attribute; 6] = [
            parse_quote!(#[test]),
            parse_quote!(#[::core::prelude::v1::test]),
            parse_quote!(#[test_log::test]),
            parse_quote!(#[rstest]),
            parse_quote!(#[rstest::rstest]),
            parse_quote!(#[test_case(1; "one")]),
        ];
        assert!(yes.iter().all(is_test_attribute));
        let no: [Attribute; 3] = [
            parse_quote!(#[serial]),
            parse_quote!(#[should_panic]),
            parse_quote!(#[testing]),
        ];
        assert!(!no.iter().any(is_test_attribute));
    }

    #[test]
    fn recognises_tokio_test() {
        assert!(is_tokio_test(&parse_quote!(#[tokio::test])));
        assert!(is_tokio_test(
            &parse_quote!(#[tokio::test(flavor = "multi_thread")])
        ));
        assert!(is_tokio_test(&parse_quote!(#[test_log::test(tokio::test)])));
        assert!(!is_tokio_test(&parse_quote!(#[test_log::test])));
        assert!(!is_tokio_test(&parse_quote!(#[test])));
    }
}
