//! `pythumbiomemsrc`: serves bytes the service already holds (a cover picture read out of an
//! audio file's tags) to a pipeline, under a `pythumbio+memory:` URI with a random name. The
//! bytes came through the source policy with the file they were in; a URI naming bytes that are
//! not held (a playlist guessing one) fails as a missing resource.

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::prelude::*;
use gstreamer_base::subclass::base_src::CreateSuccess;
use gstreamer_base::subclass::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The URI scheme of held bytes.
pub const SCHEME: &str = "pythumbio+memory";

/// The bytes a service holds for its pipelines, by name: part of its origins, so a pipeline
/// reads only what its own service holds.
#[derive(Debug, Default)]
pub struct Holdings(Mutex<HashMap<String, bytes::Bytes>>);

impl Holdings {
    fn get(&self, name: &str) -> Option<bytes::Bytes> {
        self.0.lock().unwrap().get(name).cloned()
    }
}

impl super::Opened for bytes::Bytes {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read(&self, offset: u64, length: usize) -> std::io::Result<bytes::Bytes> {
        Ok(self.slice(offset as usize..offset as usize + length))
    }
}

/// Bytes held for pipelines to read under [`Held::uri`], until dropped.
pub struct Held {
    name: String,
    origins: Arc<super::Origins>,
}

impl Held {
    /// Holds `bytes` in `origins` for the pipelines those origins are handed to.
    pub fn new(bytes: bytes::Bytes, origins: &Arc<super::Origins>) -> Self {
        // 128 random bits from GLib's generator (seeded from the system's entropy).
        let name: String = (0..4)
            .map(|_| format!("{:08x}", glib::random_int()))
            .collect();
        let holdings = &origins.holdings().0;
        holdings.lock().unwrap().insert(name.clone(), bytes);
        Self {
            name,
            origins: origins.clone(),
        }
    }

    pub fn uri(&self) -> String {
        format!("{SCHEME}:{}", self.name)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let holdings = &self.origins.holdings().0;
        holdings.lock().unwrap().remove(&self.name);
    }
}

impl MemorySrc {
    /// The origins whose held bytes this source serves.
    pub fn set_origins(&self, origins: Arc<super::Origins>) {
        *self.imp().origins.lock().unwrap() = Some(origins);
    }
}

glib::wrapper! {
    pub struct MemorySrc(ObjectSubclass<imp::MemorySrc>)
        @extends gst_base::BaseSrc, gst::Element, gst::Object,
        @implements gst::URIHandler;
}

pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    super::register_source(plugin, "pythumbiomemsrc", MemorySrc::static_type())
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct MemorySrc {
        name: Mutex<Option<String>>,
        bytes: Mutex<Option<bytes::Bytes>>,
        pub(super) origins: Mutex<Option<Arc<super::super::Origins>>>,
    }

    super::super::source_element_subclass!(
        MemorySrc,
        super::MemorySrc,
        "PythumbioMemorySrc",
        plain
    );

    super::super::source_element_impl!(
        MemorySrc,
        "pythumbio memory source",
        "Source",
        "Serves bytes pythumbio holds (cover pictures) to its own pipelines",
        &[SCHEME]
    );

    impl MemorySrc {
        fn current_uri(&self) -> Option<String> {
            let name = self.name.lock().unwrap();
            name.as_ref().map(|n| format!("{SCHEME}:{n}"))
        }

        fn take_uri(&self, uri: &str) -> Result<(), glib::Error> {
            let name = uri
                .strip_prefix(SCHEME)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(str::to_string);
            *self.name.lock().unwrap() = name;
            Ok(())
        }
    }

    impl BaseSrcImpl for MemorySrc {
        fn start(&self) -> Result<(), gst::ErrorMessage> {
            let name = self.name.lock().unwrap().clone().unwrap_or_default();
            let handed = self.origins.lock().unwrap().clone();
            let origins = handed.unwrap_or_else(super::super::default_origins);
            let bytes = origins.holdings().get(&name).ok_or_else(|| {
                gst::error_msg!(gst::ResourceError::NotFound, ["no such resource"])
            })?;
            *self.bytes.lock().unwrap() = Some(bytes);
            Ok(())
        }

        super::super::read_by_offset!(bytes);
    }
}
