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
use std::sync::{LazyLock, Mutex};

/// The URI scheme of held bytes.
pub const SCHEME: &str = "pythumbio+memory";

static HELD: LazyLock<Mutex<HashMap<String, bytes::Bytes>>> = LazyLock::new(Mutex::default);

/// Bytes held for pipelines to read under [`Held::uri`], until dropped.
pub struct Held {
    name: String,
}

impl Held {
    pub fn new(bytes: bytes::Bytes) -> Self {
        // 128 random bits from GLib's generator (seeded from the system's entropy).
        let name: String = (0..4)
            .map(|_| format!("{:08x}", glib::random_int()))
            .collect();
        HELD.lock().unwrap().insert(name.clone(), bytes);
        Self { name }
    }

    pub fn uri(&self) -> String {
        format!("{SCHEME}:{}", self.name)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HELD.lock().unwrap().remove(&self.name);
    }
}

glib::wrapper! {
    pub struct MemorySrc(ObjectSubclass<imp::MemorySrc>)
        @extends gst_base::BaseSrc, gst::Element, gst::Object,
        @implements gst::URIHandler;
}

pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    gst::Element::register(
        plugin,
        "pythumbiomemsrc",
        gst::Rank::PRIMARY + 100,
        MemorySrc::static_type(),
    )
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct MemorySrc {
        name: Mutex<Option<String>>,
        bytes: Mutex<Option<bytes::Bytes>>,
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
            let bytes = HELD.lock().unwrap().get(&name).cloned().ok_or_else(|| {
                gst::error_msg!(gst::ResourceError::NotFound, ["no such resource"])
            })?;
            *self.bytes.lock().unwrap() = Some(bytes);
            Ok(())
        }

        fn stop(&self) -> Result<(), gst::ErrorMessage> {
            self.bytes.lock().unwrap().take();
            Ok(())
        }

        fn is_seekable(&self) -> bool {
            true
        }

        fn size(&self) -> Option<u64> {
            self.bytes.lock().unwrap().as_ref().map(|b| b.len() as u64)
        }

        fn create(
            &self,
            offset: u64,
            passed: Option<&mut gst::BufferRef>,
            length: u32,
        ) -> Result<CreateSuccess, gst::FlowError> {
            let bytes = self.bytes.lock().unwrap().clone();
            let bytes = bytes.ok_or(gst::FlowError::Flushing)?;
            let size = bytes.len() as u64;
            if offset >= size {
                return Err(gst::FlowError::Eos);
            }
            let end = size.min(offset + u64::from(length));
            let part = bytes.slice(offset as usize..end as usize);
            super::super::deliver(offset, part, passed)
        }
    }
}
