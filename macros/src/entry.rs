//! Turning an `async fn` into a sync function that runs it on a runtime.
//!
//! The expansion of
//!
//! ```text
//! #[aiolos::main(worker_threads = 4)]
//! pub async fn main() -> Result<(), E> { body }
//! ```
//!
//! is
//!
//! ```text
//! pub fn main() -> Result<(), E> {
//!     let body = async move { body };
//!     return ::aiolos::Runtime::builder().worker_threads(4).build()
//!         .expect("...").block_on(body);
//! }
//! ```
//!
//! `#[aiolos::test]` is the same with `#[::core::prelude::v1::test]` in front.
//! The function's attributes, visibility, name and return type are kept;
//! `return` and `?` in the body leave the `async` block, whose output is the
//! function's return type.
//!
//! On a misuse the expansion is every error found plus the function expanded
//! as well as it can be (with the default runtime), so the user sees the one
//! message that matters rather than a flood of follow-on errors.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn};

use crate::args::{Args, Kind};

/// Expands `#[aiolos::main]` or `#[aiolos::test]` with arguments `args` on `item`.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(err) => {
            // Not a function: say so, and hand the item back untouched.
            let msg = format!("{} goes on an `async fn`: {err}", kind.attr());
            let err = syn::Error::new(err.span(), msg).to_compile_error();
            return quote! { #err #item };
        }
    };

    // Collect every error rather than stopping at the first.
    let mut errors: Option<syn::Error> = None;
    let mut report = |err: syn::Error| match &mut errors {
        Some(all) => all.combine(err),
        None => errors = Some(err),
    };
    let args = Args::parse(kind, args).unwrap_or_else(|err| {
        report(err);
        Args::default()
    });
    check_signature(kind, &func, &mut report);

    match errors {
        None => expand_fn(kind, &args, func, kind == Kind::Test),
        Some(errors) => {
            let errors = errors.to_compile_error();
            // A test that cannot be a test (it takes parameters or is
            // generic) is emitted as a plain function so that the harness
            // does not add its own complaint.
            let as_test = kind == Kind::Test && test_signature_ok(&func);
            if kind == Kind::Main && func.sig.ident == "main" && !func.sig.inputs.is_empty() {
                // A `main` with parameters would add "`main` function has
                // wrong type": nest it inside a well-typed one instead, so
                // its body is still checked.
                let vis = func.vis.clone();
                let inner = expand_fn(kind, &Args::default(), func, false);
                return quote! {
                    #errors
                    #vis fn main() {
                        #[allow(dead_code)]
                        #inner
                    }
                };
            }
            let func = expand_fn(kind, &Args::default(), func, as_test);
            quote! { #errors #func }
        }
    }
}

/// Reports what is wrong with the function's signature.
fn check_signature(kind: Kind, func: &ItemFn, report: &mut impl FnMut(syn::Error)) {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        let msg = format!(
            "{} must be placed on an `async fn`: add `async` before `fn`",
            kind.attr()
        );
        report(syn::Error::new_spanned(sig.fn_token, msg));
    }
    match kind {
        Kind::Main => {
            if sig.ident == "main" && !sig.inputs.is_empty() {
                report(syn::Error::new_spanned(
                    &sig.inputs,
                    "`main` cannot take parameters: read arguments with `std::env::args()` instead",
                ));
            }
        }
        Kind::Test => {
            if let Some(receiver) = sig
                .inputs
                .iter()
                .find(|arg| matches!(arg, FnArg::Receiver(_)))
            {
                report(syn::Error::new_spanned(
                    receiver,
                    "`#[aiolos::test]` goes on a free function, not a method: remove `self`",
                ));
            } else if !sig.inputs.is_empty() {
                report(syn::Error::new_spanned(
                    &sig.inputs,
                    "test functions cannot take parameters: build the inputs inside the test",
                ));
            }
            if !sig.generics.params.is_empty() {
                report(syn::Error::new_spanned(
                    &sig.generics,
                    "test functions cannot be generic: remove the generic parameters",
                ));
            }
            if let Some(attr) = func.attrs.iter().find(|attr| attr.path().is_ident("test")) {
                report(syn::Error::new_spanned(
                    attr,
                    "`#[aiolos::test]` already adds `#[test]`: remove this one",
                ));
            }
        }
    }
}

/// Whether `#[test]` can be put on the function without an error of its own.
fn test_signature_ok(func: &ItemFn) -> bool {
    func.sig.inputs.is_empty()
        && func.sig.generics.params.is_empty()
        && !func.attrs.iter().any(|attr| attr.path().is_ident("test"))
}

/// Builds the sync function. `as_test` puts `#[test]` in front.
fn expand_fn(kind: Kind, args: &Args, func: ItemFn, as_test: bool) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    sig.asyncness = None;

    let runtime = match &args.worker_threads {
        Some(n) => quote! { ::aiolos::Runtime::builder().worker_threads(#n).build() },
        None => quote! { ::aiolos::Runtime::new() },
    };
    let expect = format!("{} could not start the aiolos runtime", kind.attr());
    let test_attr = if as_test {
        quote! { #[::core::prelude::v1::test] }
    } else if kind == Kind::Test {
        quote! { #[allow(dead_code)] }
    } else {
        quote! {}
    };
    // Give the final statement the span of the body's last statement, so
    // that a body whose value does not match the return type is blamed
    // there, not at the attribute.
    let blame = block
        .stmts
        .last()
        .map_or_else(|| block.brace_token.span.close(), Spanned::span);
    let last = quote_spanned! {blame=>
        #[allow(clippy::needless_return, clippy::diverging_sub_expression)]
        {
            return __aiolos_rt.block_on(__aiolos_body);
        }
    };
    quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            let __aiolos_body = async move #block;
            #[allow(clippy::expect_used)]
            let __aiolos_rt = #runtime.expect(#expect);
            #last
        }
    }
}
