//! In-process encoding with FFmpeg's libraries (`ffmpeg-next`), set up as the `ffmpeg` CLI
//! sets up `-f rawvideo -pix_fmt rgb24 -r FPS -i - -c:v ENC ... -pix_fmt FMT OUT`:
//!
//! - frame rate: `FPS` as the CLI parses `-r` (`av_d2q(fps, 1001000)`; for MPEG-4 reduced to
//!   terms ≤ 65535); encoder time base its inverse, frame `i` has `pts = i` and every packet
//!   lasts one frame; stream time base proposed equal to it (the muxer may refine it) and
//!   the stream's average frame rate set (WebM writes it as the default duration);
//! - RGB → `FMT` with swscale, bicubic flags (the CLI's default for its auto-inserted scale);
//! - the encoder's default flags kept (libx264's `+cgop`), `AV_CODEC_FLAG_GLOBAL_HEADER`
//!   added when the container wants it; `-q:v` as QSCALE +
//!   `global_quality`; the other options by their AVOption names, and an option the encoder
//!   does not know is an error (the CLI refuses those too);
//! - one encoder thread (the CLI uses all cores per video; callers here run many videos at
//!   once); the encoder is drained at the end and the trailer written.

use std::path::Path;

use ff::format::Pixel;
use ff::{Dictionary, Rational};
use ffmpeg_next as ff;

use super::Codec;
use super::encode::frame_size_error;

/// Encode into `tmp` (already a temporary name; the caller renames it). Errors are
/// messages naming the step and FFmpeg's error.
pub(super) fn encode<F: AsRef<[u8]>>(
    tmp: &Path,
    (width, height): (usize, usize),
    fps: f64,
    codec: Codec,
    gop: Option<usize>,
    n_frames: usize,
    mut frame: impl FnMut(usize) -> F,
) -> Result<(), String> {
    crate::probe::init();
    let settings = codec.settings();
    let name = settings.encoder;
    if !(fps.is_finite() && fps > 0.0) {
        return Err(format!("frame rate {fps} is not a positive number"));
    }
    let (w, h) = (
        u32::try_from(width).map_err(|_| format!("width {width} too large"))?,
        u32::try_from(height).map_err(|_| format!("height {height} too large"))?,
    );
    let pix = match codec {
        Codec::H264Lossless => Pixel::YUV444P,
        Codec::H264 | Codec::Vp9 | Codec::Mpeg4 => Pixel::YUV420P,
    };
    let enc_codec =
        ff::encoder::find_by_name(name).ok_or_else(|| format!("FFmpeg has no encoder {name}"))?;
    let mut octx = ff::format::output(tmp).map_err(fail(
        "cannot create the output (container chosen from the file extension)",
    ))?;
    let rate = frame_rate(fps, codec);
    let time_base = Rational::new(rate.denominator(), rate.numerator());

    let mut enc = ff::codec::context::Context::new_with_codec(enc_codec)
        .encoder()
        .video()
        .map_err(fail("cannot make a video encoder context"))?;
    enc.set_width(w);
    enc.set_height(h);
    enc.set_format(pix);
    enc.set_time_base(time_base);
    enc.set_frame_rate(Some(rate));
    if let Some(g) = gop {
        enc.set_gop(u32::try_from(g.max(1)).unwrap_or(u32::MAX));
    }
    // Keep the encoder's default flags (libx264's include `+cgop`: closed GOPs).
    // SAFETY: reading a plain field of the allocated context.
    let mut flags = ff::codec::Flags::from_bits_truncate(unsafe { (*enc.as_ptr()).flags } as _);
    if octx
        .format()
        .flags()
        .contains(ff::format::Flags::GLOBAL_HEADER)
    {
        flags |= ff::codec::Flags::GLOBAL_HEADER;
    }
    if let Some(q) = settings.qscale {
        flags |= ff::codec::Flags::QSCALE;
        enc.set_global_quality(q * ff::ffi::FF_QP2LAMBDA);
    }
    enc.set_flags(flags);
    let mut opts = Dictionary::new();
    for (key, value) in settings.options {
        opts.set(key, value);
    }
    opts.set("threads", "1");
    // SAFETY: `enc` is an unopened context allocated for `enc_codec`; `raw` is an owned
    // dictionary that avcodec_open2 may replace and that is owned again right after.
    let (res, left) = unsafe {
        let mut raw = opts.disown();
        let res = ff::ffi::avcodec_open2(enc.as_mut_ptr(), enc_codec.as_ptr(), &mut raw);
        (res, Dictionary::own(raw))
    };
    if res < 0 {
        return Err(fail(&format!("cannot open encoder {name}"))(
            ff::Error::from(res),
        ));
    }
    if let Some((key, value)) = left.iter().next() {
        return Err(format!("encoder {name} has no option {key} (= {value})"));
    }
    let mut enc = ff::encoder::video::Encoder(enc);

    let index = {
        let mut ost = octx
            .add_stream(enc_codec)
            .map_err(fail("cannot add a video stream"))?;
        ost.set_parameters(&enc);
        ost.set_time_base(time_base);
        ost.set_avg_frame_rate(rate);
        ost.index()
    };
    octx.write_header()
        .map_err(fail("cannot write the container header"))?;
    let out_tb = octx.stream(index).expect("stream just added").time_base();

    let mut scaler = ff::software::scaling::Context::get(
        Pixel::RGB24,
        w,
        h,
        pix,
        w,
        h,
        ff::software::scaling::Flags::BICUBIC,
    )
    .map_err(fail("cannot set up the RGB conversion"))?;
    let mut rgb = ff::frame::Video::new(Pixel::RGB24, w, h);
    let mut yuv = ff::frame::Video::empty();
    let mut sink = Sink {
        octx: &mut octx,
        index,
        from: time_base,
        to: out_tb,
    };
    let row = 3 * width;
    for i in 0..n_frames {
        let frame = frame(i);
        let bytes = frame.as_ref();
        if bytes.len() != row * height {
            return Err(frame_size_error(i, bytes.len(), (width, height)));
        }
        let stride = rgb.stride(0);
        let data = rgb.data_mut(0);
        for (y, src) in bytes.chunks_exact(row).enumerate() {
            data[y * stride..y * stride + row].copy_from_slice(src);
        }
        scaler
            .run(&rgb, &mut yuv)
            .map_err(fail(&format!("cannot convert frame {i} from RGB")))?;
        yuv.set_pts(Some(i as i64));
        enc.send_frame(&yuv)
            .map_err(fail(&format!("encoder {name} refused frame {i}")))?;
        sink.drain(&mut enc)?;
    }
    enc.send_eof()
        .map_err(fail(&format!("cannot flush encoder {name}")))?;
    sink.drain(&mut enc)?;
    octx.write_trailer()
        .map_err(fail("cannot write the container trailer"))
}

/// `map_err` adapter: "`what`: FFmpeg's message".
fn fail(what: &str) -> impl FnOnce(ff::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// The frame rate the CLI takes from `-r {fps}` (`av_parse_video_rate` →
/// `av_d2q(fps, 1001000)`), reduced to terms ≤ 65535 for MPEG-4 as the CLI does.
fn frame_rate(fps: f64, codec: Codec) -> Rational {
    // SAFETY: plain arithmetic functions of libavutil.
    unsafe {
        let mut q = ff::ffi::av_d2q(fps, 1_001_000);
        if codec == Codec::Mpeg4 {
            let (num, den) = (q.num, q.den);
            ff::ffi::av_reduce(
                &mut q.num,
                &mut q.den,
                i64::from(num),
                i64::from(den),
                65535,
            );
        }
        Rational::from(q)
    }
}

/// Where encoded packets go: the muxer's stream `index`, timestamps from the encoder's
/// time base `from` to the stream's `to`.
struct Sink<'a> {
    octx: &'a mut ff::format::context::Output,
    index: usize,
    from: Rational,
    to: Rational,
}

impl Sink<'_> {
    /// Write every packet the encoder has ready.
    fn drain(&mut self, enc: &mut ff::encoder::video::Encoder) -> Result<(), String> {
        let mut pkt = ff::Packet::empty();
        loop {
            match enc.receive_packet(&mut pkt) {
                Ok(()) => {}
                Err(ff::Error::Eof) => return Ok(()),
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {
                    return Ok(());
                }
                Err(e) => return Err(format!("encoder failed: {e}")),
            }
            if pkt.duration() <= 0 {
                pkt.set_duration(1);
            }
            pkt.set_stream(self.index);
            pkt.rescale_ts(self.from, self.to);
            pkt.write_interleaved(self.octx)
                .map_err(|e| format!("cannot write a packet: {e}"))?;
        }
    }
}
