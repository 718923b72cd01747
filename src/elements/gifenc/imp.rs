//! The GIF encoder's implementation: a `VideoEncoder` whose state is the open GIF stream.

use super::{indexed, Delays};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::subclass::prelude::*;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;
use gstreamer_video::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

/// Frames without a duration or a frame rate show this long.
const DEFAULT_FRAME: gst::ClockTime = gst::ClockTime::from_mseconds(100);

struct Settings {
    dither: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self { dither: true }
    }
}

/// The negotiated input, and the GIF written so far (None until the first frame).
struct State {
    info: gst_video::VideoInfo,
    gif: Option<gif::Encoder<Vec<u8>>>,
    delays: Delays,
}

#[derive(Default)]
pub struct GifEnc {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for GifEnc {
    const NAME: &'static str = "PythumbioGifEnc";
    type Type = super::GifEnc;
    type ParentType = gst_video::VideoEncoder;
}

impl ObjectImpl for GifEnc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![glib::ParamSpecBoolean::builder("dither")
                .nick("Dither")
                .blurb("Floyd-Steinberg error diffusion to each frame's palette")
                .default_value(true)
                .mutable_ready()
                .build()]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if pspec.name() == "dither" {
            self.settings.lock().unwrap().dither = value.get().expect("type checked upstream");
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "dither" => self.settings.lock().unwrap().dither.to_value(),
            other => unreachable!("no property {other}"),
        }
    }
}

impl GstObjectImpl for GifEnc {}

impl ElementImpl for GifEnc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "pythumbio GIF encoder",
                "Codec/Encoder/Video",
                "Animated GIF that loops forever, a palette per frame, dithered, written as it goes",
                env!("CARGO_PKG_NAME"),
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let raw = gst_video::VideoCapsBuilder::new()
                .format(gst_video::VideoFormat::Rgb)
                .width_range(1..=u16::MAX as i32)
                .height_range(1..=u16::MAX as i32)
                .build();
            let gif = gst::Caps::builder("image/gif").build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &raw,
                )
                .expect("a valid template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &gif,
                )
                .expect("a valid template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl VideoEncoderImpl for GifEnc {
    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn set_format(
        &self,
        input: &gst_video::VideoCodecState<'static, gst_video::video_codec_state::Readable>,
    ) -> Result<(), gst::LoggableError> {
        let info = input.info().clone();
        let mut state = self.state.lock().unwrap();
        // A GIF has one canvas: a new size after the first frame cannot be written.
        if let Some(State {
            gif: Some(_),
            info: before,
            ..
        }) = state.as_ref()
        {
            if (before.width(), before.height()) != (info.width(), info.height()) {
                return Err(gst::loggable_error!(
                    gst::CAT_RUST,
                    "the picture size changed inside a GIF"
                ));
            }
        }
        let element = self.obj();
        let output = element
            .set_output_state(gst::Caps::builder("image/gif").build(), Some(input))
            .map_err(|_| gst::loggable_error!(gst::CAT_RUST, "no output state"))?;
        element
            .negotiate(output)
            .map_err(|_| gst::loggable_error!(gst::CAT_RUST, "image/gif is not accepted"))?;
        match state.as_mut() {
            Some(open) => open.info = info,
            None => {
                *state = Some(State {
                    info,
                    gif: None,
                    delays: Delays::default(),
                })
            }
        }
        Ok(())
    }

    fn handle_frame(
        &self,
        mut frame: gst_video::VideoCodecFrame,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let dither = self.settings.lock().unwrap().dither;
        let bytes = {
            let mut state = self.state.lock().unwrap();
            let state = state.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
            let (width, height) = (state.info.width(), state.info.height());
            let input = frame.input_buffer().ok_or(gst::FlowError::Error)?;
            let map = input.map_readable().map_err(|_| gst::FlowError::Error)?;
            let stride = state.info.stride()[0] as usize;
            let rows = (height as usize - 1) * stride + width as usize * 3;
            if map.len() < rows {
                gst::element_imp_error!(self, gst::StreamError::Format, ["frame too short"]);
                return Err(gst::FlowError::Error);
            }
            let picture = indexed(
                map.as_slice(),
                width as usize,
                height as usize,
                stride,
                dither,
            );
            let fps = state.info.fps();
            let per_frame = (fps.numer() > 0).then(|| {
                gst::ClockTime::SECOND
                    .mul_div_floor(fps.denom() as u64, fps.numer() as u64)
                    .unwrap_or(DEFAULT_FRAME)
            });
            let duration = frame.duration().or(per_frame).unwrap_or(DEFAULT_FRAME);
            let delay = state
                .delays
                .next(frame.pts().unwrap_or(gst::ClockTime::ZERO), duration);
            let encode = |e: gif::EncodingError| {
                gst::element_imp_error!(self, gst::StreamError::Encode, ["{e}"]);
                gst::FlowError::Error
            };
            if state.gif.is_none() {
                let mut gif = gif::Encoder::new(Vec::new(), width as u16, height as u16, &[])
                    .map_err(encode)?;
                gif.set_repeat(gif::Repeat::Infinite).map_err(encode)?;
                state.gif = Some(gif);
            }
            let gif = state.gif.as_mut().expect("opened above");
            let mut out = gif::Frame::from_palette_pixels(
                width as u16,
                height as u16,
                picture.pixels,
                picture.palette,
                None,
            );
            out.delay = delay;
            gif.write_frame(&out).map_err(encode)?;
            std::mem::take(gif.get_mut())
        };
        frame.set_output_buffer(gst::Buffer::from_mut_slice(bytes));
        self.obj().finish_frame(frame)
    }

    /// At EOS: the trailer, which ends the GIF.
    fn finish(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        let gif = self
            .state
            .lock()
            .unwrap()
            .as_mut()
            .and_then(|s| s.gif.take());
        let Some(gif) = gif else {
            return Ok(gst::FlowSuccess::Ok);
        };
        let tail = gif.into_inner().map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Encode, ["{e}"]);
            gst::FlowError::Error
        })?;
        self.obj()
            .static_pad("src")
            .expect("an encoder has a src pad")
            .push(gst::Buffer::from_mut_slice(tail))
    }
}
