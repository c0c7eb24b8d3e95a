//! Exact frame access: [`FrameReader`] returns, for each requested index, the frame a full
//! sequential decode shows at that index, resized without crop to `size × size` RGB.
//!
//! Frame `i` is identified by its presentation time snapped to the frame grid:
//! `i = round((pts − start) · time_base · fps)`. For each target (sorted, deduplicated) the
//! reader either keeps decoding forward from where it is, or seeks to the keyframe before
//! the target (via the container's index) and decodes forward from there, whichever
//! decodes fewer frames; dense targets therefore become one sequential pass.
//!
//! Within one [`FrameReader::read`], frames that are neither wanted nor referenced by other
//! frames (most B-frames) are not decoded at all: the decoder discards a non-reference
//! packet whose frame lies *before the last target of the current read* and is not a target.
//! Frames past the last target always decode normally, so packets the decoder buffers ahead
//! (reordering delay, frame threads) are intact when a later read wants them; a later read
//! that wants an earlier frame seeks back, since the reader is already past it.
//!
//! A read of many frames spread over several keyframes is split into contiguous groups
//! decoded in parallel by independent readers of the same file (see `split.rs`); each group
//! is exact on its own, so the whole read is.

use std::path::{Path, PathBuf};

use ffmpeg_next as ff;
use hico_core::VideoInfo;
use hico_core::config::ResizeKind;

mod convert;
mod split;

use crate::probe::{Opened, open};
use crate::{Frames, Strategy, VideoError};

/// Decoded frames kept between targets: the last frame at or before the position.
struct Last {
    index: usize,
    frame: ff::frame::Video,
}

/// A video opened once for repeated exact reads.
pub struct FrameReader {
    path: PathBuf,
    opened: Opened,
    decoder: ff::decoder::Video,
    /// Index of the next frame the decoder will output, when known.
    next: Option<usize>,
    last: Option<Last>,
    eof: bool,
    /// Pixel-format conversion and resizing state (see `convert.rs`).
    converter: Option<convert::Converter>,
    /// How frames reach the output size.
    resize: ResizeKind,
    strategy: Strategy,
    /// Decoders a large read may use at once.
    threads: usize,
    /// Targets of the current `read` (sorted, deduplicated); empty outside a read.
    wanted: Vec<usize>,
    /// Whether the decoder currently discards non-reference frames.
    skipping: bool,
    /// Frames decoded so far (for benchmarks and tests).
    pub decoded: usize,
    /// Seeks performed so far.
    pub seeks: usize,
    /// Target groups handed to extra decoders by split reads so far (0: every read serial).
    pub split_groups: usize,
}

impl FrameReader {
    /// Open `path` and prepare a decoder for its best video stream.
    pub fn open(path: &Path) -> Result<Self, VideoError> {
        Self::open_with(path, 0)
    }

    /// Open with `decoder_threads` frame threads for the codec (0: FFmpeg's choice).
    fn open_with(path: &Path, decoder_threads: usize) -> Result<Self, VideoError> {
        let opened = open(path)?;
        let stream = opened
            .input
            .stream(opened.stream)
            .expect("stream index from open");
        let err = |e: ff::Error| VideoError::Open {
            path: path.to_path_buf(),
            message: format!("cannot open the video decoder: {e}"),
        };
        let mut ctx =
            ff::codec::context::Context::from_parameters(stream.parameters()).map_err(err)?;
        ctx.set_threading(ff::codec::threading::Config {
            kind: ff::codec::threading::Type::Frame,
            count: decoder_threads,
            ..Default::default()
        });
        let decoder = ctx.decoder().video().map_err(err)?;
        Ok(Self {
            path: path.to_path_buf(),
            opened,
            decoder,
            next: Some(0),
            last: None,
            eof: false,
            converter: None,
            resize: ResizeKind::Swscale,
            strategy: Strategy::Auto,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            wanted: Vec::new(),
            skipping: false,
            decoded: 0,
            seeks: 0,
            split_groups: 0,
        })
    }

    /// How many decoders a large read may run in parallel (default: the number of cores;
    /// 1 turns splitting off).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// How frames reach the output size (default [`ResizeKind::Swscale`]; the released
    /// VideoChat-Flash models want [`ResizeKind::PilBicubic`]).
    pub fn set_resize(&mut self, resize: ResizeKind) {
        self.resize = resize;
    }

    /// What the header (or a packet count) says about the video.
    pub fn info(&self) -> &VideoInfo {
        &self.opened.info
    }

    /// Choose how targets are reached (default [`Strategy::Auto`]).
    pub fn set_strategy(&mut self, strategy: Strategy) {
        self.strategy = strategy;
    }

    fn err(&self, context: impl Into<String>, message: impl std::fmt::Display) -> VideoError {
        VideoError::Decode {
            path: self.path.clone(),
            context: context.into(),
            message: message.to_string(),
        }
    }

    /// Stream timestamp of frame `i` on the frame grid.
    fn ts_of(&self, i: usize) -> i64 {
        let o = &self.opened;
        o.start + (i as f64 / (o.info.fps * o.time_base)).round() as i64
    }

    /// Frame index of stream timestamp `ts`.
    fn index_of(&self, ts: i64) -> usize {
        let o = &self.opened;
        ((ts - o.start) as f64 * o.time_base * o.info.fps)
            .round()
            .max(0.0) as usize
    }

    /// Index of the keyframe at or before frame `i`, from the container's index (if any).
    fn keyframe_before(&mut self, i: usize) -> Option<usize> {
        let ts = self.ts_of(i);
        let idx = self.opened.stream;
        // SAFETY: the stream pointer is valid while `input` lives; the entry pointer is
        // read immediately and not kept.
        let entry_ts = unsafe {
            let st = *(*self.opened.input.as_mut_ptr()).streams.add(idx);
            let e = ff::ffi::avformat_index_get_entry_from_timestamp(
                st,
                ts,
                ff::ffi::AVSEEK_FLAG_BACKWARD,
            );
            if e.is_null() {
                return None;
            }
            (*e).timestamp
        };
        Some(self.index_of(entry_ts).min(i))
    }

    /// Seek so that decoding resumes at the keyframe at or before frame `i`.
    fn seek(&mut self, i: usize) -> Result<(), VideoError> {
        let ts = self.ts_of(i);
        // SAFETY: plain FFI call on the live format context.
        let r = unsafe {
            ff::ffi::av_seek_frame(
                self.opened.input.as_mut_ptr(),
                self.opened.stream as i32,
                ts,
                ff::ffi::AVSEEK_FLAG_BACKWARD,
            )
        };
        if r < 0 {
            return Err(self.err(format!("seek to frame {i}"), ff::Error::from(r)));
        }
        self.decoder.flush();
        self.seeks += 1;
        self.next = None;
        self.last = None;
        self.eof = false;
        Ok(())
    }

    /// Decode one more frame into `self.last`; `Ok(false)` at the end of the stream.
    fn step(&mut self) -> Result<bool, VideoError> {
        let mut frame = ff::frame::Video::empty();
        let mut packet = ff::Packet::empty();
        loop {
            match self.decoder.receive_frame(&mut frame) {
                Ok(()) => {
                    let index = match (frame.timestamp(), self.next) {
                        (Some(ts), _) => self.index_of(ts),
                        (None, Some(n)) => n,
                        (None, None) => return Err(self.err("decode", "frame without timestamp")),
                    };
                    self.decoded += 1;
                    self.next = Some(index + 1);
                    self.last = Some(Last { index, frame });
                    return Ok(true);
                }
                Err(ff::Error::Eof) => return Ok(false),
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {}
                Err(e) => return Err(self.err("receive frame", e)),
            }
            if self.eof {
                return Ok(false);
            }
            match packet.read(&mut self.opened.input) {
                Ok(()) if packet.stream() == self.opened.stream => {
                    let skip = packet
                        .pts()
                        .is_some_and(|ts| self.skippable(self.index_of(ts)));
                    if skip != self.skipping {
                        self.decoder.skip_frame(if skip {
                            ff::Discard::NonReference
                        } else {
                            ff::Discard::Default
                        });
                        self.skipping = skip;
                    }
                    // Corrupt packets are skipped, as the ffmpeg CLI does.
                    let _ = self.decoder.send_packet(&packet);
                }
                Ok(()) => {}
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {}
                Err(_) => {
                    // End of file (or a truncated tail): drain the decoder.
                    self.eof = true;
                    let _ = self.decoder.send_eof();
                }
            }
        }
    }

    /// Whether frame `i`, if no other frame references it, need not be decoded: it lies
    /// before the current read's last target and is not a target.
    fn skippable(&self, i: usize) -> bool {
        self.wanted
            .last()
            .is_some_and(|&last| i < last && self.wanted.binary_search(&i).is_err())
    }

    /// Decode forward until the last frame at or before `i` is in `self.last` and the
    /// next frame is past `i`.
    fn advance_to(&mut self, i: usize) -> Result<(), VideoError> {
        loop {
            if let Some(last) = &self.last
                && last.index == i
            {
                return Ok(());
            }
            let before = self.last.as_ref().map(|l| l.index);
            if !self.step()? {
                return match before {
                    Some(b) if b <= i && i < self.opened.info.n_frames => {
                        // The stream ends before `i`: the header over-counted.
                        Err(self.err(
                            format!("frame {i}"),
                            format!("the stream ends at frame {b} (truncated file?)"),
                        ))
                    }
                    _ => Err(self.err(format!("frame {i}"), "end of stream before the frame")),
                };
            }
            let now = self.last.as_ref().map(|l| l.index).unwrap_or(0);
            if now > i {
                // Jumped past `i` (a gap in timestamps): the frame shown at `i` is the
                // previous one, if we have it.
                return Err(self.err(
                    format!("frame {i}"),
                    format!("decoding resumed at frame {now}, past the target"),
                ));
            }
        }
    }

    /// Whether reaching `i` by seeking decodes fewer frames than decoding forward.
    fn should_seek(&mut self, i: usize) -> bool {
        let Some(next) = self.next.filter(|_| !self.eof) else {
            return true;
        };
        let cur = self.last.as_ref().map(|l| l.index);
        if cur == Some(i) {
            return false;
        }
        if i < next {
            return true;
        }
        match self.strategy {
            Strategy::Sequential => false,
            Strategy::Seek => i > next,
            Strategy::Auto => {
                let forward = i - next;
                // Without an index, assume a 250-frame GOP (x264's default keyint).
                match self.keyframe_before(i) {
                    // Seeking helps only if it lands after where we are.
                    Some(k) => k > next && forward > i - k + 8,
                    None => forward > 250 + 8,
                }
            }
        }
    }

    /// Reach frame `i`: seek if worth it, then decode forward; retry from further back
    /// if a seek landed after `i`.
    fn goto(&mut self, i: usize) -> Result<(), VideoError> {
        if self.should_seek(i) {
            let mut back = 0usize;
            loop {
                let target = i.saturating_sub(back);
                if target == 0 {
                    self.seek(0)?;
                    self.next = Some(0);
                    return self.advance_to(i);
                }
                self.seek(target)?;
                if !self.step()? {
                    return Err(self.err(format!("frame {i}"), "nothing decodes after seeking"));
                }
                let landed = self.last.as_ref().map(|l| l.index).unwrap_or(usize::MAX);
                if landed <= i {
                    break;
                }
                back = (back * 2).max(32);
            }
        }
        self.advance_to(i)
    }

    /// Read frames `indices` (any order, repeats allowed) as `size × size` RGB.
    ///
    /// May be called repeatedly; increasing chunks continue where the last call stopped.
    pub fn read(&mut self, indices: &[usize], size: usize) -> Result<Frames, VideoError> {
        let n = self.opened.info.n_frames;
        if size == 0 || size > crate::probe::MAX_SIDE as usize {
            return Err(VideoError::Invalid {
                path: self.path.clone(),
                message: format!(
                    "output size {size} must be in 1..={}",
                    crate::probe::MAX_SIDE
                ),
            });
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(VideoError::OutOfRange {
                path: self.path.clone(),
                index: bad,
                n_frames: n,
            });
        }
        let mut order: Vec<usize> = indices.to_vec();
        order.sort_unstable();
        order.dedup();
        let frame_bytes = 3 * size * size;
        let unique = self.read_split(&order, size)?;
        let mut data = Vec::with_capacity(indices.len() * frame_bytes);
        for i in indices {
            let k = order.binary_search(i).expect("index in order");
            data.extend_from_slice(&unique[k * frame_bytes..(k + 1) * frame_bytes]);
        }
        Ok(Frames {
            size,
            count: indices.len(),
            data,
        })
    }
}

impl FrameReader {
    /// Read the sorted, deduplicated targets `order` with this reader's decoder only.
    fn read_serial(&mut self, order: &[usize], size: usize) -> Result<Vec<u8>, VideoError> {
        let mut out = Vec::with_capacity(order.len() * 3 * size * size);
        self.wanted = order.to_vec();
        let result = order.iter().try_for_each(|&i| {
            self.goto(i)?;
            self.convert_last(size, &mut out)
        });
        self.wanted.clear();
        result.map(|()| out)
    }
}

/// Decode every frame of `path` in order (the sequential reference): frame `k` of the
/// result is the `k`-th frame the decoder outputs, with no timestamp logic at all.
pub fn decode_all(path: &Path, size: usize) -> Result<Frames, VideoError> {
    let mut r = FrameReader::open(path)?;
    let mut data = Vec::new();
    let mut count = 0;
    while r.step()? {
        r.convert_last(size, &mut data)?;
        count += 1;
    }
    Ok(Frames { size, count, data })
}

/// The first frame of `path` (an image such as a JPEG of a frame folder, or a video) at
/// `size × size`, resized as `resize` says: the frames of a benchmark's frame folders go
/// through the same conversion as video frames.
pub fn decode_image(
    path: &Path,
    size: usize,
    resize: hico_core::config::ResizeKind,
) -> Result<Frames, VideoError> {
    let mut r = FrameReader::open(path)?;
    // Opening counted the packets of a header without a frame count and rewound; the image
    // demuxer does not rewind a lone image, so read it from a fresh input.
    r.opened.input = crate::probe::open_input(path)?;
    r.set_resize(resize);
    let mut data = Vec::new();
    if !r.step()? {
        return Err(VideoError::Decode {
            path: path.to_owned(),
            context: "frame 0".into(),
            message: "no frame in the file".into(),
        });
    }
    r.convert_last(size, &mut data)?;
    Ok(Frames {
        size,
        count: 1,
        data,
    })
}

#[cfg(test)]
mod image_tests {
    use super::*;

    #[test]
    fn a_lone_jpeg_decodes_as_one_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frame_1.jpg");
        let status = std::process::Command::new("ffmpeg")
            .args(["-y", "-loglevel", "error", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=96x64:rate=1:duration=1")
            .arg(&path)
            .status()
            .expect("ffmpeg CLI");
        assert!(status.success());
        let f = decode_image(&path, 32, ResizeKind::Swscale).unwrap();
        assert_eq!((f.count, f.data.len()), (1, 32 * 32 * 3));
        assert!(f.data.iter().any(|&b| b > 0));
    }
}
