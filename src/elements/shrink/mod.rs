//! `pythumbioshrink`: halves a picture that is many times larger than the box it is scaled
//! into, before the scaler. GStreamer's Lanczos costs in proportion to the input's pixels: at
//! 3840x2160 into 426x240 it took about 40 ms a frame, more than decoding the frame, and it scored
//! worse (luma PSNR 40.2 dB against 45.5) than one halving followed by Lanczos. A halving is
//! videoscale's bilinear at exactly 2x, the mean of each 2x2 block, about 1 ms a 4K frame.
//!
//! It halves while the reduction left to the scaler stays at least [`MIN_RATIO`]: a 1440p or
//! 1080p source into 426x240 is left to the scaler alone (halving it lost SSIM on both), a 4K one
//! is halved once, an 8K one twice. The reduction is the one that fits the picture inside the
//! box (`width` and `height`; 0 for a side not given), and no side is halved below the box's.
//! The caps after each halving are set from the input's caps as they come, so a change of size
//! mid-stream is followed.

mod imp;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

glib::wrapper! {
    pub struct Shrink(ObjectSubclass<imp::Shrink>)
        @extends gst::Bin, gst::Element, gst::Object,
        @implements gst::ChildProxy;
}

/// Registers the element, in `plugin` or (None) in the process only.
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    gst::Element::register(
        plugin,
        "pythumbioshrink",
        gst::Rank::NONE,
        Shrink::static_type(),
    )
}

/// The least reduction a halving leaves to the scaler, unless `min-ratio` says otherwise.
pub const MIN_RATIO: f64 = 4.0;
/// At most this many halvings (8K into the default box takes two).
pub const MAX_HALVINGS: usize = 3;

/// One side halved, rounded up: an odd side keeps its last column or row.
fn halved(side: u32) -> u32 {
    side.div_ceil(2)
}

/// The sizes after each halving of a `width` x `height` picture scaled into the box
/// `box_width` x `box_height` (0: that side is not given), each leaving at least `min_ratio` to
/// the scaler, at most [`MAX_HALVINGS`].
pub fn halvings(
    (width, height): (u32, u32),
    (box_width, box_height): (u32, u32),
    min_ratio: f64,
) -> Vec<(u32, u32)> {
    let factor = |side: u32, bound: u32| match bound {
        0 => 0.0,
        _ => f64::from(side) / f64::from(bound),
    };
    let reduction = factor(width, box_width).max(factor(height, box_height));
    let below_box = |side: u32, bound: u32| bound != 0 && halved(side) < bound && bound <= side;
    let mut sizes = Vec::new();
    let (mut w, mut h) = (width, height);
    while sizes.len() < MAX_HALVINGS
        && reduction / f64::from(2u32 << sizes.len()) >= min_ratio
        && !below_box(w, box_width)
        && !below_box(h, box_height)
    {
        (w, h) = (halved(w), halved(h));
        sizes.push((w, h));
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_many_times_larger_picture_is_halved() {
        assert_eq!(
            halvings((3840, 2160), (426, 240), MIN_RATIO),
            [(1920, 1080)]
        );
        assert_eq!(halvings((1920, 1080), (426, 240), MIN_RATIO), []);
        assert_eq!(halvings((2560, 1440), (426, 240), MIN_RATIO), []);
        assert_eq!(
            halvings((7680, 4320), (426, 240), MIN_RATIO),
            [(3840, 2160), (1920, 1080)]
        );
        assert_eq!(
            halvings((640, 360), (1280, 720), MIN_RATIO),
            [],
            "an upscale"
        );
    }

    #[test]
    fn a_side_not_given_does_not_count() {
        // A storyboard tile 160 wide: 24x, halved twice (6x left).
        assert_eq!(
            halvings((3840, 2160), (160, 0), MIN_RATIO),
            [(1920, 1080), (960, 540)]
        );
        // `width` alone leaves `height` at its largest: the width decides.
        assert_eq!(halvings((1280, 720), (100, 2160), MIN_RATIO), [(640, 360)]);
        assert_eq!(halvings((1280, 720), (0, 0), MIN_RATIO), []);
    }

    #[test]
    fn no_side_is_halved_below_the_box() {
        // Stretched to 426x2000: the height must not be halved below 2000.
        assert_eq!(halvings((3840, 2160), (426, 2000), MIN_RATIO), []);
    }

    /// 16x16 into a 1x1 box: halved twice, each pixel of the 4x4 output the mean of a 4x4 block
    /// (within 2 levels: each of the four passes rounds halves up).
    #[test]
    fn each_halving_takes_the_mean_of_two_by_two_pixels() {
        use gstreamer_app as gst_app;
        gst::init().unwrap();
        register(None).unwrap();
        let pipeline = gst::parse::launch(
            "appsrc name=in caps=video/x-raw,format=GRAY8,width=16,height=16,framerate=1/1 \
             ! pythumbioshrink width=1 height=1 ! appsink name=out",
        )
        .unwrap()
        .downcast::<gst::Bin>()
        .unwrap();
        let by_name = |name| pipeline.by_name(name).unwrap();
        let source = by_name("in").downcast::<gst_app::AppSrc>().unwrap();
        let sink = by_name("out").downcast::<gst_app::AppSink>().unwrap();
        let value = |x: usize, y: usize| ((x * 37 + y * 11 + x * y) % 251) as u8;
        let picture: Vec<u8> = (0..256).map(|i| value(i % 16, i / 16)).collect();
        pipeline.set_state(gst::State::Playing).unwrap();
        source
            .push_buffer(gst::Buffer::from_slice(picture))
            .unwrap();
        source.end_of_stream().unwrap();
        let sample = sink.pull_sample().expect("a frame");
        pipeline.set_state(gst::State::Null).unwrap();
        let caps = sample.caps().unwrap().structure(0).unwrap().to_owned();
        assert_eq!(
            (caps.get::<i32>("width"), caps.get::<i32>("height")),
            (Ok(4), Ok(4))
        );
        let map = sample.buffer().unwrap().map_readable().unwrap();
        for (i, &got) in map.iter().enumerate() {
            let (bx, by) = (i % 4 * 4, i / 4 * 4);
            let sum: usize = (0..16)
                .map(|j| usize::from(value(bx + j % 4, by + j / 4)))
                .sum();
            let want = sum as f64 / 16.0;
            assert!(
                (f64::from(got) - want).abs() <= 2.0,
                "pixel {i}: {got} where the block's mean is {want}"
            );
        }
    }

    #[test]
    fn odd_sides_round_up() {
        assert_eq!(
            halvings((3841, 2161), (426, 240), MIN_RATIO),
            [(1921, 1081)]
        );
    }
}
