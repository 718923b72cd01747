//! The playground page at `/` and the built-in sample clip it opens on. The clip is made once,
//! on first use, by a GStreamer pipeline (test pattern and tone, VP8 and Opus in WebM), kept in
//! memory and served with Range support; the service reads it through the same source element
//! and policy as any URL (the policy lets exactly its URL through).

use super::App;
use crate::engine::{self, launch::Launch, PipelineError};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// Ten seconds of SMPTE bars with a moving ball and a 440 Hz tone, 640x360 at 30 fps.
const SAMPLE: &str = "\
videotestsrc num-buffers=300 pattern=smpte horizontal-speed=3 ! video/x-raw,width=640,height=360,framerate=30/1 \
! videoconvert ! vp8enc deadline=1 cpu-used=8 target-bitrate=600000 keyframe-max-dist=30 ! queue ! mux. \
audiotestsrc num-buffers=470 samplesperbuffer=1024 freq=440 volume=0.2 ! audio/x-raw,rate=48000,channels=2 \
! audioconvert ! opusenc ! queue ! mux. \
webmmux name=mux ! filesink name=file";

/// The elements the sample is made with, which an image must keep.
pub fn sample_elements() -> Vec<String> {
    crate::catalog::element_names(SAMPLE)
}

/// The page, with the sample's URL filled in.
pub async fn page(State(app): State<Arc<App>>) -> impl IntoResponse {
    let sample = app
        .origins
        .policy()
        .sample()
        .map(|u| u.to_string())
        .unwrap_or_default();
    let signed = if app.signer.is_some() {
        "true"
    } else {
        "false"
    };
    let html = include_str!("playground.html")
        .replace("{{SAMPLE_URL}}", &sample)
        .replace("{{SIGNED}}", signed);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html)
}

/// The sample clip, whole or the range asked for.
pub async fn sample(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let clip = app
        .sample
        .get_or_try_init(|| async {
            let pipelines = app.pipelines.clone();
            let made = tokio::task::spawn_blocking(move || make(&pipelines)).await;
            made.unwrap_or_else(|e| {
                Err(PipelineError::new(engine::Failure::Internal, e.to_string()))
            })
        })
        .await;
    let clip = match clip {
        Ok(clip) => clip.clone(),
        Err(e) => return super::error::ApiError::Pipeline(e).into_response(),
    };
    let mut response = super::ranges::answer(&headers, clip, "video/webm", None);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=86400"),
    );
    response
}

/// Writes the clip to a file first: the muxer goes back to its header to note the duration and
/// the index, which a stream of buffers would not allow. It runs among the service's
/// `pipelines`: counted, and stopped at shutdown.
fn make(pipelines: &Arc<engine::Pipelines>) -> Result<Bytes, PipelineError> {
    let internal = |e: String| PipelineError::new(engine::Failure::Internal, e);
    let path = std::env::temp_dir().join(format!("pythumbio-sample-{}.webm", std::process::id()));
    let location = [engine::launch::Setting::text(
        "file",
        "location",
        path.display().to_string(),
    )];
    let launch = Launch {
        pipelines: Some(pipelines),
        ..Launch::new(SAMPLE, &location)
    };
    let result = engine::stream::run_to_end(&launch, Duration::from_secs(60))
        .and_then(|()| std::fs::read(&path).map_err(|e| internal(e.to_string())));
    let _ = std::fs::remove_file(&path);
    result.map(Bytes::from)
}
