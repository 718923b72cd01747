//! The handler behind every pipeline file's routes: find the endpoint, validate the query, wait
//! for a slot, then run the pipeline the way its kind says.

use super::error::ApiError;
use super::{cache, App, RequestId};
use crate::catalog::params::{self, ServiceTarget};
use crate::catalog::{template::TemplateError, Endpoint, Spec};
use crate::engine::launch::{Launch, Moment, Overlay, Window};

use crate::engine::storyboard::Plan;
use crate::engine::{self, Failure, PipelineError};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use gstreamer as gst;
use std::sync::Arc;
use std::time::Instant;

pub async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Extension(id): Extension<RequestId>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let route = app
        .catalog()
        .get(uri.path())
        .cloned()
        .ok_or_else(|| ApiError::NotFound {
            path: uri.path().into(),
        })?;
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::MethodNotAllowed);
    }
    let via = headers.get_all(header::VIA).iter();
    if via
        .filter_map(|v| v.to_str().ok())
        .any(crate::source::fetch::is_from_pythumbio)
    {
        let refusal = crate::source::Refusal(crate::source::Rule::SelfRequest);
        return Err(PipelineError::new(
            Failure::Refused {
                rule: refusal.0.name(),
            },
            refusal.to_string(),
        )
        .into());
    }
    if let Some(signer) = &app.signer {
        signer
            .verify(uri.path(), uri.query().unwrap_or(""))
            .map_err(ApiError::Signature)?;
    }
    if !super::query_is_utf8(uri.query().unwrap_or("")) {
        return Err(ApiError::BadQuery(
            "a percent-escape does not decode to UTF-8".into(),
        ));
    }
    let Query(mut query) = query.map_err(|e| ApiError::BadQuery(e.body_text()))?;
    if app.signer.is_some() {
        query.retain(|(name, _)| name != "sig");
    }
    // A path suffix (`/thumb.png`) is the parameter given once more: both at once is a repeat.
    query.extend(route.preset.clone());
    let suffixed = route.preset.is_some();
    let endpoint = route.endpoint;
    let mut bound = params::bind(&endpoint.params, &query)?;
    admit_sources(app.origins.policy(), &mut bound)?;
    bound.forward = app
        .forward_headers
        .iter()
        .flat_map(|name| headers.get_all(name).iter().map(move |v| (name, v)))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    // Only a storyboard's layout holds its own URL; it is part of that output, so of its tag.
    let sprite = match &endpoint.spec {
        Spec::Storyboard { sprite, .. } => sprites(
            app.public_url.as_deref(),
            &headers,
            &uri,
            suffixed,
            &endpoint,
            sprite,
            app.signer.as_ref(),
        )?,
        _ => Sprites::default(),
    };
    let tag = endpoint
        .cacheable
        .then(|| cache::etag(&endpoint, &bound, &sprite.url(0)));
    let caching = tag.map(|tag| {
        [
            (header::ETAG, tag),
            (
                header::CACHE_CONTROL,
                cache::cache_control(app.cache_max_age, !bound.forward.is_empty()),
            ),
        ]
    });
    if let Some(caching) = &caching {
        if cache::not_modified(&headers, &caching[0].1) {
            return Ok((StatusCode::NOT_MODIFIED, caching.clone()).into_response());
        }
    }
    let tag = caching.as_ref().map(|c| &c[0].1);
    let asked = Asked {
        route: uri.path().to_string(),
        id,
    };
    let mut response = match respond(&app, endpoint, bound, sprite, asked, tag, &headers).await {
        Err(e) => {
            if let Some(failure) = e.pipeline() {
                app.metrics.pipeline_error(&element_type(failure));
            }
            return Err(e);
        }
        Ok(response) => response,
    };
    if let Some(caching) = caching {
        response.headers_mut().extend(caching);
    }
    Ok(response)
}

/// Puts every url the request names (the source, a watermark) to the source policy before
/// anything is fetched; a `file://` url inside the file root is replaced by its real path.
fn admit_sources(
    policy: &crate::source::Policy,
    bound: &mut params::Bound,
) -> Result<(), ApiError> {
    use crate::source::NotAdmitted;
    bound.admit(|text| {
        policy.admit(text).map_err(|e| match e {
            NotAdmitted::Refused(refusal) => PipelineError::new(
                Failure::Refused {
                    rule: refusal.0.name(),
                },
                refusal.to_string(),
            ),
            NotAdmitted::Missing => {
                PipelineError::new(Failure::Origin { status: Some(404) }, e.to_string())
            }
        })
    })?;
    Ok(())
}

/// Runs the endpoint's pipeline the way its kind says.
async fn respond(
    app: &Arc<App>,
    endpoint: Arc<Endpoint>,
    bound: params::Bound,
    sprite: Sprites,
    asked: Asked,
    tag: Option<&HeaderValue>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let content_type = [(header::CONTENT_TYPE, endpoint.content_type(&bound))];
    if matches!(endpoint.spec, Spec::Stream { .. }) && endpoint.assembler(&bound).is_none() {
        let permit = slot(app, &asked.route).await?;
        return stream(app, &endpoint, &bound, permit, asked)
            .await
            .map(|body| (content_type, body).into_response());
    }
    let make = whole(app.clone(), endpoint, bound, sprite, asked.route);
    let body = match tag.and_then(|t| t.to_str().ok()) {
        Some(tag) => app.outputs.get_or_make(tag, make).await?,
        None => make.await?,
    };
    let [(_, content_type)] = content_type;
    Ok(super::ranges::answer(headers, body, content_type, tag))
}

/// An output made whole before it is sent: a still, metadata, a storyboard, an assembled
/// animation. Holds a pipeline slot while it is made.
async fn whole(
    app: Arc<App>,
    endpoint: Arc<Endpoint>,
    bound: params::Bound,
    sprite: Sprites,
    route: String,
) -> Result<Bytes, ApiError> {
    let permit = slot(&app, &route).await?;
    let started = Instant::now();
    // Timed whether it succeeds or fails.
    let made = async {
        Ok::<_, ApiError>(match &endpoint.spec {
            Spec::Still { start, .. } => {
                let (placed, default) = (placed(&app, &bound).await?, *start);
                let app = app.clone();
                blocking(move || {
                    let deadline = Instant::now() + app.timeout;
                    let description = rendered(endpoint.render(&bound))?;
                    let moment = Moment {
                        time: placed.start,
                        default,
                        accurate: bound.seek.accurate.unwrap_or(true),
                    };
                    let launch = Launch {
                        overlay: overlay(&bound),
                        still: Some(moment),
                        ..app.launch(&description, &bound)
                    };
                    let picked = match placed.auto {
                        true => auto_frame(&launch, deadline)?,
                        false => None,
                    };
                    let frame = match picked {
                        Some(frame) => frame,
                        // What is left of the request's time (all of it without `auto`).
                        None => engine::still::capture_sample(
                            &launch,
                            deadline.saturating_duration_since(Instant::now()),
                        )?,
                    };
                    match endpoint.assembler(&bound) {
                        Some("blurhash") => {
                            let placeholder = engine::placeholder::Placeholder::of(&frame)?;
                            Ok(json_bytes(&placeholder.to_json()))
                        }
                        _ => engine::sample_bytes(frame),
                    }
                })
                .await?
            }
            Spec::Discover => {
                let (timeout, limits) = (app.timeout, app.limits);
                let (origins, pipelines) = (app.origins.clone(), app.pipelines.clone());
                let url = bound.source.clone().ok_or_else(|| {
                    PipelineError::new(Failure::Internal, "the source was not admitted")
                })?;
                let forward = crate::source::Forward::from_pairs(&bound.forward);
                let json = blocking(move || {
                    let found = engine::discover::discover(
                        &url, timeout, &forward, limits, &origins, &pipelines,
                    )?;
                    Ok(engine::ffprobe::to_json(url.as_str(), &found))
                })
                .await?;
                json_bytes(&json)
            }
            Spec::Storyboard { .. } => storyboard(app.clone(), endpoint, bound, sprite).await?,
            Spec::Stream { .. } => assembled(app.clone(), endpoint, bound).await?,
        })
    }
    .await;
    drop(permit);
    app.metrics.piped(&route, started.elapsed());
    made
}

/// What a request asked for, as its metrics and log lines name it.
struct Asked {
    /// The route asked (`/thumb.png`), as the request metrics label it.
    route: String,
    id: RequestId,
}

/// A pipeline slot for a request of `route`, its wait counted.
async fn slot(app: &App, route: &str) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    let asked = Instant::now();
    let permit = app.admission.admit().await;
    app.metrics.queued(route, asked.elapsed());
    permit
}

/// The frame `time=auto` takes, from the still's own pipeline; None for the still's default
/// frame (a source that cannot seek, a video with no frame to score: audio with a cover).
fn auto_frame(
    launch: &Launch<'_>,
    deadline: Instant,
) -> Result<Option<gst::Sample>, PipelineError> {
    let unsought = Launch {
        still: None,
        ..*launch
    };
    match engine::scout::pick(&unsought, deadline) {
        Ok(frame) => Ok(frame),
        Err(e) if e.failure == Failure::Timeout => Err(e),
        Err(e) => {
            tracing::debug!(error = %e, "time=auto found no frame to score: the default frame");
            Ok(None)
        }
    }
}

fn json_bytes(json: &serde_json::Value) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(json).expect("JSON values serialise"))
}

/// Starts a streaming pipeline and waits for its first bytes, so that a failure before them is
/// still an HTTP status. After them, a failure aborts the chunked body and is logged.
async fn stream(
    app: &App,
    endpoint: &Endpoint,
    bound: &params::Bound,
    permit: tokio::sync::OwnedSemaphorePermit,
    asked: Asked,
) -> Result<Body, ApiError> {
    let started = Instant::now();
    let description = rendered(endpoint.render(bound))?;
    let placed = placed(app, bound).await?;
    let (rate, window) = (endpoint.rate(bound), window(placed, app.max_stream));
    let (bound, limits, chunk_size) = (bound.clone(), app.limits, app.chunk_size);
    let (origins, pipelines) = (app.origins.clone(), app.pipelines.clone());
    // Everything up to the first byte, origin reads included, ends by PYTHUMBIO_TIMEOUT.
    let due = std::time::Instant::now() + app.timeout;
    let first_byte = crate::source::Deadline::at(due);
    let reads = first_byte.clone();
    // Starting reads the origin's first answer: on the blocking pool, like every GStreamer wait.
    let mut output = blocking(move || {
        let launch = Launch {
            rate,
            window: Some(window),
            limits,
            forward: &bound.forward,
            deadline: Some(&reads),
            origins: Some(&origins),
            pipelines: Some(&pipelines),
            ..Launch::new(&description, &bound.properties)
        };
        engine::stream::start(&launch, chunk_size)
    })
    .await?;
    // The slot is the pipeline's until it is in NULL, however the body ends.
    output.hold(permit);
    let first = tokio::time::timeout_at(due.into(), output.next()).await;
    first_byte.lift();
    let first = match first {
        Ok(Some(Ok(bytes))) => bytes,
        Ok(Some(Err(e))) => return Err(e.into()),
        Ok(None) => return Err(ApiError::NoOutput),
        Err(_) => {
            return Err(PipelineError::new(
                Failure::Timeout,
                "the pipeline produced nothing in time",
            )
            .into())
        }
    };
    app.metrics.piped(&asked.route, started.elapsed());
    let metrics = app.metrics.clone();
    let mut log = StreamLog {
        metrics: app.metrics.clone(),
        id: asked.id,
        route: endpoint.routes[0].clone(),
        bytes: first.len(),
        started: Instant::now(),
    };
    // However slowly the client reads, the stream ends at the wall-clock limit (aborted: the
    // client sees a broken transfer, not a short file).
    let deadline = tokio::time::Instant::now() + app.max_stream_time;
    let limited = futures_util::stream::unfold(Some(output), move |output| async move {
        let mut output = output?;
        tokio::select! {
            item = output.next() => item.map(|item| (item, Some(output))),
            _ = tokio::time::sleep_until(deadline) => Some((
                Err(PipelineError::new(
                    Failure::Timeout,
                    "the stream ran past PYTHUMBIO_MAX_STREAM_TIME",
                )),
                None,
            )),
        }
    });
    let rest = limited.map(move |item| {
        match &item {
            Ok(bytes) => log.bytes += bytes.len(),
            Err(e) => {
                metrics.pipeline_error(&element_type(e));
                tracing::error!(
                    request_id = log.id.0,
                    route = log.route,
                    element = e.element.as_deref().unwrap_or(""),
                    debug = e.debug.as_deref().unwrap_or(""),
                    "stream aborted: {}",
                    e.message
                );
            }
        }
        item
    });
    Ok(Body::from_stream(
        futures_util::stream::once(async { Ok(first) }).chain(rest),
    ))
}

/// The request's times in seconds. A share of the duration needs the source's duration first:
/// one metadata read before the pipeline, made only when a time is a share.
async fn placed(app: &App, bound: &params::Bound) -> Result<params::Placed, ApiError> {
    if !bound.seek.needs_duration() {
        return Ok(bound.seek.place(None)?);
    }
    let (timeout, limits) = (app.timeout, app.limits);
    let (origins, pipelines) = (app.origins.clone(), app.pipelines.clone());
    let url = bound
        .source
        .clone()
        .ok_or_else(|| PipelineError::new(Failure::Internal, "the source was not admitted"))?;
    let forward = crate::source::Forward::from_pairs(&bound.forward);
    let duration = blocking(move || {
        let found =
            engine::discover::discover(&url, timeout, &forward, limits, &origins, &pipelines)?;
        Ok(found.info.duration().map(|d| d.nseconds() as f64 / 1e9))
    })
    .await?;
    Ok(bound.seek.place(duration)?)
}

/// The part of the source a stream covers, from `seek.start` and `seek.duration`, and never more
/// than PYTHUMBIO_MAX_STREAM_DURATION of it.
fn window(placed: params::Placed, longest: std::time::Duration) -> Window {
    let seconds = |s: f64| gst::ClockTime::from_nseconds((s * 1e9) as u64);
    let start = seconds(placed.start.unwrap_or(0.0));
    let asked = placed.duration.map(seconds);
    let cap = gst::ClockTime::from_nseconds(longest.as_nanos() as u64);
    Window {
        start,
        stop: Some(start + asked.map_or(cap, |d| d.min(cap))),
    }
}

/// A stream's output collected whole and assembled (animated WebP from WebP stills).
async fn assembled(
    app: Arc<App>,
    endpoint: Arc<Endpoint>,
    bound: params::Bound,
) -> Result<Bytes, ApiError> {
    let timeout = app.timeout;
    let window = window(placed(&app, &bound).await?, app.max_stream);
    blocking(move || {
        let description = rendered(endpoint.render(&bound))?;
        let launch = Launch {
            rate: endpoint.rate(&bound),
            window: Some(window),
            ..app.launch(&description, &bound)
        };
        let buffers = engine::stream::collect(&launch, timeout)?;
        if buffers.is_empty() {
            return Err(PipelineError::new(
                Failure::NoFrame,
                "the pipeline produced no frame",
            ));
        }
        let stills: Vec<_> = buffers
            .iter()
            .map(|(webp, duration)| engine::webp::Still {
                webp,
                duration: *duration,
            })
            .collect();
        engine::webp::animate(&stills)
            .map(Bytes::from)
            .map_err(|e| PipelineError::new(Failure::Internal, format!("animated WebP: {e}")))
    })
    .await
}

/// A storyboard's sheet, or its layout as WebVTT or JSON (the `format` values `vtt`, `json`).
async fn storyboard(
    app: Arc<App>,
    endpoint: Arc<Endpoint>,
    bound: params::Bound,
    sprite: Sprites,
) -> Result<Bytes, ApiError> {
    // Declared with a default and a minimum above 0 on every storyboard (checked at load).
    let number = |target| bound.number(target).unwrap_or(1.0);
    let plan = Plan {
        interval: number(ServiceTarget::StoryboardInterval),
        max_tiles: number(ServiceTarget::StoryboardMaxTiles) as usize,
        columns: number(ServiceTarget::StoryboardColumns) as usize,
        // A file without `storyboard.rows` puts every tile on one sheet, the only one.
        rows: bound
            .number(ServiceTarget::StoryboardRows)
            .map_or(usize::MAX, |rows| rows as usize),
        sheet: bound.number(ServiceTarget::StoryboardSheet).unwrap_or(0.0) as usize,
    };
    let layout = endpoint.layout(&bound).map(str::to_string);
    let (timeout, limits) = (app.timeout, app.sheet_limits);
    blocking(move || {
        let description = rendered(endpoint.render(&bound))?;
        let tiles = app.launch(&description, &bound);
        match layout.as_deref() {
            Some("vtt") => Ok(Bytes::from(
                engine::storyboard::layout(&tiles, plan, limits, timeout)?.vtt(&|n| sprite.url(n)),
            )),
            Some(_) => {
                let json = engine::storyboard::layout(&tiles, plan, limits, timeout)?
                    .json(&|n| sprite.url(n));
                Ok(Bytes::from(
                    serde_json::to_vec_pretty(&json).expect("JSON values serialise"),
                ))
            }
            None => {
                let sheet = endpoint.render_sheet(&bound).unwrap_or(Ok(String::new()));
                let sheet = rendered(sheet)?;
                engine::storyboard::render(&tiles, &sheet, plan, limits, timeout)
            }
        }
    })
    .await
}

/// Where a storyboard's sheets are, for its layout to point at: this request's URL with the
/// sheet's suffix, without the suffix parameter, and for sheets after the first the sheet
/// parameter; absolute, and (where URLs are signed) each signed for its own path.
#[derive(Clone, Default)]
struct Sprites {
    origin: String,
    base: String,
    query: Vec<String>,
    /// The parameter that numbers the sheets (`to = "storyboard.sheet"`), if the file has one.
    sheet_param: Option<String>,
    signer: Option<crate::signature::Signer>,
}

impl Sprites {
    /// Sheet `n`'s URL.
    fn url(&self, n: u32) -> String {
        let mut query = self.query.clone();
        if let (Some(param), true) = (&self.sheet_param, n > 0) {
            query.push(format!("{param}={n}"));
        }
        let sheet = format!("{}?{}", self.base, query.join("&"));
        let sheet = match &self.signer {
            Some(signer) => signer.sign(&sheet),
            None => sheet,
        };
        format!("{}{sheet}", self.origin)
    }
}

fn sprites(
    public_url: Option<&str>,
    headers: &HeaderMap,
    uri: &Uri,
    suffixed: bool,
    endpoint: &Endpoint,
    sheet_suffix: &str,
    signer: Option<&crate::signature::Signer>,
) -> Result<Sprites, ApiError> {
    let origin = match public_url {
        Some(base) => base.to_string(),
        None => {
            let host = match headers.get(header::HOST) {
                None => "localhost",
                Some(value) => value
                    .to_str()
                    .ok()
                    .filter(|h| is_host_and_port(h))
                    .ok_or(ApiError::BadHost)?,
            };
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|h| h.to_str().ok())
                .filter(|p| *p == "https")
                .unwrap_or("http");
            format!("{scheme}://{host}")
        }
    };
    let path = uri.path();
    let base = match suffixed {
        true => path.rsplit_once('.').map_or(path, |(base, _)| base),
        false => path,
    };
    let sheet_param = endpoint
        .params
        .iter()
        .find(|p| p.target == params::Target::Service(ServiceTarget::StoryboardSheet))
        .map(|p| p.name.clone());
    let dropped = [endpoint.suffix.as_deref(), sheet_param.as_deref()];
    let query = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty() && !dropped.contains(&pair.split('=').next()))
        .map(str::to_string)
        .collect();
    Ok(Sprites {
        origin,
        base: format!("{base}.{sheet_suffix}"),
        query,
        sheet_param,
        signer: signer.cloned(),
    })
}

/// Whether `text` is a host name, an IPv4 address or a bracketed IPv6 address, with an optional
/// port, and nothing else.
fn is_host_and_port(text: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    !text.is_empty()
        && text.len() <= 255
        && text.chars().all(allowed)
        && url::Url::parse(&format!("http://{text}/"))
            .is_ok_and(|u| u.path() == "/" && u.host_str().is_some())
}

/// A watermark's place when the request names one (`role = "watermark"`, placed by the values
/// that went to `watermark.scale` and `watermark.offset`).
fn overlay(bound: &params::Bound) -> Option<Overlay> {
    if !bound.watermark {
        return None;
    }
    Some(Overlay {
        scale: bound.number(ServiceTarget::WatermarkScale)?,
        offset: bound.number(ServiceTarget::WatermarkOffset)?,
    })
}

/// A description filled for a request: a template the load check let through but that does not
/// fill is the service's fault.
fn rendered(text: Result<String, TemplateError>) -> Result<String, PipelineError> {
    text.map_err(|e| PipelineError::new(Failure::Internal, format!("pipeline file: {e}")))
}

/// Logs a stream's bytes and duration when its body is dropped: finished, aborted or left.
struct StreamLog {
    metrics: Arc<super::metrics::Metrics>,
    id: RequestId,
    route: String,
    bytes: usize,
    started: Instant,
}

impl Drop for StreamLog {
    fn drop(&mut self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.metrics.sent(self.bytes as u64);
        tracing::info!(
            request_id = self.id.0,
            route = self.route,
            bytes = self.bytes,
            ms,
            "stream ended"
        );
    }
}

/// The factory of the element that reported a failure (`qtdemux`, `pythumbiohttpsrc`): a
/// bounded label, unlike the element's path; "none" when no element did.
fn element_type(e: &PipelineError) -> String {
    e.factory.clone().unwrap_or_else(|| "none".into())
}

/// Runs GStreamer's blocking calls on the blocking pool, off the async workers.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, PipelineError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(|| engine::guard::blocking_section(job))
        .await
        .map_err(|_| {
            ApiError::Pipeline(PipelineError::new(
                Failure::Internal,
                "the pipeline task panicked",
            ))
        })?
        .map_err(ApiError::from)
}
