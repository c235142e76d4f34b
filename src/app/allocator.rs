//! The memory allocator, and handing the memory a sweep freed back to the operating system.
//!
//! jemalloc rather than the platform's: with forwarding on, glibc's malloc slow path was 15%
//! of what forwarding added to the tracker's CPU (the forwards' many short-lived buffers), and
//! musl's allocator, the one the static Docker image would get, cost 7% of plain throughput
//! (figures in docs/benchmarks.md). Fuzz builds keep the system allocator, which the
//! sanitizers watch. The tracker's binary sets jemalloc's options (src/main.rs): its heap on
//! transparent huge pages.
//!
//! After a flood of one-off torrents ages out, the freed swarms lie scattered through the
//! heap. jemalloc gives such pages back by itself over its decay time (seconds) while it is
//! busy; the tracker's sweep (src/app/tracker.rs) purges after each round that freed anything, which
//! returns them at once, also in a quiet tracker.
//! glibc (fuzz builds on Linux) returns only free space at the top of a heap unless
//! `malloc_trim` is called; musl returns memory by itself. tests/flood.rs (200,000 one-off
//! torrents and peers, release build): 91.4 MiB at the peak, 7.9 MiB after the sweep with
//! the purge, 91.5 MiB without it; glibc with `malloc_trim` kept 2.7 MiB, without 83 MiB.

#[cfg(not(any(target_env = "msvc", fuzzing)))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Returns whole free pages of the allocator's heaps to the system, where the allocator can;
/// other allocators (musl's, Windows') return memory on their own or offer no such call.
pub fn release_freed_memory() {
    #[cfg(not(any(target_env = "msvc", fuzzing)))]
    purge_jemalloc();
    #[cfg(all(fuzzing, target_os = "linux", target_env = "gnu"))]
    trim_glibc();
}

#[cfg(not(any(target_env = "msvc", fuzzing)))]
fn purge_jemalloc() {
    // jemalloc's MALLCTL_ARENAS_ALL: the purge applies to every arena.
    let purge_every_arena = c"arena.4096.purge";
    // SAFETY: a purge takes no input and writes no output, so both pairs are null; the name
    // is a NUL-terminated string that outlives the call.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            purge_every_arena.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

#[cfg(all(fuzzing, target_os = "linux", target_env = "gnu"))]
fn trim_glibc() {
    unsafe extern "C" {
        /// Releases free memory of every arena, keeping `pad` bytes at the top of the main
        /// heap; 1 if it released any.
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim takes the allocator's own locks and only gives back pages that
    // hold no live allocation; it has no preconditions.
    unsafe {
        malloc_trim(0);
    }
}
