//! Errors users can meet: an invalid worker count, nested `block_on` on a
//! worker thread, and spawning or asking for the current runtime outside one.
//! Each must say what happened in a message, never deadlock.

mod common;

use aiolos::{Handle, Runtime, TaskError};
use common::*;
use std::io::ErrorKind;
use std::sync::Arc;

#[test]
fn zero_worker_threads_is_rejected_at_build_with_invalid_input() {
    let err = Runtime::builder()
        .worker_threads(0)
        .build()
        .expect_err("build() with worker_threads(0) must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(
        msg.contains("worker_threads"),
        "message does not name worker_threads: {msg:?}"
    );
}

/// Unwraps a task result that must be the nested-block_on panic.
fn expect_nested_block_on_panic<T: std::fmt::Debug>(res: Result<T, TaskError>, how: &str) {
    match res {
        Err(TaskError::Panicked(_)) => {
            let msg = panic_message(&*res.unwrap_err().into_panic());
            assert!(
                msg.contains(NESTED_BLOCK_ON_MSG),
                "{how}: wrong panic message: {msg:?}"
            );
        }
        other => panic!("{how}: expected Err(Panicked), got {other:?}"),
    }
}

#[test]
fn handle_current_block_on_inside_a_task_panics_with_a_clear_message() {
    let _wd = watchdog("nested_block_on_handle_current", 120);
    let rt = runtime(2);
    let task = rt.spawn(async { Handle::current().block_on(async { 1u8 }) });
    expect_nested_block_on_panic(
        join_timeout(task, "task calling Handle::current().block_on"),
        "Handle::current().block_on",
    );
}

#[test]
fn captured_handle_block_on_inside_a_task_panics_with_a_clear_message() {
    let _wd = watchdog("nested_block_on_captured_handle", 120);
    let rt = runtime(2);
    let h = rt.handle();
    let task = rt.spawn(async move { h.block_on(async { 1u8 }) });
    expect_nested_block_on_panic(
        join_timeout(task, "task calling handle.block_on"),
        "captured handle.block_on",
    );
}

#[test]
fn runtime_block_on_inside_a_task_panics_with_a_clear_message() {
    let _wd = watchdog("nested_block_on_runtime", 120);
    let rt = Arc::new(runtime(2));
    let rt2 = rt.clone();
    let task = rt.spawn(async move { rt2.block_on(async { 1u8 }) });
    expect_nested_block_on_panic(
        join_timeout(task, "task calling rt.block_on"),
        "Runtime::block_on",
    );
    // The runtime still works afterwards.
    assert_eq!(rt.block_on(rt.spawn(async { 5u8 })).unwrap(), 5);
}

#[test]
fn nested_block_on_on_a_single_worker_panics_instead_of_deadlocking() {
    let _wd = watchdog("nested_block_on_single_worker", 120);
    let rt = runtime(1);
    // The nested future needs the (only) worker, which is the caller: a runtime
    // that did not detect this would deadlock here.
    let task = rt.spawn(async {
        Handle::current().block_on(async { aiolos::spawn(async { 2u8 }).await.unwrap() })
    });
    expect_nested_block_on_panic(join_timeout(task, "nested block_on"), "single worker");
    assert_eq!(rt.block_on(rt.spawn(async { 3u8 })).unwrap(), 3);
}

fn assert_mentions_runtime(what: &str, msg: Option<String>) {
    let msg = msg.unwrap_or_else(|| panic!("{what} outside a runtime must panic"));
    assert!(
        msg.to_lowercase().contains("runtime"),
        "{what}: panic message does not explain the missing runtime: {msg:?}"
    );
}

#[test]
fn spawn_outside_a_runtime_panics_with_a_clear_message() {
    assert_mentions_runtime(
        "aiolos::spawn",
        catch_panic_message(|| aiolos::spawn(async { 1u8 })),
    );
}

#[test]
fn spawn_blocking_outside_a_runtime_panics_with_a_clear_message() {
    assert_mentions_runtime(
        "aiolos::spawn_blocking",
        catch_panic_message(|| aiolos::spawn_blocking(|| 1u8)),
    );
}

#[test]
fn task_builder_spawn_outside_a_runtime_panics_with_a_clear_message() {
    assert_mentions_runtime(
        "task::Builder::spawn",
        catch_panic_message(|| aiolos::task::Builder::new().name("x").spawn(async { 1u8 })),
    );
}

#[test]
fn handle_current_outside_a_runtime_panics_with_a_clear_message() {
    assert_mentions_runtime("Handle::current", catch_panic_message(Handle::current));
}

#[test]
fn spawn_panicking_outside_a_runtime_leaves_no_context_behind() {
    let _ = catch_panic_message(|| aiolos::spawn(async {}));
    assert!(Handle::try_current().is_none());
    // A runtime built afterwards on the same thread works normally.
    let rt = runtime(1);
    assert_eq!(
        rt.block_on(async { aiolos::spawn(async { 4u8 }).await.unwrap() }),
        4
    );
}
