//! A raw frame the service reads itself (a placeholder's RGB), checked once: the
//! caps are raw video of the format asked for, and the buffer holds every row they say.

use super::error::{Failure, PipelineError};
use gstreamer as gst;
use gstreamer_video as gst_video;

/// The single-plane frame of a sample, mapped for reading.
pub struct RawFrame<'a> {
    pub width: usize,
    pub height: usize,
    /// Bytes from one row to the next.
    pub stride: usize,
    pub data: gst::BufferMap<'a, gst::buffer::Readable>,
}

impl<'a> RawFrame<'a> {
    /// The frame of `sample`, which must be of `format` (`bytes` per pixel, one plane).
    pub fn of(
        sample: &'a gst::Sample,
        format: gst_video::VideoFormat,
        bytes: usize,
    ) -> Result<Self, PipelineError> {
        let internal = |msg: String| PipelineError::new(Failure::Internal, msg);
        let caps = sample
            .caps()
            .ok_or_else(|| internal("the frame has no caps".into()))?;
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|_| internal("the frame's caps are not raw video".into()))?;
        if info.format() != format {
            return Err(internal(format!("the frame is not {format:?}")));
        }
        let data = sample
            .buffer()
            .ok_or_else(|| internal("the sample holds no buffer".into()))?
            .map_readable()
            .map_err(|_| internal("the frame cannot be read".into()))?;
        let (width, height) = (info.width() as usize, info.height() as usize);
        let stride = info.stride()[0] as usize;
        if width == 0 || height == 0 || data.len() < stride * (height - 1) + bytes * width {
            return Err(internal("the frame is smaller than its caps say".into()));
        }
        Ok(Self {
            width,
            height,
            stride,
            data,
        })
    }
}
