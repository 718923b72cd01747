//! The tone mapper's implementation: a `VideoFilter` that is in passthrough unless its input is
//! PQ or HLG, which it turns into 8-bit RGB with BT.709 colorimetry.

use super::{Mapper, Transfer};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::subclass::prelude::*;
use gstreamer_base::subclass::prelude::*;
use gstreamer_base::subclass::BaseTransformMode;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;
use gstreamer_video::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

/// How an HDR input is read and mapped.
struct State {
    mapper: Mapper,
    reader: Reader,
}

#[derive(Default)]
pub struct ToneMap {
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for ToneMap {
    const NAME: &'static str = "PythumbioToneMap";
    type Type = super::ToneMap;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for ToneMap {}
impl GstObjectImpl for ToneMap {}

impl ElementImpl for ToneMap {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "pythumbio HDR tone mapper",
                "Filter/Converter/Video",
                "PQ or HLG video to SDR BT.709 RGB (BT.2408 reference white, a roll-off to the \
                 source's peak, BT.2020 to BT.709 primaries); SDR passes through",
                env!("CARGO_PKG_NAME"),
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let any = gst::Caps::builder("video/x-raw").build();
            [gst::PadDirection::Sink, gst::PadDirection::Src]
                .map(|direction| {
                    let name = if direction == gst::PadDirection::Sink {
                        "sink"
                    } else {
                        "src"
                    };
                    gst::PadTemplate::new(name, direction, gst::PadPresence::Always, &any)
                        .expect("a valid template")
                })
                .to_vec()
        });
        TEMPLATES.as_ref()
    }
}

/// What the output is: full-range RGB, BT.709 transfer and primaries.
fn sdr_colorimetry() -> String {
    gst_video::VideoColorimetry::new(
        gst_video::VideoColorRange::Range0_255,
        gst_video::VideoColorMatrix::Rgb,
        gst_video::VideoTransferFunction::Bt709,
        gst_video::VideoColorPrimaries::Bt709,
    )
    .to_string()
}

/// Whether caps say PQ or HLG.
fn is_hdr(s: &gst::StructureRef) -> bool {
    s.get::<&str>("colorimetry")
        .ok()
        .and_then(|c| c.parse::<gst_video::VideoColorimetry>().ok())
        .and_then(|c| Transfer::of(&c))
        .is_some()
}

impl BaseTransformImpl for ToneMap {
    const MODE: BaseTransformMode = BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    /// Downstream of HDR caps: the same picture as RGB BT.709; of anything else: itself.
    /// Upstream of RGB: also any HDR input of that size.
    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let mut out = gst::Caps::new_empty();
        {
            let out = out.get_mut().expect("a new caps");
            for (s, features) in caps.iter_with_features() {
                match direction {
                    gst::PadDirection::Sink if is_hdr(s) => {
                        let mut rgb = s.to_owned();
                        rgb.set("format", "RGB");
                        rgb.set("colorimetry", sdr_colorimetry());
                        rgb.remove_fields([
                            "chroma-site",
                            "mastering-display-info",
                            "content-light-level",
                        ]);
                        out.append_structure_full(rgb, Some(features.to_owned()));
                    }
                    gst::PadDirection::Src => {
                        out.append_structure_full(s.to_owned(), Some(features.to_owned()));
                        let mut any = s.to_owned();
                        any.remove_fields(["format", "colorimetry", "chroma-site"]);
                        out.append_structure_full(any, Some(features.to_owned()));
                    }
                    _ => out.append_structure_full(s.to_owned(), Some(features.to_owned())),
                }
            }
        }
        match filter {
            Some(filter) => Some(filter.intersect_with_mode(&out, gst::CapsIntersectMode::First)),
            None => Some(out),
        }
    }
}

impl VideoFilterImpl for ToneMap {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let Some(transfer) = Transfer::of(&in_info.colorimetry()) else {
            *self.state.lock().unwrap() = None;
            return Ok(());
        };
        if out_info.format() != gst_video::VideoFormat::Rgb {
            return Err(gst::loggable_error!(
                gst::CAT_RUST,
                "HDR input maps to RGB only"
            ));
        }
        let reader = Reader::new(in_info)
            .ok_or_else(|| gst::loggable_error!(gst::CAT_RUST, "unsupported HDR input format"))?;
        // The stated peak: the content's light level, else the mastering display's.
        let content = gst_video::VideoContentLightLevel::from_caps(incaps)
            .ok()
            .map(|l| l.max_content_light_level() as f64)
            .filter(|l| *l > 0.0);
        let mastering = gst_video::VideoMasteringDisplayInfo::from_caps(incaps)
            .ok()
            .map(|m| m.max_display_mastering_luminance() as f64 / 10000.0)
            .filter(|l| *l > 0.0);
        let bt2020 = in_info.colorimetry().primaries() == gst_video::VideoColorPrimaries::Bt2020;
        *self.state.lock().unwrap() = Some(State {
            mapper: Mapper::new(transfer, bt2020, content.or(mastering)),
            reader,
        });
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let state = self.state.lock().unwrap();
        let state = state.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
        let (width, height) = (inframe.width() as usize, inframe.height() as usize);
        let stride = outframe.plane_stride()[0] as usize;
        let out = outframe
            .plane_data_mut(0)
            .map_err(|_| gst::FlowError::Error)?;
        // The planes looked up once a frame, not once a sample.
        let planes: Vec<(&[u8], usize)> = (0..inframe.n_planes())
            .map(|p| {
                let data = inframe.plane_data(p).unwrap_or(&[]);
                (data, inframe.plane_stride()[p as usize] as usize)
            })
            .collect();
        for y in 0..height {
            let row = &mut out[y * stride..y * stride + width * 3];
            for x in 0..width {
                let rgb = state.reader.rgb(&planes, x, y);
                row[x * 3..x * 3 + 3].copy_from_slice(&state.mapper.map(rgb));
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

/// Reads non-linear R'G'B' in [0, 1] from planar or semi-planar Y'CbCr of 8 to 16 bits (little
/// endian), with the stream's matrix and range.
struct Reader {
    /// For Y, Cb, Cr: plane, offset in a pixel, pixel stride, subsampling (log2) across and down,
    /// shift, and bytes a sample.
    components: [(usize, usize, usize, u32, u32, u32, usize); 3],
    /// Offset and scale of Y and of Cb/Cr to [0, 1] and [-0.5, 0.5].
    luma: (f32, f32),
    chroma: (f32, f32),
    /// R' = Y + cr_r Cr; G' = Y - cb_g Cb - cr_g Cr; B' = Y + cb_b Cb.
    cr_r: f32,
    cb_g: f32,
    cr_g: f32,
    cb_b: f32,
}

impl Reader {
    fn new(info: &gst_video::VideoInfo) -> Option<Self> {
        let finfo = info.format_info();
        if !finfo.is_yuv() || !finfo.is_le() && finfo.bits() > 8 || finfo.n_components() < 3 {
            return None;
        }
        let depth = finfo.depth()[0];
        let bytes = if depth > 8 { 2 } else { 1 };
        let mut components = [(0, 0, 0, 0, 0, 0, 0); 3];
        for (c, component) in components.iter_mut().enumerate() {
            if finfo.depth()[c] != depth {
                return None;
            }
            let stride = finfo.pixel_stride()[c];
            if stride <= 0 {
                return None;
            }
            *component = (
                finfo.plane()[c] as usize,
                finfo.poffset()[c] as usize,
                stride as usize,
                finfo.w_sub()[c],
                finfo.h_sub()[c],
                finfo.shift()[c],
                bytes,
            );
        }
        let scale = (1u32 << (depth - 8)) as f32;
        let full = info.colorimetry().range() == gst_video::VideoColorRange::Range0_255;
        let max = ((1u32 << depth) - 1) as f32;
        let (luma, chroma) = match full {
            true => ((0.0, max), (128.0 * scale, max)),
            false => (
                (16.0 * scale, 219.0 * scale),
                (128.0 * scale, 224.0 * scale),
            ),
        };
        let (kr, kb) = info
            .colorimetry()
            .matrix()
            .kr_kb()
            .unwrap_or((0.2627, 0.0593));
        let kg = 1.0 - kr - kb;
        Some(Self {
            components,
            luma,
            chroma,
            cr_r: (2.0 * (1.0 - kr)) as f32,
            cb_g: (2.0 * kb * (1.0 - kb) / kg) as f32,
            cr_g: (2.0 * kr * (1.0 - kr) / kg) as f32,
            cb_b: (2.0 * (1.0 - kb)) as f32,
        })
    }

    /// Component `c` at (`x`, `y`), from the frame's `planes` (data, stride).
    fn sample(&self, planes: &[(&[u8], usize)], c: usize, x: usize, y: usize) -> f32 {
        let (plane, offset, pixel, w_sub, h_sub, shift, bytes) = self.components[c];
        let (data, stride) = planes.get(plane).copied().unwrap_or((&[], 0));
        let at = (y >> h_sub) * stride + (x >> w_sub) * pixel + offset;
        let raw = match bytes {
            1 => data.get(at).copied().unwrap_or(0) as u32,
            _ => data
                .get(at..at + 2)
                .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as u32),
        };
        (raw >> shift) as f32
    }

    /// Non-linear R'G'B' at (`x`, `y`).
    fn rgb(&self, planes: &[(&[u8], usize)], x: usize, y: usize) -> [f32; 3] {
        let luma = (self.sample(planes, 0, x, y) - self.luma.0) / self.luma.1;
        let cb = (self.sample(planes, 1, x, y) - self.chroma.0) / self.chroma.1;
        let cr = (self.sample(planes, 2, x, y) - self.chroma.0) / self.chroma.1;
        [
            luma + self.cr_r * cr,
            luma - self.cb_g * cb - self.cr_g * cr,
            luma + self.cb_b * cb,
        ]
    }
}
