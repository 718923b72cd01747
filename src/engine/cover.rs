//! The picture of a source without video: an audio file's cover (ID3 `APIC`, MP4 `covr`, FLAC
//! picture block), which ffmpeg and players show for it. A still or a storyboard of such a
//! source is made from the cover, read by the service's memory source.

use super::error::PipelineError;
use super::launch::{Launch, Setting, SettingValue, UrlRole};
use crate::source::memory::Held;
use crate::source::Admitted;
use gstreamer as gst;
use std::time::Instant;

/// A source's cover, held where a pipeline can read it.
pub(crate) struct Cover {
    held: Held,
    /// The properties of the launch, with the source reading the cover instead.
    properties: Vec<Setting>,
    /// The source's duration (its audio's).
    pub duration: Option<gst::ClockTime>,
}

impl Cover {
    /// The cover of the source `launch` reads, if it has one; read by the Discoverer before
    /// `deadline`.
    pub(crate) fn of(launch: &Launch<'_>, deadline: Instant) -> Option<Self> {
        let uri = launch.properties.iter().find_map(Setting::source)?;
        let left = deadline.saturating_duration_since(Instant::now());
        let forward = crate::source::Forward::from_pairs(launch.forward);
        let origins = launch
            .origins
            .cloned()
            .unwrap_or_else(crate::source::default_origins);
        let pipelines = launch.pipelines();
        let found =
            super::discover::discover(uri, left, &forward, launch.limits, &origins, &pipelines)
                .ok()?;
        let tags = found.info.tags()?;
        let (_, sample) = super::picture::cover(&tags)?;
        let bytes = bytes::Bytes::copy_from_slice(&sample.buffer()?.map_readable().ok()?);
        let held = Held::new(bytes, &origins);
        let properties = launch
            .properties
            .iter()
            .map(|setting| match setting.source() {
                Some(_) => Setting {
                    value: SettingValue::Url(UrlRole::Source, Admitted::held(held.uri())),
                    ..setting.clone()
                },
                None => setting.clone(),
            })
            .collect();
        Some(Self {
            held,
            properties,
            duration: found.info.duration(),
        })
    }

    /// `launch`, reading the cover.
    pub(crate) fn launch<'a>(&'a self, launch: &Launch<'a>) -> Launch<'a> {
        debug_assert!(self
            .properties
            .iter()
            .any(|s| s.source().is_some_and(|u| u.as_str() == self.held.uri())));
        Launch {
            properties: &self.properties,
            still: None,
            skip_before: None,
            ..*launch
        }
    }
}

/// Whether a failure says the source has no video: worth a look for a cover.
pub(crate) fn wants_cover(error: &PipelineError) -> bool {
    error.failure == super::Failure::NoUsableStream
}
