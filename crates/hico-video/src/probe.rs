//! Opening a video: path checks, container, video stream, size limits and timing
//! (frame rate, frame count, duration), with every failure named after the file.
//!
//! The frame count comes from the container header when it is consistent with the
//! header's duration; otherwise (WebM has none, a broken header lies) the video packets are
//! counted in one demux pass (no decoding). The duration reported is `n_frames / fps`, the
//! time base the samplers and the timestamp prompt use.

use std::path::{Path, PathBuf};

use ffmpeg_next as ff;
use hico_core::VideoInfo;

use crate::VideoError;

/// Largest frame side accepted (8K is 7680): bigger headers are refused before any frame
/// buffer is allocated.
pub const MAX_SIDE: u32 = 8192;

/// An opened container plus what we know about its video stream.
pub(crate) struct Opened {
    pub input: ff::format::context::Input,
    pub stream: usize,
    pub time_base: f64,
    pub start: i64,
    pub info: VideoInfo,
}

/// Initialise FFmpeg once and silence its log (errors come back as `VideoError`s).
pub(crate) fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ff::init();
        ff::util::log::set_level(ff::util::log::Level::Fatal);
    });
}

fn open_err(path: &Path, e: impl std::fmt::Display) -> VideoError {
    VideoError::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Check the path itself: exists, is a file, is not empty.
fn check_path(path: &Path) -> Result<(), VideoError> {
    let p = || path.to_path_buf();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VideoError::Missing { path: p() },
        _ => VideoError::Io {
            path: p(),
            message: e.to_string(),
        },
    })?;
    if meta.is_dir() {
        return Err(VideoError::Directory { path: p() });
    }
    if meta.len() == 0 {
        return Err(VideoError::Empty { path: p() });
    }
    Ok(())
}

fn rational(r: ff::Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0).then(|| f64::from(r))
}

/// `avformat_open_input`, then refuse oversized video headers BEFORE
/// `avformat_find_stream_info` (which decodes frames and would allocate them).
pub(crate) fn open_input(path: &Path) -> Result<ff::format::context::Input, VideoError> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| open_err(path, "path contains a NUL byte"))?;
    // SAFETY: standard libavformat open sequence; `ps` is closed on every error path and
    // otherwise owned by the returned `Input`.
    unsafe {
        let mut ps = std::ptr::null_mut();
        let r = ff::ffi::avformat_open_input(
            &mut ps,
            c_path.as_ptr(),
            std::ptr::null(),
            std::ptr::null_mut(),
        );
        if r < 0 {
            return Err(open_err(path, ff::Error::from(r)));
        }
        for k in 0..(*ps).nb_streams as usize {
            let par = (*(*(*ps).streams.add(k))).codecpar;
            let (w, h) = ((*par).width.max(0) as u32, (*par).height.max(0) as u32);
            if (*par).codec_type == ff::ffi::AVMediaType::AVMEDIA_TYPE_VIDEO
                && (w > MAX_SIDE || h > MAX_SIDE)
            {
                ff::ffi::avformat_close_input(&mut ps);
                return Err(VideoError::FrameSize {
                    path: path.to_path_buf(),
                    width: w,
                    height: h,
                    max: MAX_SIDE,
                });
            }
        }
        let r = ff::ffi::avformat_find_stream_info(ps, std::ptr::null_mut());
        if r < 0 {
            ff::ffi::avformat_close_input(&mut ps);
            return Err(open_err(path, ff::Error::from(r)));
        }
        Ok(ff::format::context::Input::wrap(ps))
    }
}

/// Open `path`, pick its best video stream and establish its timing.
pub(crate) fn open(path: &Path) -> Result<Opened, VideoError> {
    init();
    check_path(path)?;
    let p: PathBuf = path.to_path_buf();
    let mut input = open_input(path)?;
    let Some(stream) = input.streams().best(ff::media::Type::Video) else {
        let streams: Vec<String> = input
            .streams()
            .map(|s| format!("{:?}", s.parameters().medium()).to_lowercase())
            .collect();
        return Err(VideoError::NoVideoStream {
            path: p,
            streams: if streams.is_empty() {
                "none".into()
            } else {
                streams.join(", ")
            },
        });
    };
    let index = stream.index();
    // SAFETY: `parameters()` points at the stream's live AVCodecParameters.
    let (width, height) = unsafe {
        let par = stream.parameters();
        let raw = par.as_ptr();
        ((*raw).width.max(0) as u32, (*raw).height.max(0) as u32)
    };
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(VideoError::FrameSize {
            path: p,
            width,
            height,
            max: MAX_SIDE,
        });
    }
    let tb = rational(stream.time_base()).ok_or_else(|| VideoError::Timing {
        path: p.clone(),
        message: "stream has no time base".into(),
    })?;
    let fps = rational(stream.avg_frame_rate())
        .filter(|f| (0.1..=1000.0).contains(f))
        .or_else(|| rational(stream.rate()).filter(|f| (0.1..=1000.0).contains(f)))
        .ok_or_else(|| VideoError::Timing {
            path: p.clone(),
            message: format!(
                "no usable frame rate (avg {}, base {})",
                stream.avg_frame_rate(),
                stream.rate()
            ),
        })?;
    let start = match stream.start_time() {
        s if s == ff::ffi::AV_NOPTS_VALUE => 0,
        s => s,
    };
    let header_frames = stream.frames().max(0) as usize;
    let header_duration = match stream.duration() {
        d if d > 0 && d != ff::ffi::AV_NOPTS_VALUE => d as f64 * tb,
        _ if input.duration() > 0 => input.duration() as f64 / f64::from(ff::ffi::AV_TIME_BASE),
        _ => f64::NAN,
    };
    // Trust the header's frame count only when it agrees with its duration.
    let consistent = header_frames > 0
        && header_duration.is_finite()
        && (header_frames as f64 / fps - header_duration).abs() <= 1.0 + 0.05 * header_duration;
    let n_frames = if consistent {
        header_frames
    } else {
        count_packets(&mut input, index, path)?
    };
    if n_frames == 0 {
        return Err(VideoError::Timing {
            path: p,
            message: "the video stream has no frames".into(),
        });
    }
    Ok(Opened {
        input,
        stream: index,
        time_base: tb,
        start,
        info: VideoInfo {
            n_frames,
            fps,
            duration: n_frames as f64 / fps,
            width,
            height,
        },
    })
}

/// Count the packets of stream `index` in one demux pass, then rewind.
fn count_packets(
    input: &mut ff::format::context::Input,
    index: usize,
    path: &Path,
) -> Result<usize, VideoError> {
    let mut n = 0usize;
    let mut packet = ff::Packet::empty();
    loop {
        match packet.read(input) {
            Ok(()) if packet.stream() == index => n += 1,
            Ok(()) => {}
            Err(ff::Error::Eof) => break,
            Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => continue,
            Err(e) => {
                if n > 0 {
                    break; // truncated tail: count what is there
                }
                return Err(VideoError::Decode {
                    path: path.to_path_buf(),
                    context: "counting packets".into(),
                    message: e.to_string(),
                });
            }
        }
    }
    input.seek(0, ..).map_err(|e| VideoError::Decode {
        path: path.to_path_buf(),
        context: "rewind after counting packets".into(),
        message: e.to_string(),
    })?;
    Ok(n)
}

/// Duration, frame rate, frame count and frame size of a video.
pub fn probe(path: &Path) -> Result<VideoInfo, VideoError> {
    Ok(open(path)?.info)
}
