//! `pythumbiohttpsrc`: the GStreamer source element for http(s) URIs, ranked above souphttpsrc so
//! that uridecodebin and the Discoverer pick it. It reads through [`Origins`] (the source policy,
//! checked redirects, pooled connections) in bounded Range blocks, so a demuxer in pull mode
//! fetches what it reads (the moov box, the samples it needs) and not the rest of the file.
//! Origins without Range support are read in order, once.

use super::fetch::{Body, FetchError, Forward};
use super::{origins, run};
use bytes::{Bytes, BytesMut};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::prelude::*;
use gstreamer_base::subclass::base_src::CreateSuccess;
use gstreamer_base::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};
use tokio::sync::watch;
use url::Url;

/// The first request asks for this much: enough for most files' header boxes.
const FIRST_BLOCK: u64 = 64 * 1024;
/// A read away from the cached blocks starts a block this large; a read that continues past the
/// end of a block fetches one twice that block's size, up to MAX_BLOCK.
const MIN_BLOCK: u64 = 32 * 1024;
const MAX_BLOCK: u64 = 1024 * 1024;
/// Blocks kept, for reads that alternate between places of the file.
const CACHED_BLOCKS: usize = 4;
/// Buffer size asked for in push mode.
const PUSH_BLOCK: u32 = 64 * 1024;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "pythumbiohttpsrc",
        gst::DebugColorFlags::empty(),
        Some("pythumbio HTTP source"),
    )
});

/// The structure name on the element's error messages; fields `kind` (a [`FetchError`] kind) and,
/// for refusals, `rule`; for error statuses, `http-status-code`.
pub const ERROR_DETAILS: &str = "pythumbio-origin";

glib::wrapper! {
    pub struct HttpSrc(ObjectSubclass<imp::HttpSrc>)
        @extends gst_base::BaseSrc, gst::Element, gst::Object,
        @implements gst::URIHandler;
}

impl HttpSrc {
    /// Headers to send with this source's requests (to its own origin only).
    pub fn set_forward(&self, forward: Forward) {
        self.imp().settings.lock().unwrap().forward = forward;
    }

    /// When every origin read of this source must have ended (a timeout after it).
    pub fn set_deadline(&self, deadline: Option<super::Deadline>) {
        self.imp().settings.lock().unwrap().deadline = deadline;
    }

    /// The failure that stopped the last read, if one did.
    pub fn failure(&self) -> Option<FetchError> {
        self.imp().failure.lock().unwrap().clone()
    }

    /// The first bytes of the source, as first read (a container's header).
    pub fn head(&self) -> Option<bytes::Bytes> {
        self.imp().head.lock().unwrap().clone()
    }
}

/// Registers the element with the rank that puts it before souphttpsrc.
pub fn register() -> Result<(), glib::BoolError> {
    gst::Element::register(
        None,
        "pythumbiohttpsrc",
        gst::Rank::PRIMARY + 100,
        HttpSrc::static_type(),
    )
}

/// The error message fields that describe a fetch failure.
fn details(error: &FetchError) -> gst::Structure {
    let mut s = gst::Structure::builder(ERROR_DETAILS).field("kind", kind(error));
    match error {
        FetchError::Refused(refusal) => s = s.field("rule", refusal.0.name()),
        FetchError::Status(status) => s = s.field("http-status-code", u32::from(*status)),
        _ => {}
    }
    s.build()
}

/// A short name for each kind of fetch failure.
pub fn kind(error: &FetchError) -> &'static str {
    match error {
        FetchError::Refused(_) => "refused",
        FetchError::Status(_) => "status",
        FetchError::Timeout => "timeout",
        FetchError::RedirectLoop => "redirect-loop",
        FetchError::TooManyRedirects => "too-many-redirects",
        FetchError::NoRange => "no-range",
        FetchError::Network(_) => "network",
        FetchError::Cancelled => "cancelled",
    }
}

fn resource_error(error: &FetchError) -> gst::ResourceError {
    match error {
        FetchError::Refused(_) | FetchError::Status(401 | 403) => gst::ResourceError::NotAuthorized,
        FetchError::Status(404 | 410) => gst::ResourceError::NotFound,
        FetchError::NoRange => gst::ResourceError::Seek,
        FetchError::Status(_) | FetchError::RedirectLoop | FetchError::TooManyRedirects => {
            gst::ResourceError::OpenRead
        }
        _ => gst::ResourceError::Read,
    }
}

/// What `start` returns for a failure: a refusal keeps its own error domain (the rule).
fn start_error(error: &FetchError) -> gst::ErrorMessage {
    match error {
        FetchError::Refused(refusal) => super::refusal::error_message(*refusal),
        _ => gst::error_msg!(resource_error(error), ["{}", error]),
    }
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct Settings {
        pub url: Option<Url>,
        pub forward: Forward,
        pub deadline: Option<super::super::Deadline>,
    }

    /// How an opened source is read.
    enum Mode {
        /// By Range requests: the last blocks read (start, bytes), most recent last. A demuxer
        /// reads its streams' samples at two or three places of the file in turn (video here,
        /// audio there): each place keeps a block of its own.
        Ranged { blocks: Vec<(u64, Bytes)> },
        /// In order, from one whole response.
        Whole {
            response: Option<reqwest::Response>,
            position: u64,
            pending: Bytes,
        },
    }

    struct Reader {
        /// Where the source ended up after redirects.
        url: Url,
        size: Option<u64>,
        mode: Mode,
    }

    /// What other threads may ask while a read is in flight (the reader's lock is held through
    /// network waits; queries must not wait for them).
    #[derive(Default, Clone, Copy)]
    struct Known {
        started: bool,
        seekable: bool,
        size: Option<u64>,
    }

    pub struct HttpSrc {
        pub(super) settings: Mutex<Settings>,
        /// Used by the streaming thread (and start/stop) only.
        state: Mutex<Option<Reader>>,
        known: Mutex<Known>,
        /// An opened, unread whole response kept across a stop and start.
        spare: Mutex<Option<(Reader, Known)>>,
        pub(super) failure: Mutex<Option<FetchError>>,
        /// The first bytes read from offset 0, kept for a look at the container's header.
        pub(super) head: Mutex<Option<Bytes>>,
        /// True while the element is being unlocked: the read in flight stops at once.
        cancel: watch::Sender<bool>,
    }

    impl Default for HttpSrc {
        fn default() -> Self {
            Self {
                settings: Mutex::default(),
                state: Mutex::default(),
                known: Mutex::default(),
                spare: Mutex::default(),
                failure: Mutex::default(),
                head: Mutex::default(),
                cancel: watch::channel(false).0,
            }
        }
    }

    #[glib::object_subclass]
    impl ObjectSubclass for HttpSrc {
        const NAME: &'static str = "PythumbioHttpSrc";
        type Type = super::HttpSrc;
        type ParentType = gst_base::BaseSrc;
        type Interfaces = (gst::URIHandler,);
    }

    impl ObjectImpl for HttpSrc {
        fn constructed(&self) {
            self.parent_constructed();
            let obj = self.obj();
            obj.set_format(gst::Format::Bytes);
            obj.set_blocksize(PUSH_BLOCK);
        }
    }

    super::super::source_element_impl!(
        HttpSrc,
        "pythumbio HTTP source",
        "Source/Network",
        "Reads http(s) sources under pythumbio's source policy, in Range blocks"
    );

    impl URIHandlerImpl for HttpSrc {
        const URI_TYPE: gst::URIType = gst::URIType::Src;

        fn protocols() -> &'static [&'static str] {
            &["http", "https", "pythumbio+http", "pythumbio+https"]
        }

        fn uri(&self) -> Option<String> {
            let settings = self.settings.lock().unwrap();
            settings.url.as_ref().map(Url::to_string)
        }

        fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
            let uri = uri.strip_prefix(super::super::PULL_PREFIX).unwrap_or(uri);
            let url = Url::parse(uri)
                .map_err(|e| glib::Error::new(gst::URIError::BadUri, &format!("not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(glib::Error::new(
                    gst::URIError::UnsupportedProtocol,
                    "only http and https",
                ));
            }
            self.settings.lock().unwrap().url = Some(url);
            Ok(())
        }
    }

    impl HttpSrc {
        /// Records a failure and posts it as an error message with its details.
        fn fail(&self, error: FetchError) -> gst::FlowError {
            if error == FetchError::Cancelled {
                return gst::FlowError::Flushing;
            }
            gst::warning!(CAT, imp = self, "{error}");
            // Recorded first: the bus handler that classifies the message asks for it.
            *self.failure.lock().unwrap() = Some(error.clone());
            if let FetchError::Refused(refusal) = error {
                super::super::refusal::report(self.obj().upcast_ref(), refusal);
                return gst::FlowError::Error;
            }
            gst::element_imp_error!(
                self,
                resource_error(&error),
                ("{}", error),
                details: details(&error)
            );
            gst::FlowError::Error
        }

        /// Runs origin I/O until it ends, the element is unlocked, or the deadline passes.
        fn run<T: Send + 'static>(
            &self,
            work: impl std::future::Future<Output = Result<T, FetchError>> + Send + 'static,
        ) -> Result<T, FetchError> {
            let deadline = self
                .settings
                .lock()
                .unwrap()
                .deadline
                .as_ref()
                .and_then(|d| d.pending());
            let bounded = async move {
                match deadline {
                    Some(at) => tokio::time::timeout_at(at.into(), work)
                        .await
                        .unwrap_or(Err(FetchError::Timeout)),
                    None => work.await,
                }
            };
            run(bounded, self.cancel.subscribe())
        }

        fn forward(&self) -> Forward {
            self.settings.lock().unwrap().forward.clone()
        }

        /// Reads `length` bytes at `offset` (fewer at the end; none past it).
        fn read_ranged(
            &self,
            reader: &mut Reader,
            offset: u64,
            length: u64,
        ) -> Result<Bytes, FetchError> {
            let Mode::Ranged { blocks } = &mut reader.mode else {
                unreachable!("called for ranged sources only")
            };
            let end = match reader.size {
                Some(size) if offset >= size => return Ok(Bytes::new()),
                Some(size) => size.min(offset + length),
                None => offset + length,
            };
            let holds = |(start, block): &(u64, Bytes), at: u64| {
                at >= *start && at < start + block.len() as u64
            };
            // What a cached block has of the read, and where the rest starts.
            let (head, from, grown) = match blocks.iter().position(|b| holds(b, offset)) {
                Some(i) => {
                    let (start, block) = blocks.remove(i);
                    let block_end = start + block.len() as u64;
                    if end <= block_end {
                        let hit = block.slice((offset - start) as usize..(end - start) as usize);
                        blocks.push((start, block));
                        return Ok(hit);
                    }
                    // Reading on past its end: the next block is twice as large.
                    let grown = (block.len() as u64 * 2).clamp(MIN_BLOCK, MAX_BLOCK);
                    (block.slice((offset - start) as usize..), block_end, grown)
                }
                None => (Bytes::new(), offset, MIN_BLOCK),
            };
            let mut len = (end - from).max(grown);
            if let Some(size) = reader.size {
                len = len.min(size - from);
            }
            let (url, forward) = (reader.url.clone(), self.forward());
            let fetched =
                self.run(async move { origins().block(&url, from, len, &forward).await })?;
            super::super::count(fetched.len() as u64);
            if from == 0 {
                self.head
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| fetched.clone());
            }
            let rest = fetched.slice(..((end - from) as usize).min(fetched.len()));
            blocks.push((from, fetched));
            if blocks.len() > CACHED_BLOCKS {
                blocks.remove(0);
            }
            if head.is_empty() {
                return Ok(rest);
            }
            let mut joined = BytesMut::with_capacity(head.len() + rest.len());
            joined.extend_from_slice(&head);
            joined.extend_from_slice(&rest);
            Ok(joined.freeze())
        }

        /// The next bytes of a whole response, at most `length` of them.
        fn read_whole(
            &self,
            reader: &mut Reader,
            offset: u64,
            length: u64,
        ) -> Result<Bytes, FetchError> {
            let Mode::Whole {
                response,
                position,
                pending,
            } = &mut reader.mode
            else {
                unreachable!("called for whole sources only")
            };
            if offset != *position {
                return Err(FetchError::NoRange);
            }
            if pending.is_empty() {
                let Some(mut body) = response.take() else {
                    return Ok(Bytes::new());
                };
                let (body, chunk) = self.run(async move {
                    let chunk = origins().next_chunk(&mut body).await;
                    Ok((body, chunk))
                })?;
                match chunk? {
                    Some(chunk) => {
                        super::super::count(chunk.len() as u64);
                        if *position == 0 {
                            self.head
                                .lock()
                                .unwrap()
                                .get_or_insert_with(|| chunk.clone());
                        }
                        *pending = chunk;
                        *response = Some(body);
                    }
                    None => return Ok(Bytes::new()),
                }
            }
            let take = pending.len().min(length as usize);
            let out = pending.split_to(take);
            *position += out.len() as u64;
            Ok(out)
        }
    }

    impl BaseSrcImpl for HttpSrc {
        fn start(&self) -> Result<(), gst::ErrorMessage> {
            let (url, forward) = {
                let settings = self.settings.lock().unwrap();
                (settings.url.clone(), settings.forward.clone())
            };
            let url = url
                .ok_or_else(|| gst::error_msg!(gst::ResourceError::Settings, ["no URI was set"]))?;
            let forward = forward.for_source(&url);
            self.settings.lock().unwrap().forward = forward.clone();
            // Started again after a failed start (pull mode refused, push mode tried): the
            // origin has answered already.
            if let Some(error) = self.failure.lock().unwrap().clone() {
                return Err(start_error(&error));
            }
            if let Some((reader, known)) = self.spare.lock().unwrap().take() {
                *self.known.lock().unwrap() = known;
                *self.state.lock().unwrap() = Some(reader);
                return Ok(());
            }
            let opened = self.run(async move { origins().open(&url, FIRST_BLOCK, &forward).await });
            let opened = match opened {
                Ok(opened) => opened,
                Err(error) => {
                    let message = start_error(&error);
                    let _ = self.fail(error);
                    return Err(message);
                }
            };
            let mode = match opened.body {
                Body::Block(block) => {
                    super::super::count(block.len() as u64);
                    *self.head.lock().unwrap() = Some(block.clone());
                    Mode::Ranged {
                        blocks: vec![(0, block)],
                    }
                }
                Body::Whole(response) => Mode::Whole {
                    response: Some(response),
                    position: 0,
                    pending: Bytes::new(),
                },
            };
            *self.known.lock().unwrap() = Known {
                started: true,
                seekable: matches!(mode, Mode::Ranged { .. }) && opened.size.is_some(),
                size: opened.size,
            };
            *self.state.lock().unwrap() = Some(Reader {
                url: opened.url,
                size: opened.size,
                mode,
            });
            Ok(())
        }

        fn stop(&self) -> Result<(), gst::ErrorMessage> {
            let known = std::mem::take(&mut *self.known.lock().unwrap());
            let reader = self.state.lock().unwrap().take();
            // A whole response not read yet is kept for the start that follows a refused pull
            // mode, instead of asking the origin again.
            if let Some(reader) = reader {
                if let Mode::Whole { position: 0, .. } = reader.mode {
                    *self.spare.lock().unwrap() = Some((reader, known));
                }
            }
            self.cancel.send_replace(false);
            Ok(())
        }

        fn is_seekable(&self) -> bool {
            self.known.lock().unwrap().seekable
        }

        fn size(&self) -> Option<u64> {
            self.known.lock().unwrap().size
        }

        fn query(&self, query: &mut gst::QueryRef) -> bool {
            // Before it starts, the element says it can be pulled from without asking the origin:
            // uridecodebin asks this right after making the element, before its headers are set,
            // and would otherwise start (fetch) and stop it just to know. A source that turns out
            // not to be seekable then refuses pull mode and is read in push mode.
            if let gst::QueryViewMut::Scheduling(q) = query.view_mut() {
                if !self.known.lock().unwrap().started {
                    q.set(gst::SchedulingFlags::SEEKABLE, 1, -1, 0);
                    q.add_scheduling_modes([gst::PadMode::Pull, gst::PadMode::Push]);
                    return true;
                }
            }
            BaseSrcImplExt::parent_query(self, query)
        }

        fn create(
            &self,
            offset: u64,
            passed: Option<&mut gst::BufferRef>,
            length: u32,
        ) -> Result<CreateSuccess, gst::FlowError> {
            let mut state = self.state.lock().unwrap();
            let reader = state.as_mut().ok_or(gst::FlowError::Flushing)?;
            let read = match reader.mode {
                Mode::Ranged { .. } => self.read_ranged(reader, offset, u64::from(length)),
                Mode::Whole { .. } => self.read_whole(reader, offset, u64::from(length)),
            };
            let bytes = read.map_err(|e| self.fail(e))?;
            if bytes.is_empty() {
                return Err(gst::FlowError::Eos);
            }
            super::super::deliver(offset, bytes, passed)
        }

        fn unlock(&self) -> Result<(), gst::ErrorMessage> {
            self.cancel.send_replace(true);
            Ok(())
        }

        fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
            self.cancel.send_replace(false);
            Ok(())
        }
    }
}
