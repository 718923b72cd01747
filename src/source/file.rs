//! `pythumbiofilesrc`: the source element for `file://` URIs, ranked above filesrc and giosrc.
//! It reads a file only when the source policy lets it (a file root is configured and the file
//! lies inside it once links and `..` are resolved) — whether the URI is the request's own or a
//! segment named by a manifest — and refuses everything else.

use super::policy::FileRefusal;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::prelude::*;
use gstreamer_base::subclass::base_src::CreateSuccess;
use gstreamer_base::subclass::prelude::*;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use url::Url;

glib::wrapper! {
    pub struct FileSrc(ObjectSubclass<imp::FileSrc>)
        @extends gst_base::BaseSrc, gst::Element, gst::Object,
        @implements gst::URIHandler;
}

impl FileSrc {
    /// The origins whose policy (its file root) this source reads under.
    pub fn set_origins(&self, origins: std::sync::Arc<super::Origins>) {
        *self.imp().origins.lock().unwrap() = Some(origins);
    }

    /// The first bytes of the open file (a container's header).
    pub fn head(&self) -> Option<bytes::Bytes> {
        let state = self.imp().state.lock().unwrap();
        let opened = state.as_ref()?;
        let mut head = vec![0; (HEAD as u64).min(opened.size) as usize];
        opened.file.read_exact_at(&mut head, 0).ok()?;
        Some(head.into())
    }
}

/// How much of a file [`FileSrc::head`] reads.
const HEAD: usize = 64 * 1024;

/// Registers the element before filesrc and giosrc.
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    super::register_source(plugin, "pythumbiofilesrc", FileSrc::static_type())
}

mod imp {
    use super::*;

    /// An opened file and its size.
    pub(super) struct Opened {
        pub(super) file: std::fs::File,
        pub(super) size: u64,
    }

    impl super::super::Opened for Opened {
        fn size(&self) -> u64 {
            self.size
        }

        fn read(&self, offset: u64, length: usize) -> std::io::Result<bytes::Bytes> {
            let mut data = vec![0; length];
            let mut read = 0;
            while read < length {
                match self.file.read_at(&mut data[read..], offset + read as u64) {
                    Ok(0) => break,
                    Ok(n) => read += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            data.truncate(read);
            Ok(data.into())
        }
    }

    #[derive(Default)]
    pub struct FileSrc {
        url: Mutex<Option<Url>>,
        pub(super) origins: Mutex<Option<std::sync::Arc<super::super::Origins>>>,
        pub(super) state: Mutex<Option<Opened>>,
    }

    super::super::source_element_subclass!(FileSrc, super::FileSrc, "PythumbioFileSrc", plain);

    super::super::source_element_impl!(
        FileSrc,
        "pythumbio file source",
        "Source/File",
        "Reads file:// sources that pythumbio's source policy lets through",
        &["file"]
    );

    impl FileSrc {
        fn current_uri(&self) -> Option<String> {
            self.url.lock().unwrap().as_ref().map(Url::to_string)
        }

        // Any file URI is taken, and judged when the element starts: refused here, GStreamer
        // would hand the URI to filesrc instead.
        fn take_uri(&self, uri: &str) -> Result<(), glib::Error> {
            let url = Url::parse(uri).ok().filter(|u| u.scheme() == "file");
            *self.url.lock().unwrap() = url;
            Ok(())
        }
    }

    impl BaseSrcImpl for FileSrc {
        fn start(&self) -> Result<(), gst::ErrorMessage> {
            use super::super::policy::{Refusal, Rule};
            let url = self.url.lock().unwrap().clone();
            let checked = match url {
                Some(url) => {
                    let handed = self.origins.lock().unwrap().clone();
                    let origins = handed.unwrap_or_else(super::super::default_origins);
                    origins.policy().check_file(&url)
                }
                None => Err(FileRefusal::Refused(Refusal(Rule::FileRoot))),
            };
            let path = match checked {
                Ok(path) => path,
                Err(FileRefusal::Refused(refusal)) => {
                    super::super::refusal::report(self.obj().upcast_ref(), refusal);
                    return Err(super::super::refusal::error_message(refusal));
                }
                Err(FileRefusal::Missing) => {
                    return Err(gst::error_msg!(
                        gst::ResourceError::NotFound,
                        ["no such file in the file root"]
                    ))
                }
            };
            let file = std::fs::File::open(&path).map_err(|_| {
                gst::error_msg!(gst::ResourceError::OpenRead, ["the file cannot be read"])
            })?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            *self.state.lock().unwrap() = Some(Opened { file, size });
            Ok(())
        }

        super::super::read_by_offset!(state);
    }
}
