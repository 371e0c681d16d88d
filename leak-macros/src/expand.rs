//! From a test function to the same function run under a leak check.
//!
//! The expansion stays thin on purpose: it builds the runtime the way
//! `#[tokio::test]` would and hands everything else to
//! `taskleak::__private::{run_async, run_sync}`, so that the order of
//! "run body, check while the runtime lives, then drop it" is written (and
//! tested) once, in the library.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{AttrStyle, Attribute, ItemFn};

use crate::args::{self, Args, Flavor, UnhandledPanic};
use crate::attrs;

pub(crate) fn leak_check(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut func = match parse_fn(item.clone()) {
        Ok(func) => func,
        // Give the item back untouched so that only this error is reported,
        // not every use of a struct that vanished.
        Err(e) => return with_error(item, e),
    };

    // Errors about neighbouring attributes come first: with those, the
    // arguments are beside the point.
    if let Some(error) = refuse_neighbours(&mut func) {
        return error;
    }

    let is_async = func.sig.asyncness.is_some();
    match args::parse(args, is_async) {
        Ok(args) => expand(func, &args),
        // Still expand, with the defaults: the function stays a test, and a
        // bad argument does not also produce "async functions cannot be
        // used for tests".
        Err(e) => with_error(expand(func, &Args::default()), e),
    }
}

/// Parses the item, or says what the attribute goes on.
fn parse_fn(item: TokenStream) -> syn::Result<ItemFn> {
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Fn(func)) => Ok(func),
        Ok(other) => {
            let (what, tokens) = describe(&other);
            Err(syn::Error::new_spanned(
                tokens,
                format!(
                    "`#[leak_check]` goes on a test function, `async fn` or `fn`, not on {what}; \
                     move it onto the test function"
                ),
            ))
        }
        // Not an item syn knows (or a syntax error inside one): let the
        // parser's own message speak, it points at the broken token.
        Err(e) => Err(e),
    }
}

/// A name for an item that is not a function, and the tokens of its header
/// (keyword and name) to underline.
fn describe(item: &syn::Item) -> (&'static str, TokenStream) {
    use syn::Item;
    match item {
        Item::Struct(i) => ("a struct", header(&i.struct_token, &i.ident)),
        Item::Enum(i) => ("an enum", header(&i.enum_token, &i.ident)),
        Item::Union(i) => ("a union", header(&i.union_token, &i.ident)),
        Item::Mod(i) => ("a module", header(&i.mod_token, &i.ident)),
        Item::Impl(i) => ("an impl block", i.impl_token.to_token_stream()),
        Item::Trait(i) => ("a trait", header(&i.trait_token, &i.ident)),
        Item::Const(i) => ("a const", header(&i.const_token, &i.ident)),
        Item::Static(i) => ("a static", header(&i.static_token, &i.ident)),
        Item::Type(i) => ("a type alias", header(&i.type_token, &i.ident)),
        Item::Use(i) => ("a use declaration", i.use_token.to_token_stream()),
        Item::ForeignMod(i) => ("an extern block", i.abi.to_token_stream()),
        Item::Macro(i) => ("a macro", i.mac.path.to_token_stream()),
        other => ("this item", other.to_token_stream()),
    }
}

fn header(keyword: &impl ToTokens, name: &Ident) -> TokenStream {
    quote!(#keyword #name)
}

/// Attributes that cannot stand beside `#[leak_check]`. Returns the whole
/// output (the function with the offending attribute dropped, plus the error)
/// when there is one.
fn refuse_neighbours(func: &mut ItemFn) -> Option<TokenStream> {
    if let Some(i) = func.attrs.iter().position(attrs::is_leak_check) {
        let second = func.attrs.remove(i);
        let error = syn::Error::new_spanned(
            &second,
            "`#[leak_check]` is applied twice; remove this one and put all arguments in one \
             `#[leak_check(...)]`",
        );
        return Some(with_error(expand(func.clone(), &Args::default()), error));
    }
    if let Some(i) = func.attrs.iter().position(attrs::is_tokio_test) {
        let tokio_test = func.attrs.remove(i);
        let error = syn::Error::new_spanned(
            &tokio_test,
            "`#[leak_check]` replaces `#[tokio::test]` and builds the same runtime; remove \
             `#[tokio::test]` and give its arguments to `#[leak_check(...)]`",
        );
        return Some(with_error(expand(func.clone(), &Args::default()), error));
    }
    if func.sig.asyncness.is_none() && attrs::expanded_by_tokio_test(&func.block) {
        // `#[tokio::test]` above: what is left is its `#[test]`, whose span is
        // the `#[tokio::test]` the user wrote.
        let at = func
            .attrs
            .iter()
            .find(|a| attrs::is_test_attribute(a))
            .map_or_else(
                || func.sig.ident.to_token_stream(),
                ToTokens::to_token_stream,
            );
        let error = syn::Error::new_spanned(
            at,
            "`#[tokio::test]` above `#[leak_check]` has already built its own runtime, which \
             taskleak cannot watch; remove `#[tokio::test]` (`#[leak_check]` replaces it) and \
             give its arguments to `#[leak_check(...)]`",
        );
        return Some(with_error(func.to_token_stream(), error));
    }
    None
}

fn with_error(mut tokens: TokenStream, error: syn::Error) -> TokenStream {
    tokens.extend(error.into_compile_error());
    tokens
}

fn expand(func: ItemFn, args: &Args) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    let is_async = sig.asyncness.take().is_some();

    // Inner attributes (`#![allow(..)]` in the body) cannot stay on a block
    // that becomes an expression; lift them onto the function, as
    // `#[tokio::test]` does.
    let attrs: Vec<Attribute> = attrs
        .into_iter()
        .map(|mut attr| {
            attr.style = AttrStyle::Outer;
            attr
        })
        .collect();

    // Emitted after the other attributes, so that attribute macros below
    // `#[leak_check]` (test-log, serial_test) see the function is a test.
    let test_attr = if attrs.iter().any(attrs::is_test_attribute) {
        TokenStream::new()
    } else {
        quote!(#[::core::prelude::v1::test])
    };

    // `mixed_site` keeps the locals out of reach of the test body, which
    // could otherwise shadow or name them.
    let options = Ident::new("__taskleak_options", Span::mixed_site());
    let taskleak = crate::krate::taskleak(args.taskleak_path.as_ref());
    let mut options_expr = options_expr(args, &taskleak);
    if let Some(expected) = should_panic(&attrs) {
        // A leak must fail the test even so: the harness needs to know.
        let expected = match expected {
            Some(text) => quote!(::core::option::Option::Some(#text)),
            None => quote!(::core::option::Option::None),
        };
        options_expr = quote!(#taskleak::__private::should_panic(#options_expr, #expected));
    }
    let body = if is_async {
        let builder = Ident::new("__taskleak_builder", Span::mixed_site());
        let future = Ident::new("__taskleak_body", Span::mixed_site());
        let tokio = match &args.crate_path {
            Some(path) => path.to_token_stream(),
            None => quote!(#taskleak::__private::tokio),
        };
        let (new_builder, flavor) = match args.flavor() {
            Flavor::CurrentThread => (quote!(new_current_thread), quote!(CurrentThread)),
            Flavor::MultiThread => (quote!(new_multi_thread), quote!(MultiThread)),
            // A `LocalRuntime` starts from a current-thread builder; the
            // library calls `build_local` on it.
            Flavor::Local => (quote!(new_current_thread), quote!(Local)),
        };
        let settings = builder_settings(args, &builder, &tokio);
        quote! {
            let #future = async move #block;
            let mut #builder = #tokio::runtime::Builder::#new_builder();
            #builder.enable_all();
            #(#settings)*
            let #options = #options_expr;
            #taskleak::__private::run_async(
                #taskleak::__private::Flavor::#flavor,
                #builder,
                #options,
                #future,
            )
        }
    } else {
        quote! {
            let #options = #options_expr;
            #taskleak::__private::run_sync(#options, move || #block)
        }
    };

    quote! {
        #(#attrs)*
        #test_attr
        #vis #sig {
            #body
        }
    }
}

/// The test's `#[should_panic]`, if it has one: `Some(None)` when bare,
/// `Some(Some(text))` with `expected = "text"` (or `= "text"`).
fn should_panic(attrs: &[Attribute]) -> Option<Option<syn::LitStr>> {
    let attr = attrs.iter().find(|a| a.path().is_ident("should_panic"))?;
    Some(match &attr.meta {
        syn::Meta::Path(_) => None,
        syn::Meta::NameValue(nv) => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => Some(text.clone()),
            _ => None,
        },
        syn::Meta::List(_) => {
            let mut expected = None;
            // rustc checks the attribute's form; only read `expected`.
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("expected") {
                    expected = Some(meta.value()?.parse::<syn::LitStr>()?);
                }
                Ok(())
            });
            expected
        }
    })
}

/// The `Builder` calls `#[tokio::test]` makes for the same arguments.
fn builder_settings(args: &Args, builder: &Ident, tokio: &TokenStream) -> Vec<TokenStream> {
    let mut settings = Vec::new();
    if let Some(n) = args.worker_threads {
        settings.push(quote!(#builder.worker_threads(#n);));
    }
    if let Some(paused) = args.start_paused {
        settings.push(quote!(#builder.start_paused(#paused);));
    }
    if let Some(behavior) = args.unhandled_panic {
        let behavior = match behavior {
            UnhandledPanic::Ignore => quote!(Ignore),
            UnhandledPanic::ShutdownRuntime => quote!(ShutdownRuntime),
        };
        settings
            .push(quote!(#builder.unhandled_panic(#tokio::runtime::UnhandledPanic::#behavior);));
    }
    if let Some(name) = &args.name {
        settings.push(quote!(#builder.name(#name);));
    }
    settings
}

/// `taskleak::Options::new().grace(..).ignore(..)`, the duration already
/// parsed so the test does no parsing.
fn options_expr(args: &Args, taskleak: &TokenStream) -> TokenStream {
    let grace = args
        .grace
        .map(|d| (d.as_secs(), d.subsec_nanos()))
        .map(|(secs, nanos)| quote!(.grace(::core::time::Duration::new(#secs, #nanos))));
    let ignore = &args.ignore;
    let threads = args.threads.then(|| quote!(.threads()));
    quote! {
        #taskleak::Options::new() #grace #(.ignore(#ignore))* #threads
    }
}

#[cfg(test)]
mod tests {
    use super::leak_check;
    use quote::quote;

    /// The expansion as text, spaces removed, to search for shapes.
    fn expand(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        leak_check(args, item).to_string().replace(' ', "")
    }

    #[test]
    fn async_fn_gets_a_current_thread_runtime_and_a_test_attribute() {
        let out = expand(
            quote!(),
            quote!(
                #[ignore]
                async fn t() {
                    body();
                }
            ),
        );
        assert!(
            out.starts_with("#[ignore]#[::core::prelude::v1::test]fnt()"),
            "{out}"
        );
        assert!(
            out.contains("::taskleak::__private::tokio::runtime::Builder::new_current_thread()")
        );
        assert!(out.contains("::taskleak::__private::Flavor::CurrentThread"));
        assert!(out.contains("asyncmove{body();}"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn an_existing_test_attribute_is_kept_and_not_doubled() {
        let out = expand(
            quote!(),
            quote!(
                #[test_log::test]
                async fn t() {}
            ),
        );
        assert_eq!(out.matches("test]").count(), 1, "{out}");
    }

    #[test]
    fn runtime_arguments_become_builder_calls() {
        let out = expand(
            quote!(
                flavor = "multi_thread",
                worker_threads = 3,
                crate = "my::tokio",
                name = "rt"
            ),
            quote!(
                async fn t() {}
            ),
        );
        assert!(
            out.contains("my::tokio::runtime::Builder::new_multi_thread()"),
            "{out}"
        );
        assert!(out.contains(".worker_threads(3usize);"), "{out}");
        assert!(out.contains(".name(\"rt\");"), "{out}");
        assert!(out.contains("Flavor::MultiThread"), "{out}");
    }

    #[test]
    fn options_carry_grace_as_a_duration_and_ignore_patterns() {
        let out = expand(
            quote!(grace = "1.5s", ignore = ["a::b", "x.rs:3"]),
            quote!(
                fn t() {}
            ),
        );
        assert!(
            out.contains(
                "::taskleak::Options::new().grace(::core::time::Duration::new(1u64,500000000u32))\
                 .ignore(\"a::b\").ignore(\"x.rs:3\")"
            ),
            "{out}"
        );
    }

    #[test]
    fn should_panic_is_passed_to_the_harness_with_its_expected_text() {
        let out = expand(
            quote!(),
            quote!(
                #[should_panic(expected = "leaked_1_task")]
                async fn t() {}
            ),
        );
        assert!(
            out.contains(
                "::taskleak::__private::should_panic(::taskleak::Options::new(),\
                 ::core::option::Option::Some(\"leaked_1_task\"))"
            ),
            "{out}"
        );
        assert!(
            out.starts_with("#[should_panic(expected=\"leaked_1_task\")]"),
            "{out}"
        );
        let out = expand(
            quote!(),
            quote!(
                #[should_panic]
                fn t() {}
            ),
        );
        assert!(out.contains("::core::option::Option::None)"), "{out}");
        let out = expand(
            quote!(),
            quote!(
                #[should_panic = "boom"]
                fn t() {}
            ),
        );
        assert!(out.contains("Option::Some(\"boom\"))"), "{out}");
        let out = expand(
            quote!(),
            quote!(
                fn t() {}
            ),
        );
        assert!(!out.contains("should_panic"), "{out}");
    }

    #[test]
    fn plain_fn_runs_in_run_sync_without_a_runtime() {
        let out = expand(
            quote!(),
            quote!(
                fn t() -> Result<(), E> {
                    Ok(())
                }
            ),
        );
        assert!(out.contains("::taskleak::__private::run_sync("), "{out}");
        assert!(out.contains("move||{Ok(())}"), "{out}");
        assert!(!out.contains("Builder"), "{out}");
    }

    #[test]
    fn local_flavor_starts_from_a_current_thread_builder() {
        let out = expand(
            quote!(flavor = "local", start_paused = true),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains("new_current_thread()"), "{out}");
        assert!(out.contains(".start_paused(true);"), "{out}");
        assert!(out.contains("Flavor::Local"), "{out}");
    }

    #[test]
    fn an_error_still_expands_to_a_test_so_it_is_the_only_error() {
        let out = expand(
            quote!(bogus = 1),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("run_async"), "{out}");
    }
}
