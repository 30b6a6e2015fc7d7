//! `rekon`: a thin shell over the library; see `rekon --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    tune_allocator();
    ExitCode::from(rekon::cli::main())
}

/// polars frees large buffers from many threads. By default glibc raises its
/// mmap threshold after such frees and gives every thread an arena, so freed
/// frames stay resident and each phase of a reconcile peaks on top of the
/// last; a fixed threshold and two arenas lowered the peak by a sixth.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters, and runs before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
