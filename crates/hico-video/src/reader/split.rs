//! Parallel reads: a read of many targets spread over several keyframes is split into
//! contiguous groups, each decoded by its own reader of the same file on its own thread.
//!
//! Each group's reader is exact on its own (it seeks to the keyframe before its first target
//! and decodes forward), so the concatenation is exactly what one serial read returns. This
//! reader takes the last group, so it ends where a serial read would and a following read
//! continues from there. Groups only start at a target with a keyframe after the previous
//! group's last target: no frame is decoded twice.

use super::FrameReader;
use crate::{Strategy, VideoError};

/// Reads of fewer targets than this stay serial (streamed clips are a few frames each, and
/// opening another reader is not free).
const MIN_SPLIT_TARGETS: usize = 16;

/// Fewest targets in one group.
const MIN_GROUP: usize = 4;

impl FrameReader {
    /// Read the sorted, deduplicated targets `order`, in parallel where worth it.
    pub(super) fn read_split(
        &mut self,
        order: &[usize],
        size: usize,
    ) -> Result<Vec<u8>, VideoError> {
        let cuts = self.cuts(order);
        let groups: Vec<_> = cuts.windows(2).map(|w| w[0]..w[1]).collect();
        let Some((last, head)) = groups.split_last().filter(|(_, head)| !head.is_empty()) else {
            return self.read_serial(order, size);
        };
        let (path, strategy, resize) = (self.path.clone(), self.strategy, self.resize);
        // Codec threads per worker: the cores left over once every group has one.
        let codec_threads = (self.threads / groups.len()).max(1);
        std::thread::scope(|s| {
            let workers: Vec<_> = head
                .iter()
                .map(|range| {
                    let (targets, path) = (&order[range.clone()], &path);
                    s.spawn(move || {
                        let mut worker = FrameReader::open_with(path, codec_threads)?;
                        worker.set_strategy(strategy);
                        worker.set_resize(resize);
                        worker.set_threads(1);
                        let out = worker.read_serial(targets, size)?;
                        Ok::<_, VideoError>((out, worker.decoded, worker.seeks))
                    })
                })
                .collect();
            let tail = self.read_serial(&order[last.clone()], size);
            let mut out = Vec::with_capacity(order.len() * 3 * size * size);
            for worker in workers {
                let (bytes, decoded, seeks) = worker
                    .join()
                    .map_err(|_| self.err("parallel read", "a decoder thread panicked"))??;
                out.extend_from_slice(&bytes);
                self.decoded += decoded;
                self.seeks += seeks;
            }
            out.extend_from_slice(&tail?);
            self.split_groups += head.len();
            Ok(out)
        })
    }

    /// Where to split `order` into at most `threads` contiguous groups of about equal span in
    /// frames, cutting only where a keyframe lies between two neighbouring targets: group `g`
    /// is `order[cuts[g]..cuts[g + 1]]`.
    fn cuts(&mut self, order: &[usize]) -> Vec<usize> {
        let n = order.len();
        let k = self.threads.min(n / MIN_GROUP);
        if self.strategy == Strategy::Sequential || n < MIN_SPLIT_TARGETS || k < 2 {
            return vec![0, n];
        }
        let (first, last) = (order[0], order[n - 1]);
        let mut cuts = vec![0];
        for g in 1..k {
            let prev = *cuts.last().expect("starts with 0");
            let mut j = order.partition_point(|&i| i < first + (last - first) * g / k);
            j = j.max(prev + MIN_GROUP);
            // Move forward to the first target with a keyframe after its predecessor.
            while j + MIN_GROUP <= n {
                match self.keyframe_before(order[j]) {
                    Some(key) if key > order[j - 1] => break,
                    Some(_) => j += 1,
                    None => return vec![0, n], // no index: keyframes unknown
                }
            }
            if j + MIN_GROUP > n {
                break;
            }
            cuts.push(j);
        }
        cuts.push(n);
        cuts
    }
}
