//! What every binary without std has to provide itself: the panic handler
//! and the unwinding personality routine. Shared by `nostd-check` and
//! `nostd-deflate` (included with `mod rt;` / `#[path]`).

/// Without std there is no default panic handler. The crate never panics
/// on input, so reaching this is a bug: stop at once.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    unsafe extern "C" {
        fn abort() -> !;
    }
    // SAFETY: libc's abort takes no arguments and never returns.
    unsafe { abort() }
}

/// The prebuilt `core` was compiled for unwinding and refers to the
/// personality routine that drives it. With `panic = "abort"` nothing ever
/// unwinds, so this is never called; it only satisfies the linker. (Targets
/// whose `core` is built with `panic=abort`, like thumbv7em, need none.)
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
