//! A counting global allocator for the zero-allocation tests (the core's
//! `tests/footprint.rs`, the adapters' `tests/echo_allocations.rs`): a test
//! crate installs it with
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: protoswitch_testkit::alloc::Counting = protoswitch_testkit::alloc::Counting;
//! ```
//!
//! and measures with [`allocations`] (or, across `.await`s, the difference
//! of two [`allocated`]). Allocations are counted per thread (test
//! harnesses run tests on several), reallocations included.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Defers to the system allocator; counts each allocation and
/// reallocation of the calling thread.
pub struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's layout, passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: as for `dealloc`, and the caller's new size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made on this thread so far (with [`Counting`] installed).
pub fn allocated() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Allocations made by `f` on this thread (with [`Counting`] installed).
pub fn allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = allocated();
    let value = f();
    (value, allocated() - before)
}
