//! [`Loader`]: decodes samples in worker threads ahead of the training step and hands them
//! over in a fixed order (so a run is reproducible whatever the thread timing).
//!
//! Worker `w` of `W` decodes positions `start + w, start + w + W, …` of the order and sends
//! each result through its own bounded channel (capacity `prefetch`); the consumer reads
//! the channels round-robin. Memory is bounded by `W · (prefetch + 1)` decoded samples.
//! A failed decode is delivered as an `Err` (the trainer skips and counts it).

use std::{
    sync::{
        Arc,
        mpsc::{Receiver, sync_channel},
    },
    thread::JoinHandle,
};

/// One delivered item.
#[derive(Debug)]
pub struct Loaded<T> {
    /// Position in the epoch's order.
    pub position: usize,
    /// Sample index (`order[position]`).
    pub sample: usize,
    /// The decoded sample, or why it could not be decoded.
    pub result: Result<T, String>,
}

/// A decode function: sample index → decoded sample or an error message.
pub type DecodeFn<T> = Arc<dyn Fn(usize) -> Result<T, String> + Send + Sync>;

/// In-order, prefetching, multi-threaded loader over one epoch's order.
pub struct Loader<T> {
    channels: Vec<Receiver<Loaded<T>>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    end: usize,
    start: usize,
}

impl<T: Send + 'static> Loader<T> {
    /// Start `workers` threads decoding `order[start..]` with `decode`.
    pub fn spawn(
        order: Arc<Vec<usize>>,
        start: usize,
        workers: usize,
        prefetch: usize,
        decode: DecodeFn<T>,
    ) -> Self {
        let workers = workers.max(1);
        let end = order.len();
        let mut channels = Vec::new();
        let mut handles = Vec::new();
        for w in 0..workers {
            let (tx, rx) = sync_channel(prefetch.max(1));
            let (order, decode) = (order.clone(), decode.clone());
            let handle = std::thread::Builder::new()
                .name(format!("hico-loader-{w}"))
                .spawn(move || {
                    for position in (start + w..end).step_by(workers) {
                        let sample = order[position];
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            decode(sample)
                        }))
                        .unwrap_or_else(|_| Err("decoder panicked".into()));
                        let item = Loaded {
                            position,
                            sample,
                            result,
                        };
                        if tx.send(item).is_err() {
                            return; // the loader was dropped
                        }
                    }
                })
                .expect("spawning a loader thread");
            channels.push(rx);
            handles.push(handle);
        }
        Self {
            channels,
            handles,
            next: start,
            end,
            start,
        }
    }
}

impl<T> Iterator for Loader<T> {
    type Item = Loaded<T>;

    fn next(&mut self) -> Option<Loaded<T>> {
        if self.next >= self.end {
            return None;
        }
        let w = (self.next - self.start) % self.channels.len();
        let item = self.channels[w]
            .recv()
            .expect("a loader thread ended early");
        debug_assert_eq!(item.position, self.next);
        self.next += 1;
        Some(item)
    }
}

impl<T> Drop for Loader<T> {
    fn drop(&mut self) {
        self.channels.clear(); // unblocks workers waiting to send
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn delivers_in_order_with_errors_and_offset() {
        let order = Arc::new(vec![5, 3, 9, 1, 7, 2, 8]);
        let decode: DecodeFn<usize> = Arc::new(|i| {
            // Later items decode faster: order must not depend on timing.
            std::thread::sleep(Duration::from_millis((10 - i as u64) * 2));
            if i == 9 {
                Err("bad".into())
            } else {
                Ok(i * 10)
            }
        });
        let got: Vec<_> = Loader::spawn(order, 1, 3, 1, decode)
            .map(|l| (l.position, l.sample, l.result))
            .collect();
        assert_eq!(got.len(), 6);
        assert_eq!(got[0], (1, 3, Ok(30)));
        assert_eq!(got[1], (2, 9, Err("bad".into())));
        assert_eq!(got[5], (6, 8, Ok(80)));
    }

    #[test]
    fn dropping_early_stops_workers() {
        let order = Arc::new((0..100).collect::<Vec<_>>());
        let decode: DecodeFn<usize> = Arc::new(Ok);
        let mut l = Loader::spawn(order, 0, 2, 1, decode);
        assert_eq!(l.next().unwrap().result, Ok(0));
        drop(l); // must not hang
    }

    #[test]
    fn panicking_decoder_becomes_an_error() {
        let decode: DecodeFn<usize> = Arc::new(|_| panic!("boom"));
        let got: Vec<_> = Loader::spawn(Arc::new(vec![0]), 0, 1, 1, decode).collect();
        assert_eq!(got[0].result, Err("decoder panicked".into()));
    }
}
