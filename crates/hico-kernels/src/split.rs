//! Static work splitting: a kernel's tasks cut into one contiguous share per thread of
//! rayon's pool, share `k` always run by thread `k` (OpenMP's `schedule(static)`).
//!
//! rayon's `par_iter` hands tasks out by work stealing, so which core runs which task
//! changes from call to call. For a kernel whose input was last touched by the same split
//! (the same op repeated over the same tensor, as in a bench loop or a layer applied again)
//! this throws away what each core's private L2 already holds: the `pool` compressor read
//! its 3.2 MB input (which fits in the two L2 caches of a 2-core machine, 2 MiB each) at
//! 0.085 ms per clip with stealing and at 0.035 ms with a static split (measured in
//! docs/performance.md, "Issue #17, session 12"). Used where the tasks are uniform, so a
//! static split loses nothing to imbalance.

use std::mem::MaybeUninit;
use std::sync::Mutex;

/// `f(i, chunk)` for every `chunk_len`-long chunk `i` of `out` (the last may be shorter),
/// the chunks cut into one contiguous share per thread of the current rayon pool; thread
/// `k` always runs share `k`. With one thread, or one chunk, runs in place.
pub fn static_chunks_mut<T: Send>(
    out: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    assert!(chunk_len > 0, "static_chunks_mut: chunks of 0 elements");
    let chunks = out.len().div_ceil(chunk_len);
    let threads = rayon::current_num_threads().min(chunks);
    if threads <= 1 {
        out.chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
        return;
    }
    // Share k: chunks [k·chunks/threads, (k+1)·chunks/threads).
    let mut shares = Vec::with_capacity(threads);
    let (mut rest, mut first) = (out, 0);
    for k in 0..threads {
        let end = (k + 1) * chunks / threads;
        let len = ((end - first) * chunk_len).min(rest.len());
        let (share, tail) = rest.split_at_mut(len);
        shares.push(Mutex::new(Some((first, share))));
        (rest, first) = (tail, end);
    }
    rayon::broadcast(|ctx| {
        let Some(slot) = shares.get(ctx.index()) else {
            return;
        };
        let taken = slot.lock().map(|mut s| s.take());
        if let Ok(Some((first, share))) = taken {
            share
                .chunks_mut(chunk_len)
                .enumerate()
                .for_each(|(i, c)| f(first + i, c));
        }
    });
}

/// A new `len`-element vector whose chunks are written as [`static_chunks_mut`] splits them:
/// each chunk is zeroed by the thread that owns it, then `f(i, chunk)` fills it. Unlike
/// `vec![0.0; len]` followed by a parallel fill, no thread zeroes the whole output first
/// (a serial pass over it, which also leaves every cache line in the caller's core for the
/// other threads to fetch).
pub fn static_vec(len: usize, chunk_len: usize, f: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    static_chunks_mut(&mut out.spare_capacity_mut()[..len], chunk_len, |i, c| {
        f(i, zeroed(c))
    });
    // SAFETY: `static_chunks_mut` ran the closure on every chunk of the first `len`
    // elements (or panicked, which unwinds past this line), and it initialised them all.
    unsafe { out.set_len(len) };
    out
}

/// `c` with every element set to 0.
fn zeroed(c: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    c.fill(MaybeUninit::new(0.0));
    // SAFETY: `MaybeUninit<f32>` has the layout of `f32`, and every element was just written.
    unsafe { &mut *(c as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::on_threads;

    #[test]
    fn every_chunk_once_with_its_index() {
        for threads in [1, 2, 3, 5] {
            for (len, chunk) in [(0, 3), (1, 3), (10, 3), (12, 3), (7, 1), (4, 10)] {
                let mut out = vec![(usize::MAX, 0usize); len];
                on_threads(threads, || {
                    static_chunks_mut(&mut out, chunk, |i, c| {
                        let thread = rayon::current_thread_index().unwrap_or(0);
                        c.iter_mut().for_each(|x| *x = (i, thread))
                    })
                });
                for (e, &(i, _)) in out.iter().enumerate() {
                    assert_eq!(i, e / chunk, "{threads} threads, {len} / {chunk}");
                }
                // Shares are contiguous and in thread order.
                let owners: Vec<usize> = out.iter().map(|&(_, t)| t).collect();
                assert!(owners.is_sorted(), "{threads} threads: {owners:?}");
            }
        }
    }

    #[test]
    fn static_vec_starts_every_chunk_at_zero() {
        for threads in [1, 2, 3] {
            for (len, chunk) in [(0, 4), (3, 4), (10, 4), (64, 8)] {
                let v = on_threads(threads, || {
                    static_vec(len, chunk, |i, c| {
                        assert!(c.iter().all(|&x| x == 0.0));
                        c.iter_mut()
                            .enumerate()
                            .for_each(|(j, x)| *x += (i * chunk + j) as f32)
                    })
                });
                let want: Vec<f32> = (0..len).map(|e| e as f32).collect();
                assert_eq!(v, want, "{threads} threads, {len} / {chunk}");
            }
        }
    }
}
