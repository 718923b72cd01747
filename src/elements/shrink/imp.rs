//! The shrinker's implementation: a bin of [`MAX_HALVINGS`] videoscale (bilinear) and capsfilter
//! pairs. A pair whose capsfilter holds the size it is given passes its frames through untouched;
//! the input's caps event sets each capsfilter before the first videoscale sees the caps.

use super::{halvings, MAX_HALVINGS, MIN_RATIO};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

/// The box the picture is scaled into afterwards (0 for a side not given), and the least
/// reduction a halving leaves.
#[derive(Clone, Copy)]
struct Settings {
    width: u32,
    height: u32,
    min_ratio: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            width: 0,
            height: 0,
            min_ratio: MIN_RATIO,
        }
    }
}

#[derive(Default)]
pub struct Shrink {
    settings: Mutex<Settings>,
    filters: Mutex<Vec<gst::Element>>,
}

#[glib::object_subclass]
impl ObjectSubclass for Shrink {
    const NAME: &'static str = "PythumbioShrink";
    type Type = super::Shrink;
    type ParentType = gst::Bin;
}

impl ObjectImpl for Shrink {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut specs = ["width", "height"]
                .map(|name| {
                    glib::ParamSpecUInt::builder(name)
                        .blurb("Side of the box the picture is scaled into next (0: not given)")
                        .mutable_ready()
                        .build()
                })
                .to_vec();
            specs.push(
                glib::ParamSpecDouble::builder("min-ratio")
                    .blurb("The least reduction a halving leaves to the scaler")
                    .minimum(1.0)
                    .default_value(MIN_RATIO)
                    .mutable_ready()
                    .build(),
            );
            specs
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "width" => settings.width = value.get().expect("the type the spec says"),
            "height" => settings.height = value.get().expect("the type the spec says"),
            _ => settings.min_ratio = value.get().expect("the type the spec says"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = *self.settings.lock().unwrap();
        match pspec.name() {
            "width" => settings.width.to_value(),
            "height" => settings.height.to_value(),
            _ => settings.min_ratio.to_value(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let bin = self.obj();
        let mut filters = Vec::with_capacity(MAX_HALVINGS);
        let mut first_sink = None;
        let mut last: Option<gst::Element> = None;
        for _ in 0..MAX_HALVINGS {
            let scale = gst::ElementFactory::make("videoscale")
                .property_from_str("method", "bilinear")
                .build()
                .expect("videoscale (gstreamer1.0-plugins-base) is installed");
            let filter = gst::ElementFactory::make("capsfilter")
                .build()
                .expect("capsfilter is a core element");
            bin.add_many([&scale, &filter]).expect("new elements");
            if let Some(last) = &last {
                last.link(&scale).expect("raw video links");
            }
            scale.link(&filter).expect("raw video links");
            first_sink.get_or_insert_with(|| scale.static_pad("sink").expect("a sink pad"));
            last = Some(filter.clone());
            filters.push(filter);
        }
        let sink = first_sink.expect("at least one pair");
        let src = last.and_then(|l| l.static_pad("src")).expect("a src pad");
        for (target, name) in [(&sink, "sink"), (&src, "src")] {
            let template = bin.pad_template(name).expect("the element's templates");
            let ghost = gst::GhostPad::builder_from_template_with_target(&template, target)
                .expect("a template that fits its target")
                .build();
            bin.add_pad(&ghost).expect("a new pad");
        }
        *self.filters.lock().unwrap() = filters;
        let weak = bin.downgrade();
        sink.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let (Some(gst::PadProbeData::Event(event)), Some(bin)) = (&info.data, weak.upgrade())
            {
                if let gst::EventView::Caps(caps) = event.view() {
                    bin.imp().follow(caps.caps());
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
}

impl Shrink {
    /// Sets each capsfilter to its halving's size, or (past the last halving) to the size before.
    fn follow(&self, caps: &gst::CapsRef) {
        let Some(s) = caps.structure(0) else {
            return;
        };
        let (Ok(width), Ok(height)) = (s.get::<i32>("width"), s.get::<i32>("height")) else {
            return;
        };
        let (width, height) = (width.max(1) as u32, height.max(1) as u32);
        let settings = *self.settings.lock().unwrap();
        let sizes = halvings(
            (width, height),
            (settings.width, settings.height),
            settings.min_ratio,
        );
        if !sizes.is_empty() {
            gst::debug!(
                gst::CAT_DEFAULT,
                imp = self,
                "{width}x{height} halved to {:?}",
                sizes.last()
            );
        }
        let mut size = (width, height);
        for (i, filter) in self.filters.lock().unwrap().iter().enumerate() {
            size = sizes.get(i).copied().unwrap_or(size);
            let mut wanted = gst::Caps::builder("video/x-raw")
                .field("width", size.0 as i32)
                .field("height", size.1 as i32);
            if let Ok(par) = s.get::<gst::Fraction>("pixel-aspect-ratio") {
                wanted = wanted.field("pixel-aspect-ratio", par);
            }
            filter.set_property("caps", wanted.build());
        }
    }
}

impl GstObjectImpl for Shrink {}
impl BinImpl for Shrink {}

impl ElementImpl for Shrink {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "pythumbio pre-scaler",
                "Filter/Converter/Video/Scaler",
                "Halves a picture (2x2 means) while it stays at least 4 times larger than the \
                 box it is scaled into next; passes others through",
                env!("CARGO_PKG_NAME"),
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let raw = gst::Caps::builder("video/x-raw").build();
            [
                ("sink", gst::PadDirection::Sink),
                ("src", gst::PadDirection::Src),
            ]
            .map(|(name, direction)| {
                gst::PadTemplate::new(name, direction, gst::PadPresence::Always, &raw)
                    .expect("a valid template")
            })
            .to_vec()
        });
        TEMPLATES.as_ref()
    }
}
