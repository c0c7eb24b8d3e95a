//! A decoded frame to `size × size` RGB, the way `[video] resize` says:
//! - `swscale`: one swscale bicubic pass from the decoder's pixel format straight to the
//!   output size;
//! - `pil_bicubic` / `pil_bicubic_pillow13`: swscale converts the pixel format only (to RGB24
//!   at the frame's own size), then [`PilBicubic`] resizes exactly as Pillow's `BICUBIC`
//!   does (up to 12 / 13). The conversion is the one libavfilter's `scale` filter makes by
//!   default, which decord (the release's reader) and the ffmpeg CLI use: bicubic flags, and
//!   the frame's own YCbCr matrix and range (`in_color_matrix=auto`, `in_range=auto`), so a
//!   BT.709-tagged video is converted with BT.709 coefficients. (The `swscale` mode keeps
//!   swscale's defaults: BT.601 for every video.)

use ffmpeg_next as ff;
use hico_core::config::ResizeKind;

use super::FrameReader;
use crate::{PassOrder, PilBicubic, VideoError};

/// What a converter was built for: input format and size, output size, resize kind, and the
/// frame's colour space and range (raw FFmpeg values).
type Key = (ff::format::Pixel, u32, u32, usize, ResizeKind, i32, i32);

/// swscale context (and Pillow weights) for one [`Key`], reused while frames match it.
pub(super) struct Converter {
    key: Key,
    sws: ff::software::scaling::Context,
    pil: Option<PilBicubic>,
}

impl FrameReader {
    /// Convert the current frame to `size × size` RGB and append it to `out`.
    pub(super) fn convert_last(
        &mut self,
        size: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), VideoError> {
        let last = self.last.as_ref().expect("a decoded frame");
        let frame = &last.frame;
        // SAFETY: reading two plain fields of a valid decoded frame.
        let (space, range) = unsafe {
            let f = frame.as_ptr();
            ((*f).colorspace as i32, (*f).color_range as i32)
        };
        let key = (
            frame.format(),
            frame.width(),
            frame.height(),
            size,
            self.resize,
            space,
            range,
        );
        if self.converter.as_ref().is_none_or(|c| c.key != key) {
            let (fmt, w, h, _, kind, ..) = key;
            let order = match kind {
                ResizeKind::Swscale => None,
                ResizeKind::PilBicubic => Some(PassOrder::HorizontalFirst),
                ResizeKind::PilBicubicPillow13 => Some(PassOrder::Pillow13),
            };
            let (tw, th, pil) = match order {
                None => (size as u32, size as u32, None),
                Some(order) => (
                    w,
                    h,
                    Some(PilBicubic::new(w as usize, h as usize, size, size, order)),
                ),
            };
            let mut sws = ff::software::scaling::Context::get(
                fmt,
                w,
                h,
                ff::format::Pixel::RGB24,
                tw,
                th,
                ff::software::scaling::Flags::BICUBIC,
            )
            .map_err(|e| self.err("resize", e))?;
            if pil.is_some() && follow_frame_colorimetry(&mut sws, space, range) < 0 {
                return Err(self.err(
                    "convert to RGB",
                    format!("swscale refused colour space {space}, range {range}"),
                ));
            }
            self.converter = Some(Converter { key, sws, pil });
        }
        let conv = self.converter.as_mut().expect("converter set above");
        let last = self.last.as_ref().expect("a decoded frame");
        let mut rgb = ff::frame::Video::empty();
        conv.sws
            .run(&last.frame, &mut rgb)
            .map_err(|e| VideoError::Decode {
                path: self.path.clone(),
                context: format!("convert frame {}", last.index),
                message: e.to_string(),
            })?;
        let (stride, data) = (rgb.stride(0), rgb.data(0));
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        match &conv.pil {
            None => (0..h).for_each(|y| out.extend_from_slice(&data[y * stride..][..3 * w])),
            Some(pil) => {
                let mut packed = Vec::with_capacity(3 * w * h);
                (0..h).for_each(|y| packed.extend_from_slice(&data[y * stride..][..3 * w]));
                pil.resize_into(&packed, 3, out);
            }
        }
        Ok(())
    }
}

/// Make `sws` use the frame's YCbCr matrix (`space`, an `AVColorSpace`) and, when the frame
/// states it, its range (`range`, an `AVColorRange`), keeping the context's other settings:
/// what libavfilter's `scale` does per frame with its default `in_color_matrix=auto` and
/// `in_range=auto`. Returns swscale's status (negative: refused).
fn follow_frame_colorimetry(
    sws: &mut ff::software::scaling::Context,
    space: i32,
    range: i32,
) -> i32 {
    use ff::ffi;
    use std::ptr::null_mut;
    // SAFETY: `sws` is a valid context; the tables swscale hands out are static or owned by
    // the context, which outlives both calls.
    unsafe {
        let ctx = sws.as_mut_ptr();
        let (mut inv_table, mut table) = (null_mut(), null_mut());
        let (mut src_full, mut dst_full) = (0, 0);
        let (mut brightness, mut contrast, mut saturation) = (0, 1 << 16, 1 << 16);
        let got = ffi::sws_getColorspaceDetails(
            ctx,
            &mut inv_table,
            &mut src_full,
            &mut table,
            &mut dst_full,
            &mut brightness,
            &mut contrast,
            &mut saturation,
        );
        if got < 0 {
            return got;
        }
        let coefficients = ffi::sws_getCoefficients(space);
        if range != ffi::AVColorRange::AVCOL_RANGE_UNSPECIFIED as i32 {
            src_full = i32::from(range == ffi::AVColorRange::AVCOL_RANGE_JPEG as i32);
        }
        ffi::sws_setColorspaceDetails(
            ctx,
            coefficients,
            src_full,
            coefficients,
            dst_full,
            brightness,
            contrast,
            saturation,
        )
    }
}
