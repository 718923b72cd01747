//! Every failure a request can meet, mapped in one place to one status and one JSON shape:
//! `{"error": "...", "code": "...", "status": N}` plus fields that say more (the parameter, the
//! origin's status...).

use crate::catalog::params::ParamError;
use crate::engine::{Failure, PipelineError};
use crate::signature::SignatureError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

#[derive(Debug)]
pub enum ApiError {
    Param(ParamError),
    BadQuery(String),
    NotFound {
        path: String,
    },
    MethodNotAllowed,
    /// The `Host` header is not a host[:port], and the answer would carry it.
    BadHost,
    Busy {
        retry_after_secs: u64,
    },
    Pipeline(PipelineError),
    /// The pipeline ended without producing a byte.
    NoOutput,
    /// URLs are signed here and this one's signature is missing or wrong.
    Signature(SignatureError),
    /// A time given as a share of a source whose duration is unknown.
    Unplaceable(crate::catalog::params::Unplaceable),
    /// The failure of a request whose output this one was waiting for.
    Shared(std::sync::Arc<ApiError>),
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        Self::Param(e)
    }
}

impl From<crate::catalog::params::Unplaceable> for ApiError {
    fn from(e: crate::catalog::params::Unplaceable) -> Self {
        Self::Unplaceable(e)
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        Self::Pipeline(e)
    }
}

impl ApiError {
    /// The error itself, through any sharing.
    fn innermost(&self) -> &ApiError {
        match self {
            Self::Shared(inner) => inner.innermost(),
            other => other,
        }
    }

    /// The pipeline failure behind this error, if that is what it is.
    pub fn pipeline(&self) -> Option<&PipelineError> {
        match self {
            Self::Pipeline(e) => Some(e),
            Self::Shared(inner) => inner.pipeline(),
            _ => None,
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Map<String, Value>) {
        if let Self::Shared(inner) = self {
            return inner.parts();
        }
        let mut extra = Map::new();
        let (status, code) = match self {
            Self::Param(e) => {
                match e {
                    ParamError::Missing { name } | ParamError::Repeated { name } => {
                        extra.insert("parameter".into(), json!(name));
                    }
                    ParamError::Needs { name, value, needs } => {
                        extra.insert("parameter".into(), json!(name));
                        extra.insert("value".into(), json!(value));
                        extra.insert("needs".into(), json!(needs));
                    }
                    ParamError::Invalid {
                        name,
                        value,
                        allowed,
                    } => {
                        extra.insert("parameter".into(), json!(name));
                        extra.insert("value".into(), json!(value));
                        extra.insert("allowed".into(), json!(allowed));
                    }
                    ParamError::Unknown {
                        name,
                        known,
                        unencoded,
                    } => {
                        extra.insert("parameter".into(), json!(name));
                        extra.insert("known".into(), json!(known));
                        if let Some(url) = unencoded {
                            extra.insert("unencoded".into(), json!(url));
                        }
                    }
                    ParamError::RefusedScheme { value } => {
                        extra.insert("parameter".into(), json!("url"));
                        extra.insert("rule".into(), json!("scheme"));
                        extra.insert("value".into(), json!(value));
                    }
                }
                match e {
                    ParamError::Missing { .. } => (StatusCode::BAD_REQUEST, "missing_parameter"),
                    ParamError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_parameter"),
                    ParamError::Unknown { .. } => (StatusCode::BAD_REQUEST, "unknown_parameter"),
                    ParamError::Repeated { .. } => (StatusCode::BAD_REQUEST, "repeated_parameter"),
                    ParamError::Needs { .. } => (StatusCode::BAD_REQUEST, "incomplete_parameters"),
                    ParamError::RefusedScheme { .. } => (StatusCode::FORBIDDEN, "source_refused"),
                }
            }
            Self::Shared(_) => unreachable!("answered by the inner error above"),
            Self::BadQuery(_) => (StatusCode::BAD_REQUEST, "bad_query"),
            Self::NotFound { path } => {
                extra.insert("path".into(), json!(path));
                (StatusCode::NOT_FOUND, "not_found")
            }
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::BadHost => (StatusCode::BAD_REQUEST, "bad_host"),
            Self::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            Self::NoOutput => (StatusCode::UNPROCESSABLE_ENTITY, "no_output"),
            Self::Unplaceable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_duration"),
            Self::Signature(SignatureError::Missing) => {
                (StatusCode::FORBIDDEN, "signature_missing")
            }
            Self::Signature(SignatureError::Invalid) => {
                (StatusCode::FORBIDDEN, "signature_invalid")
            }
            Self::Signature(SignatureError::Repeated) => {
                extra.insert("parameter".into(), json!("sig"));
                (StatusCode::BAD_REQUEST, "repeated_parameter")
            }
            Self::Pipeline(e) => match e.failure {
                Failure::Origin { status } => {
                    if let Some(s) = status {
                        extra.insert("origin_status".into(), json!(s));
                    }
                    (StatusCode::BAD_GATEWAY, "origin_error")
                }
                Failure::OriginCannotSeek => (StatusCode::BAD_GATEWAY, "origin_cannot_seek"),
                Failure::Refused { rule } => {
                    extra.insert("rule".into(), json!(rule));
                    (StatusCode::FORBIDDEN, "source_refused")
                }
                Failure::Unsupported => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media"),
                Failure::NoUsableStream | Failure::NoFrame => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "no_usable_stream")
                }
                Failure::TooLarge => (StatusCode::UNPROCESSABLE_ENTITY, "source_too_large"),
                Failure::Corrupt => (StatusCode::UNPROCESSABLE_ENTITY, "corrupt_media"),
                Failure::NoSuchSheet { sheets } => {
                    extra.insert("parameter".into(), json!("sheet"));
                    extra.insert("sheets".into(), json!(sheets));
                    (StatusCode::NOT_FOUND, "no_such_sheet")
                }
                Failure::OutputTooLarge { limit } => {
                    extra.insert("limit".into(), json!(limit));
                    (StatusCode::UNPROCESSABLE_ENTITY, "output_too_large")
                }
                Failure::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                Failure::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
                Failure::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
        };
        (status, code, self.message(), extra)
    }

    fn message(&self) -> String {
        match self {
            Self::Param(e) => e.to_string(),
            Self::BadQuery(why) => format!("the query string cannot be read: {why}"),
            Self::NotFound { path } => format!("no endpoint at {path}"),
            Self::MethodNotAllowed => "only GET and HEAD are served".into(),
            Self::BadHost => {
                "the Host header is not a host[:port]; set PYTHUMBIO_PUBLIC_URL for the URL the \
                 layout points at"
                    .into()
            }
            Self::Busy { .. } => "every pipeline slot is taken; try again shortly".into(),
            Self::NoOutput => "the pipeline ended without producing output".into(),
            Self::Unplaceable(e) => e.to_string(),
            Self::Signature(SignatureError::Missing) => {
                "this service takes signed URLs only: `sig` is missing".into()
            }
            Self::Signature(SignatureError::Invalid) => {
                "the signature does not match this URL".into()
            }
            Self::Signature(SignatureError::Repeated) => {
                "`sig` is given more than once; a signed URL carries one".into()
            }
            Self::Shared(inner) => inner.message(),
            Self::Pipeline(e) => match e.failure {
                Failure::Internal => "the pipeline failed inside the service".into(),
                _ => e.message.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, extra) = self.parts();
        // The response carries what went wrong; the request's log line says it.
        let detail = Detail {
            code,
            message: message.clone(),
            element: self.pipeline().and_then(|e| e.element.clone()),
            debug: self.pipeline().and_then(|e| e.debug.clone()),
        };
        let mut body = Map::new();
        body.insert("error".into(), json!(message));
        body.insert("code".into(), json!(code));
        body.insert("status".into(), json!(status.as_u16()));
        body.extend(extra);
        let mut response = (status, Json(Value::Object(body))).into_response();
        response.extensions_mut().insert(detail);
        if let Self::Busy { retry_after_secs } = self.innermost() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, (*retry_after_secs).into());
        }
        response
    }
}

/// What a failed request's log line says beyond its status: the code, the client's message,
/// and for a pipeline failure the element and GStreamer's own text (never in the body).
#[derive(Debug, Clone)]
pub struct Detail {
    pub code: &'static str,
    pub message: String,
    pub element: Option<String>,
    pub debug: Option<String>,
}

/// Turns a panic in a handler into a logged 500 with a generic message, so that a panic's text
/// never reaches a client and the connection still gets an answer.
pub fn catch_panic() -> tower_http::catch_panic::CatchPanicLayer<fn(PanicPayload) -> Response> {
    tower_http::catch_panic::CatchPanicLayer::custom(answer_panic as fn(PanicPayload) -> Response)
}

/// What a panic carried.
pub type PanicPayload = Box<dyn std::any::Any + Send + 'static>;

fn answer_panic(payload: PanicPayload) -> Response {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    let error = PipelineError {
        debug: Some(format!("a request handler panicked: {text}")),
        ..PipelineError::new(Failure::Internal, Failure::Internal.public_message())
    };
    ApiError::Pipeline(error).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_without_the_panic_text() {
        let router = axum::Router::new()
            .route(
                "/",
                get(|| async {
                    panic!("secret detail at src/x.rs");
                    #[allow(unreachable_code)]
                    ""
                }),
            )
            .layer(super::catch_panic());
        let response = router
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
        // The text goes to the request's log line, through the response's detail.
        let detail = response.extensions().get::<super::Detail>().unwrap();
        assert!(detail.debug.as_deref().unwrap().contains("secret detail"));
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], "internal");
        assert!(!String::from_utf8_lossy(&body).contains("secret"));
    }
}
