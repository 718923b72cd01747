//! `pythumbiotonemap`: HDR video (PQ or HLG, usually BT.2020) to SDR BT.709 RGB, so that a
//! phone's HDR recording does not come out grey and washed out; SDR video passes through
//! untouched (the element is in passthrough, the buffers are not even mapped).
//!
//! Per pixel, on the small frames after scaling:
//! 1. Y'CbCr to R'G'B' with the source's matrix and range.
//! 2. To linear light in nits: PQ's EOTF (SMPTE ST 2084); for HLG, its inverse OETF and the
//!    OOTF for a 1000-nit display, system gamma 1.2, applied to each channel as ffmpeg's zscale
//!    (zimg) applies it, so that an HLG picture made from SDR comes back in its colours (BT.2100's
//!    luminance-weighted form lifts dark channels of saturated colours by up to 40 levels
//!    against it; the two agree on greys).
//! 3. Relative to HDR reference white, 203 nits (BT.2408): there SDR white is 1.0.
//! 4. The luminance range mapped by its largest channel (hue kept): linear up to [`KNEE`] of SDR
//!    white, above it an extended-Reinhard roll-off that reaches 1.0 at the source's peak (its
//!    content light level when the stream states one, else its mastering display's peak, else
//!    1000 nits), with slope 1 at the knee so that nothing bends visibly there.
//! 5. BT.2020 primaries to BT.709 (linear 3x3), clipped to the gamut.
//! 6. Encoded for an SDR display (BT.1886: the inverse of a 2.4 power, black at 0), to 8-bit RGB:
//!    PQ is display light, so the SDR picture is the one whose display shows that light, as
//!    ffmpeg's zscale takes SDR to PQ and back.
//!
//! Built as gst-plugins-rs builds its elements: the wrapper type and its registration here, the
//! implementation in `imp`; the colour maths below as plain functions.

mod imp;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;

glib::wrapper! {
    pub struct ToneMap(ObjectSubclass<imp::ToneMap>)
        @extends gst_video::VideoFilter, gstreamer_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers the element, in `plugin` or (None) in the process only.
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    gst::Element::register(
        plugin,
        "pythumbiotonemap",
        gst::Rank::NONE,
        ToneMap::static_type(),
    )
}

/// HDR reference white (BT.2408), in nits: SDR white.
const REFERENCE_WHITE: f64 = 203.0;
/// The peak assumed when the stream states none (HDR10's usual mastering peak), in nits.
const DEFAULT_PEAK: f64 = 1000.0;
/// Up to this share of SDR white the mapping is the identity.
const KNEE: f64 = 0.75;
/// Entries of the transfer lookup tables (linearly interpolated).
const LUT: usize = 4096;

/// Which HDR transfer a stream has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    Pq,
    Hlg,
}

impl Transfer {
    pub fn of(colorimetry: &gst_video::VideoColorimetry) -> Option<Self> {
        match colorimetry.transfer() {
            gst_video::VideoTransferFunction::Smpte2084 => Some(Self::Pq),
            gst_video::VideoTransferFunction::AribStdB67 => Some(Self::Hlg),
            _ => None,
        }
    }

    /// Linear light of a non-linear value in [0, 1]: nits for PQ, scene light in [0, 1] for HLG
    /// (the OOTF follows in [`Mapper::map`]).
    fn to_linear(self, v: f64) -> f64 {
        match self {
            Self::Pq => pq_eotf(v),
            Self::Hlg => hlg_inverse_oetf(v),
        }
    }
}

/// SMPTE ST 2084's EOTF: a PQ value in [0, 1] to nits.
pub fn pq_eotf(v: f64) -> f64 {
    const M1: f64 = 2610.0 / 16384.0;
    const M2: f64 = 2523.0 / 4096.0 * 128.0;
    const C1: f64 = 3424.0 / 4096.0;
    const C2: f64 = 2413.0 / 4096.0 * 32.0;
    const C3: f64 = 2392.0 / 4096.0 * 32.0;
    let p = v.clamp(0.0, 1.0).powf(1.0 / M2);
    10000.0 * ((p - C1).max(0.0) / (C2 - C3 * p)).powf(1.0 / M1)
}

/// HLG's inverse OETF (BT.2100): a signal in [0, 1] to scene light in [0, 1].
pub fn hlg_inverse_oetf(v: f64) -> f64 {
    const A: f64 = 0.178_832_77;
    const B: f64 = 0.284_668_92;
    const C: f64 = 0.559_910_73;
    let v = v.clamp(0.0, 1.0);
    if v <= 0.5 {
        v * v / 3.0
    } else {
        (((v - C) / A).exp() + B) / 12.0
    }
}

/// The inverse of BT.1886's EOTF (black at 0): display light in [0, 1] to the value SDR video
/// stores.
pub fn bt1886_inverse(l: f64) -> f64 {
    l.clamp(0.0, 1.0).powf(1.0 / 2.4)
}

/// Linear BT.2020 RGB to linear BT.709 RGB (BT.2087).
const BT2020_TO_BT709: [[f64; 3]; 3] = [
    [1.6605, -0.5876, -0.0728],
    [-0.1246, 1.1329, -0.0083],
    [-0.0182, -0.1006, 1.1187],
];

/// The luminance roll-off on values relative to SDR white: identity below the knee, then
/// extended Reinhard from the knee to `peak` (also relative), which maps to 1.
pub fn roll_off(l: f64, peak: f64) -> f64 {
    if l <= KNEE || peak <= 1.0 {
        return l.min(1.0);
    }
    let scale = 1.0 - KNEE;
    let (t, w) = ((l - KNEE) / scale, (peak - KNEE) / scale);
    let mapped = t * (1.0 + t / (w * w)) / (1.0 + t);
    (KNEE + scale * mapped).min(1.0)
}

/// A table of `f` over [0, 1], read with linear interpolation.
struct Table(Vec<f32>);

impl Table {
    fn of(f: impl Fn(f64) -> f64) -> Self {
        Self((0..=LUT).map(|i| f(i as f64 / LUT as f64) as f32).collect())
    }

    fn at(&self, v: f32) -> f32 {
        let x = v.clamp(0.0, 1.0) * LUT as f32;
        let i = (x as usize).min(LUT - 1);
        let frac = x - i as f32;
        self.0[i] + (self.0[i + 1] - self.0[i]) * frac
    }
}

/// What maps one stream's pixels: its transfer, primaries and peak, as tables and constants.
pub struct Mapper {
    transfer: Transfer,
    /// Non-linear value to linear light relative to SDR white (PQ), or to scene light (HLG).
    linear: Table,
    /// Display light [0, 1] to the SDR-encoded value.
    encode: Table,
    /// The source's peak relative to SDR white.
    peak: f64,
    convert_primaries: bool,
}

impl Mapper {
    /// `peak_nits`: the stream's stated peak, if any.
    pub fn new(transfer: Transfer, bt2020: bool, peak_nits: Option<f64>) -> Self {
        let peak = match transfer {
            // HLG is display-referred here for a 1000-nit display.
            Transfer::Hlg => DEFAULT_PEAK,
            Transfer::Pq => peak_nits
                .filter(|p| *p > REFERENCE_WHITE)
                .unwrap_or(DEFAULT_PEAK),
        };
        let linear = match transfer {
            Transfer::Pq => Table::of(|v| transfer.to_linear(v) / REFERENCE_WHITE),
            Transfer::Hlg => Table::of(|v| transfer.to_linear(v)),
        };
        Self {
            transfer,
            linear,
            encode: Table::of(bt1886_inverse),
            peak: peak / REFERENCE_WHITE,
            convert_primaries: bt2020,
        }
    }

    /// One pixel: non-linear R'G'B' in [0, 1] (the source's primaries) to 8-bit BT.709 RGB.
    pub fn map(&self, rgb: [f32; 3]) -> [u8; 3] {
        let mut l = rgb.map(|v| self.linear.at(v) as f64);
        if self.transfer == Transfer::Hlg {
            // The OOTF for a 1000-nit display, gamma 1.2, per channel: Fd = Lw * Es^1.2.
            l = l.map(|c| DEFAULT_PEAK * c.max(0.0).powf(1.2) / REFERENCE_WHITE);
        }
        let largest = l[0].max(l[1]).max(l[2]);
        if largest > KNEE {
            let ratio = roll_off(largest, self.peak) / largest;
            l = l.map(|c| c * ratio);
        }
        if self.convert_primaries {
            let m = &BT2020_TO_BT709;
            l = [0, 1, 2].map(|i| m[i][0] * l[0] + m[i][1] * l[1] + m[i][2] * l[2]);
        }
        l.map(|c| (self.encode.at(c as f32) * 255.0 + 0.5).clamp(0.0, 255.0) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pq_reference_points() {
        // PQ 0.5081 is about 100 nits, 0.5806 about 203, 0.7518 about 1000, 1.0 is 10000.
        assert!((pq_eotf(0.5081) - 100.0).abs() < 1.0);
        assert!((pq_eotf(0.5806) - 203.0).abs() < 2.0);
        assert!((pq_eotf(0.7518) - 1000.0).abs() < 10.0);
        assert!((pq_eotf(1.0) - 10000.0).abs() < 1.0);
        assert_eq!(pq_eotf(0.0), 0.0);
    }

    #[test]
    fn roll_off_is_identity_below_the_knee_and_reaches_white_at_the_peak() {
        for l in [0.0, 0.1, 0.5, 0.75] {
            assert_eq!(roll_off(l, 4.9), l);
        }
        assert!((roll_off(4.9, 4.9) - 1.0).abs() < 1e-9);
        // Monotonic, and smooth at the knee (slope 1 just above it).
        let mut last = 0.0;
        for i in 0..1000 {
            let l = i as f64 * 0.005;
            let v = roll_off(l, 4.9);
            assert!(v >= last, "at {l}");
            last = v;
        }
        let slope = (roll_off(KNEE + 1e-4, 4.9) - KNEE) / 1e-4;
        assert!((slope - 1.0).abs() < 0.01, "{slope}");
    }

    #[test]
    fn sdr_white_and_grey_in_pq_come_back() {
        let mapper = Mapper::new(Transfer::Pq, true, None);
        // 203 nits is SDR white, just under 1.0 once the roll-off leaves room for highlights;
        // 203 * 0.18 nits, below the knee, is an SDR display's 18% grey exactly.
        let white = 0.5806_f32;
        assert!(mapper.map([white; 3]).iter().all(|c| *c >= 235));
        let grey = pq_inverse(0.18 * REFERENCE_WHITE) as f32;
        let got = mapper.map([grey; 3]);
        let want = (bt1886_inverse(0.18) * 255.0).round() as u8;
        assert!(
            got.iter().all(|c| c.abs_diff(want) <= 2),
            "{got:?} for {want}"
        );
    }

    /// PQ's inverse EOTF, for the tests' reference values.
    fn pq_inverse(nits: f64) -> f64 {
        const M1: f64 = 2610.0 / 16384.0;
        const M2: f64 = 2523.0 / 4096.0 * 128.0;
        const C1: f64 = 3424.0 / 4096.0;
        const C2: f64 = 2413.0 / 4096.0 * 32.0;
        const C3: f64 = 2392.0 / 4096.0 * 32.0;
        let y = (nits / 10000.0).powf(M1);
        ((C1 + C2 * y) / (1.0 + C3 * y)).powf(M2)
    }
}
