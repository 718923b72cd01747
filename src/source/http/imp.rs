//! The implementation of `pythumbiohttpsrc`: its settings, its one state, and BaseSrc's calls.

use super::{
    details, resource_error, start_error, CACHED_BLOCKS, CAT, FIRST_BLOCK, MAX_BLOCK, MIN_BLOCK,
    PUSH_BLOCK,
};
use crate::source::fetch::{Body, FetchError, Forward};
use crate::source::{run, Origins};
use bytes::{Bytes, BytesMut};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::prelude::*;
use gstreamer_base::subclass::base_src::CreateSuccess;
use gstreamer_base::subclass::prelude::*;
use std::sync::Arc;
use std::sync::{LazyLock, Mutex};

use tokio::sync::watch;
use url::Url;

#[derive(Default)]
pub struct Settings {
    pub url: Option<Url>,
    pub forward: Forward,
    pub deadline: Option<crate::source::Deadline>,
    pub origins: Option<Arc<Origins>>,
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
    /// Where its bytes are kept across requests, when they are.
    key: Option<crate::source::cache::Key>,
}

/// Where the element is. Held by the streaming thread through network waits (and by start and
/// stop): what other threads ask is in [`Seen`].
enum State {
    /// Not reading. `spare`: a whole response opened by a start whose pull mode was refused,
    /// unread, kept for the start in push mode that follows instead of asking the origin again.
    Stopped {
        spare: Option<Reader>,
    },
    Started {
        reader: Reader,
    },
}

/// What other threads may ask while a read is in flight (queries, the bus handler that
/// classifies an error): never held across a wait.
#[derive(Default)]
pub(super) struct Seen {
    started: bool,
    seekable: bool,
    size: Option<u64>,
    /// The failure that stopped the last read.
    pub(super) failure: Option<FetchError>,
    /// The first bytes read from offset 0, kept for a look at the container's header.
    pub(super) head: Option<Bytes>,
}

pub struct HttpSrc {
    pub(super) settings: Mutex<Settings>,
    state: Mutex<State>,
    pub(super) seen: Mutex<Seen>,
    /// True while the element is being unlocked: the read in flight stops at once.
    cancel: watch::Sender<bool>,
}

impl Default for HttpSrc {
    fn default() -> Self {
        Self {
            settings: Mutex::default(),
            state: Mutex::new(State::Stopped { spare: None }),
            seen: Mutex::default(),
            cancel: watch::channel(false).0,
        }
    }
}

crate::source::source_element_subclass!(HttpSrc, super::HttpSrc, "PythumbioHttpSrc");

impl ObjectImpl for HttpSrc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb("The http(s) URL to read, under the source policy")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("extra-headers")
                    .nick("Extra headers")
                    .blurb("Headers sent to the source's own origin only (never after a redirect to another), as field = value")
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "location" => {
                let uri: Option<String> = value.get().expect("a string");
                let set = match uri {
                    Some(uri) => self.take_uri(&uri),
                    None => {
                        self.settings.lock().unwrap().url = None;
                        Ok(())
                    }
                };
                if let Err(e) = set {
                    gst::warning!(CAT, imp = self, "location: {e}");
                }
            }
            "extra-headers" => {
                let headers: Option<gst::Structure> = value.get().expect("a structure");
                let pairs: Vec<(String, String)> = headers
                    .iter()
                    .flat_map(|s| s.iter())
                    .filter_map(|(name, value)| {
                        let text = value.get::<String>().ok()?;
                        Some((name.to_string(), text))
                    })
                    .collect();
                self.settings.lock().unwrap().forward = Forward::from_pairs(&pairs);
            }
            other => unreachable!("no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "location" => self.current_uri().to_value(),
            "extra-headers" => {
                let settings = self.settings.lock().unwrap();
                let mut headers = gst::Structure::new_empty("extra-headers");
                for (name, value) in &settings.forward.headers {
                    if let Ok(text) = value.to_str() {
                        headers.set(name.as_str(), text);
                    }
                }
                headers.to_value()
            }
            other => unreachable!("no property {other}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.set_format(gst::Format::Bytes);
        obj.set_blocksize(PUSH_BLOCK);
    }
}

crate::source::source_element_impl!(
    HttpSrc,
    "pythumbio HTTP source",
    "Source/Network",
    "Reads http(s) sources under pythumbio's source policy, in Range blocks",
    &["http", "https", "pythumbio+http", "pythumbio+https"]
);

impl HttpSrc {
    fn current_uri(&self) -> Option<String> {
        let settings = self.settings.lock().unwrap();
        settings.url.as_ref().map(Url::to_string)
    }

    fn take_uri(&self, uri: &str) -> Result<(), glib::Error> {
        let uri = uri.strip_prefix(crate::source::PULL_PREFIX).unwrap_or(uri);
        let url = Url::parse(uri)
            .map_err(|e| glib::Error::new(gst::URIError::BadUri, &format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(glib::Error::new(
                gst::URIError::UnsupportedProtocol,
                "only http and https",
            ));
        }
        self.settings.lock().unwrap().url = Some(url);
        // What was kept of another URL is not this one's.
        if let State::Stopped { spare } = &mut *self.state.lock().unwrap() {
            spare.take();
        }
        let mut seen = self.seen.lock().unwrap();
        (seen.failure, seen.head) = (None, None);
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
        self.seen.lock().unwrap().failure = Some(error.clone());
        if let FetchError::Refused(refusal) = error {
            crate::source::refusal::report(self.obj().upcast_ref(), refusal);
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

    fn origins(&self) -> Arc<Origins> {
        let handed = self.settings.lock().unwrap().origins.clone();
        handed.unwrap_or_else(crate::source::default_origins)
    }

    /// What queries answer once the element has opened its source.
    fn set_started(&self, seekable: bool, size: Option<u64>) {
        let mut seen = self.seen.lock().unwrap();
        (seen.started, seen.seekable, seen.size) = (true, seekable, size);
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
        let (url, forward, key) = (reader.url.clone(), self.forward(), reader.key.clone());
        let origins = self.origins();
        let (fetched, over_network) =
            self.run(async move { origins.block(&url, from, len, &forward, key.as_ref()).await })?;
        if over_network {
            self.origins().count(fetched.len() as u64);
        }
        if from == 0 {
            let mut seen = self.seen.lock().unwrap();
            seen.head.get_or_insert_with(|| fetched.clone());
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
            let origins = self.origins();
            let (body, chunk) = self.run(async move {
                let chunk = origins.next_chunk(&mut body).await;
                Ok((body, chunk))
            })?;
            match chunk? {
                Some(chunk) => {
                    self.origins().count(chunk.len() as u64);
                    if *position == 0 {
                        let mut seen = self.seen.lock().unwrap();
                        seen.head.get_or_insert_with(|| chunk.clone());
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
        let url =
            url.ok_or_else(|| gst::error_msg!(gst::ResourceError::Settings, ["no URI was set"]))?;
        let forward = forward.for_source(&url);
        self.settings.lock().unwrap().forward = forward.clone();
        // Started again after a failed start (pull mode refused, push mode tried): the
        // origin has answered already.
        if let Some(error) = self.seen.lock().unwrap().failure.clone() {
            return Err(start_error(&error));
        }
        let mut state = self.state.lock().unwrap();
        if let State::Stopped { spare } = &mut *state {
            if let Some(reader) = spare.take() {
                self.set_started(false, reader.size);
                *state = State::Started { reader };
                return Ok(());
            }
        }
        drop(state);
        let origins = self.origins();
        let opened = self.run(async move { origins.open(&url, FIRST_BLOCK, &forward).await });
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
                if !opened.cached {
                    self.origins().count(block.len() as u64);
                }
                self.seen.lock().unwrap().head = Some(block.clone());
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
        let seekable = matches!(mode, Mode::Ranged { .. }) && opened.size.is_some();
        self.set_started(seekable, opened.size);
        let reader = Reader {
            url: opened.url,
            size: opened.size,
            mode,
            key: opened.key,
        };
        *self.state.lock().unwrap() = State::Started { reader };
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        {
            let mut seen = self.seen.lock().unwrap();
            (seen.started, seen.seekable, seen.size) = (false, false, None);
        }
        let mut state = self.state.lock().unwrap();
        let was = std::mem::replace(&mut *state, State::Stopped { spare: None });
        // A whole response not read yet is kept for the start that follows a refused pull
        // mode, instead of asking the origin again.
        if let State::Started { reader } = was {
            if let Mode::Whole { position: 0, .. } = reader.mode {
                *state = State::Stopped {
                    spare: Some(reader),
                };
            }
        }
        self.cancel.send_replace(false);
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        self.seen.lock().unwrap().seekable
    }

    fn size(&self) -> Option<u64> {
        self.seen.lock().unwrap().size
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        // Before it starts, the element says it can be pulled from without asking the origin:
        // uridecodebin asks this right after making the element, before its headers are set,
        // and would otherwise start (fetch) and stop it just to know. A source that turns out
        // not to be seekable then refuses pull mode and is read in push mode.
        if let gst::QueryViewMut::Scheduling(q) = query.view_mut() {
            if !self.seen.lock().unwrap().started {
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
        let State::Started { reader } = &mut *state else {
            return Err(gst::FlowError::Flushing);
        };
        let read = match reader.mode {
            Mode::Ranged { .. } => self.read_ranged(reader, offset, u64::from(length)),
            Mode::Whole { .. } => self.read_whole(reader, offset, u64::from(length)),
        };
        let bytes = read.map_err(|e| self.fail(e))?;
        if bytes.is_empty() {
            return Err(gst::FlowError::Eos);
        }
        crate::source::deliver(offset, bytes, passed)
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
