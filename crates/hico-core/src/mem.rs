//! Heap accounting: a global allocator that counts live bytes, the peak since the last
//! [`reset`], and the largest single allocation since then.
//!
//! A binary or test opts in with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: hico_core::mem::Tracking = hico_core::mem::Tracking;
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
