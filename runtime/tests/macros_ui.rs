//! Misuses of `#[aiolos::main]` and `#[aiolos::test]` are compile errors with
//! one clear message pointing at the offending token.
//!
//! Each `tests/ui/*.rs` holds one misuse; the `.stderr` beside it is the exact
//! compiler output expected. Regenerate with `TRYBUILD=overwrite` and read the
//! diff before keeping it.

#[test]
fn misuse_is_a_clear_compile_error() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
