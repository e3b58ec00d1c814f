//! Wakers pointing at a task cell: clone adds a reference, drop releases one,
//! wake schedules the task through its vtable.

use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::raw::{self, Header, Notified};
use super::state::WakeAction;

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A waker for the task at `ptr` that does not own a reference: wrap it in
/// `ManuallyDrop`.
///
/// # Safety
///
/// The cell must outlive every use of the returned waker (clones are fine:
/// they take their own reference).
pub(crate) unsafe fn borrowed(ptr: NonNull<Header>) -> Waker {
    // SAFETY: the vtable's functions uphold the `RawWaker` contract for task
    // pointers; the caller guarantees the pointer's lifetime.
    unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &VTABLE)) }
}

fn header<'a>(data: *const ()) -> (&'a Header, NonNull<Header>) {
    // SAFETY: every waker built here carries a non-null header pointer whose
    // cell is kept alive by the waker's reference (or by the borrowing poll).
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    // SAFETY: as above: the cell is alive for the waker's use.
    (unsafe { ptr.as_ref() }, ptr)
}

unsafe fn clone(data: *const ()) -> RawWaker {
    let (h, _) = header(data);
    h.state.ref_inc();
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    let (h, ptr) = header(data);
    match h.state.wake_by_val() {
        // SAFETY: the waker's reference moves into the `Notified`.
        WakeAction::Submit => (h.vtable.schedule)(unsafe { Notified::from_raw(ptr) }, false),
        WakeAction::Nothing => {}
        // SAFETY: the waker held the last reference.
        WakeAction::Dealloc => unsafe { (h.vtable.dealloc)(ptr) },
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    let (h, ptr) = header(data);
    if h.state.wake_by_ref() {
        // SAFETY: `wake_by_ref` added a reference for this `Notified`.
        (h.vtable.schedule)(unsafe { Notified::from_raw(ptr) }, false);
    }
}

unsafe fn drop_waker(data: *const ()) {
    let (_, ptr) = header(data);
    // SAFETY: the waker owns one reference.
    unsafe { raw::drop_reference(ptr) }
}
