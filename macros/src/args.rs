//! The arguments inside the attribute's parentheses.
//!
//! Both attributes accept the same list, `worker_threads = N`, with `N` a
//! positive integer literal. Anything else is an error whose span points at
//! the offending token and whose message names what is accepted.

use proc_macro2::{Literal, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, ExprLit, Lit, Token};

/// Which attribute is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[aiolos::main]`: the program's entry point.
    Main,
    /// `#[aiolos::test]`: a `#[test]` function.
    Test,
}

impl Kind {
    /// How the attribute is written, for error messages.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Kind::Main => "`#[aiolos::main]`",
            Kind::Test => "`#[aiolos::test]`",
        }
    }
}

/// The parsed arguments of one attribute.
#[derive(Debug, Default)]
pub(crate) struct Args {
    /// `worker_threads = N`: `N` (at least 1) as an unsuffixed literal that
    /// keeps the user's span, so a type error would still point at it.
    pub(crate) worker_threads: Option<Literal>,
}

impl Args {
    /// Parses the tokens between the attribute's parentheses.
    pub(crate) fn parse(kind: Kind, tokens: TokenStream) -> syn::Result<Args> {
        let mut args = Args::default();
        let parser = syn::meta::parser(|meta| args.parse_one(kind, &meta));
        parser.parse2(tokens)?;
        Ok(args)
    }

    /// Parses one `name = value` pair.
    fn parse_one(&mut self, kind: Kind, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        if !meta.path.is_ident("worker_threads") {
            let name = path_to_string(&meta.path);
            let msg = format!(
                "unknown argument `{name}`: {} accepts only `worker_threads = N`",
                kind.attr()
            );
            return Err(syn::Error::new_spanned(&meta.path, msg));
        }
        if self.worker_threads.is_some() {
            return Err(syn::Error::new_spanned(
                &meta.path,
                "duplicate argument `worker_threads`: give it once",
            ));
        }
        if !meta.input.peek(Token![=]) {
            return Err(syn::Error::new_spanned(
                &meta.path,
                "`worker_threads` needs a value: write `worker_threads = 4`",
            ));
        }
        let value: Expr = meta.value()?.parse()?;
        self.worker_threads = Some(worker_threads(&value)?);
        Ok(())
    }
}

/// Checks that `value` is an integer literal of at least 1 and returns it
/// unsuffixed, with its span.
fn worker_threads(value: &Expr) -> syn::Result<Literal> {
    let Expr::Lit(ExprLit {
        lit: Lit::Int(int), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            "`worker_threads` expects a positive integer literal, e.g. `worker_threads = 4`",
        ));
    };
    let n: usize = int
        .base10_parse()
        .map_err(|_| syn::Error::new_spanned(int, "`worker_threads` does not fit in a `usize`"))?;
    if n == 0 {
        return Err(syn::Error::new_spanned(
            int,
            "`worker_threads` must be at least 1",
        ));
    }
    let mut lit = Literal::usize_unsuffixed(n);
    lit.set_span(int.span());
    Ok(lit)
}

/// Renders `a::b::c` without the spaces `quote` would put in.
fn path_to_string(path: &syn::Path) -> String {
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let lead = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{lead}{}", names.join("::"))
}
