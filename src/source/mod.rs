//! Reading sources safely: the source policy (schemes, hosts, addresses), the HTTP client that
//! enforces it on every resolved address and redirect hop, and the GStreamer element through
//! which every pipeline and the Discoverer read http(s) URIs.

/// `GstObjectImpl` and `ElementImpl` of one of the service's source elements: its metadata and
/// the one pad every one of them has. Used inside each element's `imp` module.
/// The element and URI-handler implementations every source element of the service shares:
/// its metadata, its one "src" pad, the schemes it takes. The URI itself is the element's own
/// business (`current_uri`, `take_uri`).
macro_rules! source_element_impl {
    ($imp:ty, $long_name:expr, $klass:expr, $description:expr, $protocols:expr) => {
        impl URIHandlerImpl for $imp {
            const URI_TYPE: gst::URIType = gst::URIType::Src;

            fn protocols() -> &'static [&'static str] {
                $protocols
            }

            fn uri(&self) -> Option<String> {
                self.current_uri()
            }

            fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
                self.take_uri(uri)
            }
        }

        impl GstObjectImpl for $imp {}

        impl ElementImpl for $imp {
            fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
                static META: std::sync::LazyLock<gst::subclass::ElementMetadata> =
                    std::sync::LazyLock::new(|| {
                        gst::subclass::ElementMetadata::new(
                            $long_name,
                            $klass,
                            $description,
                            "pythumbio",
                        )
                    });
                Some(&META)
            }

            fn pad_templates() -> &'static [gst::PadTemplate] {
                crate::source::src_pad_template()
            }
        }
    };
}
pub(crate) use source_element_impl;

/// The GObject subclass of a source element of the service: a BaseSrc with a URI handler,
/// reading bytes. `plain` also gives it the object implementation such an element needs when
/// it has no properties of its own.
macro_rules! source_element_subclass {
    ($imp:ident, $wrapper:ty, $name:expr) => {
        #[glib::object_subclass]
        impl ObjectSubclass for $imp {
            const NAME: &'static str = $name;
            type Type = $wrapper;
            type ParentType = gst_base::BaseSrc;
            type Interfaces = (gst::URIHandler,);
        }
    };
    ($imp:ident, $wrapper:ty, $name:expr, plain) => {
        crate::source::source_element_subclass!($imp, $wrapper, $name);

        impl ObjectImpl for $imp {
            fn constructed(&self) {
                self.parent_constructed();
                self.obj().set_format(gst::Format::Bytes);
            }
        }
    };
}
pub(crate) use source_element_subclass;

pub mod admitted;
pub mod cache;
pub mod fetch;
pub mod file;
pub mod http;
pub mod memory;
pub mod policy;
pub mod refusal;
pub mod refused;

pub use admitted::{Admitted, NotAdmitted};
pub use fetch::{FetchError, Forward, Origins, Timeouts};
pub use http::HttpSrc;
pub use policy::{Policy, Refusal, Rule};

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;

static DEFAULT: OnceLock<Arc<Origins>> = OnceLock::new();
static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The default origin time limits.
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    read: Duration::from_secs(15),
    pool_idle: Duration::from_secs(30),
};

/// A service's origins: its source policy, its time limits, its HTTP client. The service
/// hands them to every source element of its pipelines.
/// The origins a service reads through, keeping up to `cache_bytes` of origin bytes across
/// requests (0: none).
pub fn origins(
    policy: Policy,
    timeouts: Timeouts,
    cache_bytes: usize,
) -> Result<Arc<Origins>, SetupError> {
    Origins::new(policy, timeouts)
        .map(|origins| Arc::new(origins.with_cache(cache_bytes)))
        .map_err(SetupError::Client)
}

/// Makes `origins` what a source element reads through when no pipeline of a service handed
/// it any: one GStreamer made on its own (an HLS demuxer's playlist downloader), or one in
/// gst-launch-1.0. The first call wins.
pub fn set_default(origins: Arc<Origins>) -> Result<(), SetupError> {
    DEFAULT.set(origins).map_err(|_| SetupError::AlreadySet)
}

/// Why the sources cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the HTTP client does not build: {0}")]
    Client(reqwest::Error),
    #[error("the source policy is already set")]
    AlreadySet,
}

/// The origins of an element no pipeline handed any: the default set, else the strictest
/// policy (said in the log).
pub(crate) fn default_origins() -> Arc<Origins> {
    DEFAULT
        .get_or_init(|| {
            tracing::warn!("no source policy was configured: sources read under the strictest");
            Arc::new(
                Origins::new(Policy::default(), DEFAULT_TIMEOUTS).expect("the HTTP client builds"),
            )
        })
        .clone()
}

/// When a request's origin reads must have ended (they fail as a timeout then): a whole output's
/// deadline, or a stream's first-byte deadline, which is lifted once the first byte is out.
#[derive(Clone, Debug)]
pub struct Deadline {
    at: std::time::Instant,
    lifted: std::sync::Arc<AtomicBool>,
}

impl Deadline {
    pub fn at(at: std::time::Instant) -> Self {
        Self {
            at,
            lifted: std::sync::Arc::default(),
        }
    }

    /// Reads from now on are bounded by their own timeouts only.
    pub fn lift(&self) {
        self.lifted.store(true, Ordering::SeqCst);
    }

    /// The time reads must end by, unless the deadline was lifted.
    pub fn pending(&self) -> Option<std::time::Instant> {
        (!self.lifted.load(Ordering::SeqCst)).then_some(self.at)
    }
}

/// What a client is told of a failed origin read: the reason without what the network stack
/// said (addresses, OS error numbers), which goes to the log.
pub fn public_text(error: &FetchError) -> String {
    match error {
        FetchError::Network(_) => "the origin could not be read".into(),
        other => other.to_string(),
    }
}

/// Runs origin I/O on the sources' own small runtime and waits for it on this thread (a
/// GStreamer streaming thread, or whichever thread changes a pipeline's state), giving up at
/// once when `cancel` turns true.
fn run<T: Send + 'static>(
    work: impl Future<Output = Result<T, FetchError>> + Send + 'static,
    mut cancel: watch::Receiver<bool>,
) -> Result<T, FetchError> {
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pythumbio-origin")
            .enable_all()
            .build()
            .expect("the origin runtime starts")
    });
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let result = tokio::select! {
            result = work => result,
            _ = cancel.wait_for(|stop| *stop) => Err(FetchError::Cancelled),
        };
        let _ = tx.send(result);
    });
    rx.recv().unwrap_or(Err(FetchError::Cancelled))
}

/// The scheme prefix under which the element also takes http(s) URIs. uridecodebin (1.22) treats
/// every `http://` URI as a network stream and reads it through a 2 MB push-mode buffer; under
/// this scheme it links the source straight to the demuxer, which then pulls just the ranges it
/// needs (the index, the samples asked for).
pub const PULL_PREFIX: &str = "pythumbio+";

/// The one pad of every source element of the service: "src", always there, any caps.
pub(crate) fn src_pad_template() -> &'static [gstreamer::PadTemplate] {
    static TEMPLATES: std::sync::LazyLock<Vec<gstreamer::PadTemplate>> =
        std::sync::LazyLock::new(|| {
            vec![gstreamer::PadTemplate::new(
                "src",
                gstreamer::PadDirection::Src,
                gstreamer::PadPresence::Always,
                &gstreamer::Caps::new_any(),
            )
            .expect("a valid template")]
        });
    TEMPLATES.as_ref()
}

/// The answer of a source element's `create` for `bytes` read at `offset`. A demuxer that
/// passes its own buffer (oggdemux does) gets it filled here: the bindings' copy of a new buffer
/// into a passed one asserts that the new one is at least as large, which a short read at the
/// end of the file is not.
pub(crate) fn deliver<T: AsRef<[u8]> + Send + 'static>(
    offset: u64,
    bytes: T,
    passed: Option<&mut gstreamer::BufferRef>,
) -> Result<gstreamer_base::subclass::base_src::CreateSuccess, gstreamer::FlowError> {
    use gstreamer_base::subclass::base_src::CreateSuccess;
    let size = bytes.as_ref().len();
    let end = offset + size as u64;
    if let Some(passed) = passed {
        if passed.maxsize() < size {
            return Err(gstreamer::FlowError::Error);
        }
        passed.set_size(size);
        passed
            .copy_from_slice(0, bytes.as_ref())
            .map_err(|_| gstreamer::FlowError::Error)?;
        passed.set_offset(offset);
        passed.set_offset_end(end);
        return Ok(CreateSuccess::FilledBuffer);
    }
    let mut buffer = gstreamer::Buffer::from_slice(bytes);
    {
        let buffer = buffer.get_mut().expect("a new buffer");
        buffer.set_offset(offset);
        buffer.set_offset_end(end);
    }
    Ok(CreateSuccess::NewBuffer(buffer))
}

/// What a source element that reads by offset has opened (a file, bytes in memory): its size,
/// and its bytes at an offset.
pub(crate) trait Opened: Send {
    fn size(&self) -> u64;
    /// Up to `length` bytes at `offset`, which is before the end; fewer only at the end.
    fn read(&self, offset: u64, length: usize) -> std::io::Result<bytes::Bytes>;
}

/// The `BaseSrcImpl` methods of a source element whose `state` holds what `start` opened (an
/// [`Opened`]): it is seekable, knows its size, and reads what is asked at any offset. Used
/// inside the element's `impl BaseSrcImpl`, next to its own `start`.
macro_rules! read_by_offset {
    ($state:ident) => {
        fn stop(&self) -> Result<(), gst::ErrorMessage> {
            self.$state.lock().unwrap().take();
            Ok(())
        }

        fn is_seekable(&self) -> bool {
            true
        }

        fn size(&self) -> Option<u64> {
            let state = self.$state.lock().unwrap();
            state.as_ref().map(crate::source::Opened::size)
        }

        fn create(
            &self,
            offset: u64,
            passed: Option<&mut gst::BufferRef>,
            length: u32,
        ) -> Result<CreateSuccess, gst::FlowError> {
            use crate::source::Opened;
            let state = self.$state.lock().unwrap();
            let opened = state.as_ref().ok_or(gst::FlowError::Flushing)?;
            if offset >= opened.size() {
                return Err(gst::FlowError::Eos);
            }
            let length = u64::from(length).min(opened.size() - offset) as usize;
            let data = match opened.read(offset, length) {
                Ok(data) if data.is_empty() => return Err(gst::FlowError::Eos),
                Ok(data) => data,
                Err(_) => {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Read,
                        ["the source cannot be read"]
                    );
                    return Err(gst::FlowError::Error);
                }
            };
            crate::source::deliver(offset, data, passed)
        }
    };
}
pub(crate) use read_by_offset;

/// The first bytes a source element of the service has read (a container's header), if it
/// is one of them and has read them.
pub fn head_of(element: &gstreamer::Element) -> Option<bytes::Bytes> {
    use gstreamer::prelude::*;
    if let Some(http) = element.downcast_ref::<HttpSrc>() {
        return http.head();
    }
    element.downcast_ref::<file::FileSrc>()?.head()
}

/// Demuxers that download their segments themselves (with libsoup, past every source element):
/// never plugged.
pub const SELF_FETCHING: [&str; 3] = ["hlsdemux2", "dashdemux2", "mssdemux2"];

/// The URI schemes the service's own elements take.
const OWN_SCHEMES: [&str; 6] = [
    "http",
    "https",
    "pythumbio+http",
    "pythumbio+https",
    "file",
    memory::SCHEME,
];

/// With the service's plugin registered (its source elements rank above every other element for
/// the same schemes), registers the refusing element for every other scheme and takes the
/// self-fetching demuxers out of autoplugging. Call once, after GStreamer is initialised.
pub fn register() -> Result<(), gstreamer::glib::BoolError> {
    use gstreamer::prelude::*;
    refused::register(&OWN_SCHEMES)?;
    for name in SELF_FETCHING {
        if let Some(factory) = gstreamer::ElementFactory::find(name) {
            factory.set_rank(gstreamer::Rank::NONE);
        }
    }
    Ok(())
}

/// Registers a source element of the service under `name`, ranked above every element
/// GStreamer has for the same schemes (souphttpsrc, filesrc, giosrc), so URI handling picks it.
fn register_source(
    plugin: Option<&gstreamer::Plugin>,
    name: &str,
    element: gstreamer::glib::Type,
) -> Result<(), gstreamer::glib::BoolError> {
    gstreamer::Element::register(plugin, name, gstreamer::Rank::PRIMARY + 100, element)
}

/// Registers the source elements in `plugin` (the service's plugin, `crate::plugin`).
pub fn register_elements(plugin: &gstreamer::Plugin) -> Result<(), gstreamer::glib::BoolError> {
    http::register(Some(plugin))?;
    file::register(Some(plugin))?;
    memory::register(Some(plugin))
}

/// Gives a source element of the service the origins it reads through.
pub fn hand_origins(element: &gstreamer::Element, origins: &Arc<Origins>) {
    use gstreamer::prelude::*;
    if let Some(http) = element.downcast_ref::<HttpSrc>() {
        http.set_origins(origins.clone());
    } else if let Some(file) = element.downcast_ref::<file::FileSrc>() {
        file.set_origins(origins.clone());
    } else if let Some(memory) = element.downcast_ref::<memory::MemorySrc>() {
        memory.set_origins(origins.clone());
    }
}

/// Whether `element` may read from outside the process: a source element that is not one of the
/// service's own, or a demuxer that downloads by itself.
pub fn is_foreign_reader(element: &gstreamer::Element) -> bool {
    use gstreamer::prelude::*;
    let Some(factory) = element.factory() else {
        return false;
    };
    let name = factory.name();
    if SELF_FETCHING.contains(&name.as_str()) {
        return true;
    }
    factory.uri_type() == gstreamer::URIType::Src && !name.starts_with("pythumbio")
}

/// Watches `bin` (a pipeline, a decoder) for elements added to it at any depth: the service's
/// source elements get `origins` (the policy they read under); one that could read from
/// outside is unreachable while the registry holds what [`register`] made of it, and a refusal
/// that ends the request if anything ever plugs one.
pub fn guard(bin: &gstreamer::Bin, origins: Option<&Arc<Origins>>) {
    use gstreamer::prelude::*;
    let origins = origins.cloned();
    bin.connect_deep_element_added(move |_, _, element| {
        if let Some(origins) = &origins {
            hand_origins(element, origins);
        }
        if is_foreign_reader(element) {
            tracing::error!(
                element = %element.factory().map(|f| f.name().to_string()).unwrap_or_default(),
                "an element that reads from outside was plugged; the request is refused"
            );
            let _ = element.set_locked_state(true);
            refusal::report(element, Refusal(Rule::Scheme));
        }
    });
}
