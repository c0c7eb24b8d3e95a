//! Heap accounting: a global allocator that counts live bytes, the peak since the last
//! [`reset`], and the largest single allocation since then.
//!
//! A binary or test opts in with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: hico_backend::mem::Tracking = hico_backend::mem::Tracking;
//! ```
//!
//! The CPU backends allocate tensors on the Rust heap, so this measures what a stage
//! holds exactly and per stage (unlike the process's peak RSS, which only ever grows).
//! The memory tests use it to check that long inputs never allocate an L×L buffer and that
//! streamed video encoding holds one batch of clips whatever the video length; `hico bench`
//! reports it beside peak RSS. Counting costs two relaxed atomic operations per allocation.
//! Without the opt-in every figure stays 0.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// The counting allocator (the system allocator underneath).
pub struct Tracking;

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
    LARGEST.fetch_max(size, Relaxed);
}

// SAFETY: every call forwards to `System` with the same layout; the counters only observe.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

/// What the heap held: now, at its peak and in its largest single block since [`reset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes live now.
    pub live: usize,
    /// Most bytes live at once since the last reset.
    pub peak: usize,
    /// Largest single allocation since the last reset.
    pub largest: usize,
}

impl HeapStats {
    /// Peak bytes above a baseline taken before the measured work.
    pub fn peak_above(&self, base: &HeapStats) -> usize {
        self.peak.saturating_sub(base.live)
    }
}

/// Start a measurement: the peak becomes what is live now, the largest block 0. Returns the
/// baseline. (Counts are process-wide: measure with no other work running.)
pub fn reset() -> HeapStats {
    let live = LIVE.load(Relaxed);
    PEAK.store(live, Relaxed);
    LARGEST.store(0, Relaxed);
    stats()
}

/// The counters now.
pub fn stats() -> HeapStats {
    HeapStats {
        live: LIVE.load(Relaxed),
        peak: PEAK.load(Relaxed),
        largest: LARGEST.load(Relaxed),
    }
}

/// Whether [`Tracking`] is this process's allocator (anything allocated at all was counted).
pub fn tracking() -> bool {
    drop(std::hint::black_box(vec![0u8; 1]));
    PEAK.load(Relaxed) > 0
}

/// Tells glibc's `malloc` to keep freed tensor buffers for reuse instead of handing them
/// back to the kernel; returns whether it did (only on glibc, and not when the environment
/// sets `HICO_MALLOC=system`).
///
/// A forward pass allocates and frees a fresh buffer per op, most of them between 128 KiB
/// and a few MiB. glibc's defaults serve those with `mmap` and return them with `munmap`
/// (or trim the heap top after each free), so every op pays page faults and the kernel's
/// zeroing of its output pages again: 8-12 % of a small prefill's samples (docs/performance.md).
/// With these settings blocks up to 32 MiB (the largest threshold glibc accepts on 64-bit)
/// come from the heap, the heap grows in 256 MiB steps and is not trimmed below 2 GiB,
/// so a buffer freed by one op is reused by the next. The cost: the process keeps its peak
/// heap resident until it exits (which peak RSS already counts). Binaries call it first
/// thing in `main`; `HICO_MALLOC=system` keeps glibc's defaults (the "before" of benchmarks).
pub fn keep_freed_memory() -> bool {
    if std::env::var("HICO_MALLOC").is_ok_and(|v| v == "system") {
        return false;
    }
    keep_freed_memory_glibc()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory_glibc() -> bool {
    const MIB: i32 = 1 << 20;
    // SAFETY: mallopt only sets malloc's tuning parameters; valid at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * MIB) == 1
            && libc::mallopt(libc::M_TOP_PAD, 256 * MIB) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory_glibc() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_takes_the_settings_and_memory_still_works() {
        assert!(keep_freed_memory(), "glibc refused a mallopt setting");
        // Blocks around the old mmap threshold and up to the new one allocate, fill and free.
        for mib in [1usize, 4, 31] {
            let v = vec![7u8; mib << 20];
            assert_eq!(v[v.len() - 1], 7);
        }
    }
}
