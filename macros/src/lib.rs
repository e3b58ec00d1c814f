//! The `#[aiolos::main]` and `#[aiolos::test]` attributes.
//!
//! Use them through the `aiolos` crate, which re-exports both; this crate
//! only exists because attribute macros must live in a crate of their own.
//!
//! `#[aiolos::main]` is asyncio's `asyncio.run(main())`: it turns an
//! `async fn main` into the sync entry point Rust expects, which starts a
//! runtime and blocks on the body until it finishes.
//!
//! ```ignore
//! use std::error::Error;
//!
//! #[aiolos::main]
//! async fn main() -> Result<(), Box<dyn Error>> {
//!     let answer = aiolos::spawn(async { 6 * 7 }).await?;
//!     println!("{answer}");
//!     Ok(())
//! }
//! ```
//!
//! `#[aiolos::test]` does the same for a test:
//!
//! ```ignore
//! #[aiolos::test(worker_threads = 2)]
//! async fn spawned_task_returns_its_value() {
//!     assert_eq!(aiolos::spawn(async { 1 + 1 }).await.unwrap(), 2);
//! }
//! ```
//!
//! (The examples are not run here: a proc-macro crate cannot depend on the
//! `aiolos` crate that re-exports it. `aiolos`'s own tests run them.)
//!
//! # Arguments
//!
//! | argument | meaning | default |
//! |---|---|---|
//! | `worker_threads = N` | the runtime gets `N` worker threads, `N >= 1` (`Builder::worker_threads`) | one per CPU (`Runtime::new()`) |
//!
//! # Implementation
//!
//! The function is rewritten, not wrapped: the body becomes an
//! `async move` block, and the function, now sync, builds a runtime
//! (`::aiolos::Runtime::new()` or `::aiolos::Runtime::builder()
//! .worker_threads(N).build()`) and returns `block_on` of that block. So the
//! function keeps its attributes, visibility and return type, and `return`
//! and `?` in the body work as in any `async` block. The runtime starts its
//! worker threads when the function is called and shuts them down when it
//! returns. A misuse (no `async`, parameters, an unknown or bad argument)
//! is a compile error pointing at the offending token.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![forbid(unsafe_code)]

mod args;
mod entry;

use proc_macro::TokenStream;

use crate::args::Kind;

/// Runs an `async fn main` on an aiolos runtime, like `asyncio.run(main())`.
///
/// Expands to a sync `fn main` that builds a runtime, with one worker thread
/// per CPU or with `worker_threads = N` workers, and blocks on the body. The
/// return type is kept, so `-> Result<(), E>` and `?` work.
///
/// It can also go on an `async fn` with another name, which then becomes a
/// sync function that runs its body on a runtime of its own each call.
///
/// ```ignore
/// #[aiolos::main(worker_threads = 4)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let n = aiolos::spawn(async { 40 + 2 }).await?;
///     assert_eq!(n, 42);
///     Ok(())
/// }
/// ```
///
/// # Panics
///
/// The generated `main` panics if the runtime cannot be started (for example
/// when the operating system refuses to spawn its threads).
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh aiolos runtime.
///
/// Expands to a `#[test]` function that builds a runtime, with one worker
/// thread per CPU or with `worker_threads = N` workers, and blocks on the
/// body. Other attributes such as `#[should_panic]` and `#[ignore]` are kept,
/// and so is the return type.
///
/// ```ignore
/// #[aiolos::test(worker_threads = 2)]
/// async fn spawned_task_returns_its_value() {
///     assert_eq!(aiolos::spawn(async { 1 + 1 }).await.unwrap(), 2);
/// }
/// ```
///
/// # Panics
///
/// The generated test panics if the runtime cannot be started.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Test, args.into(), item.into()).into()
}
