//! Configuration from the original's `PYTHUMBIO_*` environment variables (same names, same
//! defaults), each also a command-line flag. A bad value stops the start with an error that names
//! the variable.

use clap::{Parser, Subcommand, ValueEnum};
use std::{net::IpAddr, path::PathBuf, time::Duration};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "pythumbio",
    version,
    about = "Video thumbnails, streaming WebM, previews and metadata over HTTP"
)]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// TCP port to listen on (0 picks a free one)
    #[arg(
        long,
        env = "PYTHUMBIO_PORT",
        value_name = "PYTHUMBIO_PORT",
        default_value_t = 8000
    )]
    pub port: u16,

    /// Address to listen on
    #[arg(
        long,
        env = "PYTHUMBIO_HOST",
        value_name = "PYTHUMBIO_HOST",
        default_value = "0.0.0.0"
    )]
    pub host: IpAddr,

    /// Worker threads serving HTTP
    #[arg(long, env = "PYTHUMBIO_WORKERS", value_name = "PYTHUMBIO_WORKERS", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,

    /// Pipelines run at once per worker (WORKERS x this in all)
    #[arg(long, env = "PYTHUMBIO_CONCURRENCY_PER_WORKER", value_name = "PYTHUMBIO_CONCURRENCY_PER_WORKER",
          default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency_per_worker: u16,

    /// Largest chunk of a streamed body, in bytes (suffixes K, KiB, M, MiB); smaller buffers
    /// that are ready together are joined up to it
    #[arg(long, env = "PYTHUMBIO_CHUNKSIZE", value_name = "PYTHUMBIO_CHUNKSIZE", default_value = "32KiB",
          value_parser = parse_size)]
    pub chunksize: usize,

    /// Requests that may wait for a free pipeline slot; more get 503 at once
    #[arg(
        long,
        env = "PYTHUMBIO_QUEUE_LENGTH",
        value_name = "PYTHUMBIO_QUEUE_LENGTH",
        default_value_t = 64
    )]
    pub queue_length: usize,

    /// Seconds a request may wait for a free pipeline slot before it gets 503
    #[arg(long, env = "PYTHUMBIO_QUEUE_TIMEOUT", value_name = "PYTHUMBIO_QUEUE_TIMEOUT", default_value = "10",
          value_parser = parse_seconds)]
    pub queue_timeout: Duration,

    /// Seconds to the first byte of a stream, or to a whole image or metadata document
    #[arg(long, env = "PYTHUMBIO_TIMEOUT", value_name = "PYTHUMBIO_TIMEOUT", default_value = "30",
          value_parser = parse_seconds)]
    pub timeout: Duration,

    /// Seconds a client has to send a whole request head, counted from when the connection is
    /// ready for one (just opened, or idle after a response)
    #[arg(long, env = "PYTHUMBIO_HEADER_TIMEOUT", value_name = "PYTHUMBIO_HEADER_TIMEOUT",
          default_value = "30", value_parser = parse_seconds)]
    pub header_timeout: Duration,

    /// Seconds a client connection may stay without a byte read or written (sending nothing,
    /// half a request, or an idle keep-alive) before it is closed
    #[arg(long, env = "PYTHUMBIO_CLIENT_IDLE_TIMEOUT", value_name = "PYTHUMBIO_CLIENT_IDLE_TIMEOUT",
          default_value = "60", value_parser = parse_seconds)]
    pub client_idle_timeout: Duration,

    /// Most client connections open at once (0: half the process's descriptor limit, at most
    /// 4096); more wait in the listen backlog
    #[arg(
        long,
        env = "PYTHUMBIO_MAX_CONNECTIONS",
        value_name = "PYTHUMBIO_MAX_CONNECTIONS",
        default_value_t = 0
    )]
    pub max_connections: usize,

    /// Largest output width any endpoint may be asked for
    #[arg(long, env = "PYTHUMBIO_MAX_WIDTH", value_name = "PYTHUMBIO_MAX_WIDTH", default_value_t = 3840,
          value_parser = clap::value_parser!(u32).range(16..=16384))]
    pub max_width: u32,

    /// Largest output height any endpoint may be asked for
    #[arg(long, env = "PYTHUMBIO_MAX_HEIGHT", value_name = "PYTHUMBIO_MAX_HEIGHT", default_value_t = 2160,
          value_parser = clap::value_parser!(u32).range(16..=16384))]
    pub max_height: u32,

    /// Widest source picture decoded; a wider one is refused (422)
    #[arg(
        long,
        env = "PYTHUMBIO_MAX_SOURCE_WIDTH",
        value_name = "PYTHUMBIO_MAX_SOURCE_WIDTH",
        default_value_t = crate::limits::MAX_SOURCE_SIDE
    )]
    pub max_source_width: u32,

    /// Tallest source picture decoded
    #[arg(
        long,
        env = "PYTHUMBIO_MAX_SOURCE_HEIGHT",
        value_name = "PYTHUMBIO_MAX_SOURCE_HEIGHT",
        default_value_t = crate::limits::MAX_SOURCE_SIDE
    )]
    pub max_source_height: u32,

    /// Most pixels in a source picture decoded
    #[arg(
        long,
        env = "PYTHUMBIO_MAX_SOURCE_PIXELS",
        value_name = "PYTHUMBIO_MAX_SOURCE_PIXELS",
        default_value_t = crate::limits::MAX_SOURCE_PIXELS
    )]
    pub max_source_pixels: u64,

    /// Widest storyboard sheet made; a layout that needs a wider one is refused (422)
    #[arg(long, env = "PYTHUMBIO_MAX_SHEET_WIDTH", value_name = "PYTHUMBIO_MAX_SHEET_WIDTH",
          default_value_t = 16383, value_parser = clap::value_parser!(u32).range(16..=65535))]
    pub max_sheet_width: u32,

    /// Tallest storyboard sheet made
    #[arg(long, env = "PYTHUMBIO_MAX_SHEET_HEIGHT", value_name = "PYTHUMBIO_MAX_SHEET_HEIGHT",
          default_value_t = 16383, value_parser = clap::value_parser!(u32).range(16..=65535))]
    pub max_sheet_height: u32,

    /// Most megabytes of memory one storyboard sheet may take while it is assembled (3 bytes a
    /// pixel)
    #[arg(long, env = "PYTHUMBIO_MAX_SHEET_MB", value_name = "PYTHUMBIO_MAX_SHEET_MB",
          default_value_t = 48, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_sheet_mb: u64,

    /// Most seconds of source one stream (/webm, /preview) covers; longer ones end there
    #[arg(long, env = "PYTHUMBIO_MAX_STREAM_DURATION", value_name = "PYTHUMBIO_MAX_STREAM_DURATION", default_value = "14400",
          value_parser = parse_seconds)]
    pub max_stream_duration: Duration,

    /// Most seconds of wall-clock time one stream may take, however slowly its client reads;
    /// a longer one is cut off
    #[arg(long, env = "PYTHUMBIO_MAX_STREAM_TIME", value_name = "PYTHUMBIO_MAX_STREAM_TIME", default_value = "14400",
          value_parser = parse_seconds)]
    pub max_stream_time: Duration,

    /// Seconds clients and CDNs may keep a thumbnail, preview, storyboard or metadata
    #[arg(
        long,
        env = "PYTHUMBIO_CACHE_MAX_AGE",
        value_name = "PYTHUMBIO_CACHE_MAX_AGE",
        default_value_t = 86400
    )]
    pub cache_max_age: u32,

    /// Megabytes of memory for whole outputs (thumbnails, storyboards, metadata), kept by ETag; 0
    /// turns the cache off
    #[arg(
        long,
        env = "PYTHUMBIO_CACHE_MB",
        value_name = "PYTHUMBIO_CACHE_MB",
        default_value_t = 64
    )]
    pub cache_mb: u64,

    /// Megabytes of origin bytes kept across requests (a video's index and the GOPs read), so
    /// that thumbnails of one video at several times read its index once; each request still
    /// asks the origin whether the file changed. 0 turns it off
    #[arg(
        long,
        env = "PYTHUMBIO_ORIGIN_CACHE_MB",
        value_name = "PYTHUMBIO_ORIGIN_CACHE_MB",
        default_value_t = 64
    )]
    pub origin_cache_mb: u64,

    /// Log lines as text or as JSON objects
    #[arg(long, env = "PYTHUMBIO_LOG_FORMAT", value_name = "PYTHUMBIO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Key (hex) that signs URLs: when set, every endpoint request must carry a valid `sig`
    #[arg(long, env = "PYTHUMBIO_KEY", value_name = "PYTHUMBIO_KEY", hide_env_values = true,
          value_parser = SecretParser, global = true)]
    pub key: Option<crate::signature::Secret>,

    /// Salt (hex) that signing prepends to the signed path
    #[arg(long, env = "PYTHUMBIO_SALT", value_name = "PYTHUMBIO_SALT", hide_env_values = true,
          value_parser = SecretParser, global = true)]
    pub salt: Option<crate::signature::Secret>,

    /// Read sources on loopback addresses (127.0.0.0/8, ::1); off by default
    #[arg(long, env = "PYTHUMBIO_ALLOW_LOOPBACK", value_name = "PYTHUMBIO_ALLOW_LOOPBACK",
          default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_loopback: bool,

    /// Read sources on private and link-local addresses (10/8, 172.16/12, 192.168/16, 100.64/10,
    /// fc00::/7, 169.254/16, fe80::/10); off by default
    #[arg(long, env = "PYTHUMBIO_ALLOW_PRIVATE", value_name = "PYTHUMBIO_ALLOW_PRIVATE",
          default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private: bool,

    /// Comma-separated hosts sources may come from: `host`, `host:port`, `*.example.com`; empty
    /// allows any host (the address rules still apply)
    #[arg(long, env = "PYTHUMBIO_ALLOWED_SOURCES", value_name = "PYTHUMBIO_ALLOWED_SOURCES",
          value_delimiter = ',', value_parser = parse_pattern)]
    pub allowed_sources: Vec<crate::source::policy::Pattern>,

    /// Directory `file://` sources may be read from; without it `file://` is refused
    #[arg(long, env = "PYTHUMBIO_FILE_ROOT", value_name = "PYTHUMBIO_FILE_ROOT")]
    pub file_root: Option<PathBuf>,

    /// Seconds to connect to an origin
    #[arg(long, env = "PYTHUMBIO_ORIGIN_CONNECT_TIMEOUT", value_name = "PYTHUMBIO_ORIGIN_CONNECT_TIMEOUT",
          default_value = "5", value_parser = parse_seconds)]
    pub origin_connect_timeout: Duration,

    /// Seconds an origin may take to answer, or to send the next piece of a body
    #[arg(long, env = "PYTHUMBIO_ORIGIN_READ_TIMEOUT", value_name = "PYTHUMBIO_ORIGIN_READ_TIMEOUT",
          default_value = "15", value_parser = parse_seconds)]
    pub origin_read_timeout: Duration,

    /// Seconds an idle connection to an origin is kept for the next request to it (0: none)
    #[arg(long, env = "PYTHUMBIO_ORIGIN_KEEPALIVE", value_name = "PYTHUMBIO_ORIGIN_KEEPALIVE",
          default_value = "30", value_parser = parse_seconds_or_zero)]
    pub origin_keepalive: Duration,

    /// Comma-separated request headers forwarded to the origin (e.g. `Authorization,Cookie`):
    /// only to the source's own host, never to a redirect elsewhere, never logged
    #[arg(long, env = "PYTHUMBIO_FORWARD_HEADERS", value_name = "PYTHUMBIO_FORWARD_HEADERS",
          value_delimiter = ',', value_parser = parse_header_name)]
    pub forward_headers: Vec<reqwest::header::HeaderName>,

    /// Seconds the service keeps accepting requests after SIGTERM or SIGINT with /readyz
    /// answering 503, so that load balancers stop sending before the listener closes
    #[arg(long, env = "PYTHUMBIO_SHUTDOWN_DELAY", value_name = "PYTHUMBIO_SHUTDOWN_DELAY",
          default_value = "0", value_parser = parse_seconds_or_zero)]
    pub shutdown_delay: Duration,

    /// Seconds in-flight responses may take to finish after SIGTERM or SIGINT
    #[arg(long, env = "PYTHUMBIO_SHUTDOWN_GRACE", value_name = "PYTHUMBIO_SHUTDOWN_GRACE",
          default_value = "10", value_parser = parse_seconds)]
    pub shutdown_grace: Duration,

    /// The service's public base URL (e.g. `https://thumbs.example.com`), for the sheet URL in
    /// storyboard layouts; without it, the request's Host (and `X-Forwarded-Proto: https`)
    #[arg(long, env = "PYTHUMBIO_PUBLIC_URL", value_name = "PYTHUMBIO_PUBLIC_URL",
          value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Comma-separated origins (`https://player.example.com`) whose pages may read the outputs
    /// (CORS), or `*` for any; unset, browsers keep other sites' pages out
    #[arg(long, env = "PYTHUMBIO_ALLOW_ORIGIN", value_name = "PYTHUMBIO_ALLOW_ORIGIN",
          value_delimiter = ',', value_parser = parse_allowed_origin)]
    pub allow_origin: Vec<AllowedOrigin>,

    /// Address (`127.0.0.1:9090`, `[::]:9090`) of a listener of its own for /metrics; set, the
    /// public port no longer answers /metrics
    #[arg(
        long,
        env = "PYTHUMBIO_METRICS_BIND",
        value_name = "PYTHUMBIO_METRICS_BIND"
    )]
    pub metrics_bind: Option<std::net::SocketAddr>,

    /// Directory of pipeline files that replaces the built-in set
    #[arg(
        long,
        global = true,
        env = "PYTHUMBIO_PIPELINES",
        value_name = "PYTHUMBIO_PIPELINES"
    )]
    pub pipelines: Option<PathBuf>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What to do instead of serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Check the pipeline set (built in, or PYTHUMBIO_PIPELINES) against this GStreamer install:
    /// parse every file, find every element, match parameters to placeholders; exit 2 on a problem.
    /// With --render ROUTE NAME=VALUE...: print the gst-launch-1.0 line that request runs
    Check {
        /// A route (`/thumb`, `/storyboard.vtt`) whose pipeline to print
        #[arg(long, value_name = "ROUTE")]
        render: Option<String>,
        /// The request's parameters, as NAME=VALUE
        #[arg(requires = "render", value_name = "NAME=VALUE")]
        values: Vec<String>,
    },
    /// Print PATH?QUERY signed with PYTHUMBIO_KEY and PYTHUMBIO_SALT (or --key, --salt), e.g.
    /// `pythumbio sign --key HEX '/thumb?url=https%3A%2F%2Fexample.com%2Fv.mp4'`
    Sign {
        /// The path and query as the service sees them: starting with `/`, the url
        /// percent-encoded
        path_and_query: String,
    },
    /// Print the OpenAPI document of the pipeline set (built in, or PYTHUMBIO_PIPELINES)
    Openapi,
    /// Print the GStreamer plugin files the service can load, one a line: those of the pipeline
    /// set's elements and of what decodebin may plug. A slim image keeps these (and the
    /// libraries they link) and drops the rest
    Plugins,
    /// Ask the service listening on PYTHUMBIO_HOST:PYTHUMBIO_PORT for /healthz (loopback when
    /// the host is unspecified); exit 0 on 200, 1 otherwise: a HEALTHCHECK that needs no curl
    Health,
}

impl Config {
    /// `PYTHUMBIO_*` variables of `env` that are none of the service's, each with the known
    /// name it is closest to: a typo must not pass silently.
    pub fn unknown_variables(
        env: impl Iterator<Item = (String, String)>,
    ) -> Vec<(String, Option<String>)> {
        use clap::CommandFactory;
        let command = Self::command();
        let known: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .collect();
        env.map(|(name, _)| name)
            .filter(|name| name.starts_with("PYTHUMBIO_") && !known.contains(name))
            .map(|name| {
                let closest = known
                    .iter()
                    .map(|k| (distance(&name, k), k))
                    .filter(|(d, _)| *d <= 3)
                    .min()
                    .map(|(_, k)| k.clone());
                (name, closest)
            })
            .collect()
    }

    /// The largest source pictures decoded.
    pub fn source_limits(&self) -> crate::engine::launch::SourceLimits {
        crate::engine::launch::SourceLimits {
            width: self.max_source_width,
            height: self.max_source_height,
            pixels: self.max_source_pixels,
        }
    }

    /// The largest storyboard sheets made.
    pub fn sheet_limits(&self) -> crate::engine::storyboard::SheetLimits {
        crate::engine::storyboard::SheetLimits {
            width: self.max_sheet_width,
            height: self.max_sheet_height,
            bytes: self.max_sheet_mb * 1024 * 1024,
        }
    }

    /// The URL signer, when a key is configured.
    pub fn signer(&self) -> Option<crate::signature::Signer> {
        let key = self.key.clone()?.0;
        let salt = self.salt.clone().map(|s| s.0).unwrap_or_default();
        Some(crate::signature::Signer::new(key, salt))
    }

    /// The source policy these settings describe.
    pub fn source_policy(&self) -> Result<crate::source::Policy, ConfigError> {
        let file_root = match &self.file_root {
            Some(dir) => Some(crate::source::policy::file_root(dir)?),
            None => None,
        };
        Ok(crate::source::Policy {
            allow_loopback: self.allow_loopback,
            allow_private: self.allow_private,
            allowed: self.allowed_sources.clone(),
            file_root,
            ..Default::default()
        })
    }

    /// Origin time limits.
    /// The origin cache's budget in bytes.
    pub fn origin_cache_bytes(&self) -> usize {
        (self.origin_cache_mb as usize).saturating_mul(1 << 20)
    }

    pub fn origin_timeouts(&self) -> crate::source::Timeouts {
        crate::source::Timeouts {
            connect: self.origin_connect_timeout,
            read: self.origin_read_timeout,
            pool_idle: self.origin_keepalive,
        }
    }

    /// Pipelines allowed to run at once.
    pub fn max_pipelines(&self) -> usize {
        self.workers as usize * self.concurrency_per_worker as usize
    }
}

/// Edit distance between two names (Levenshtein), for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            previous = here;
        }
    }
    row[b.len()]
}

/// Why a value of a variable is refused (clap names the variable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{0:?} is not a size such as 32768 or 32KiB")]
    NotASize(String),
    #[error("{0:?} is outside 1KiB..16MiB")]
    SizeOutOfRange(String),
    #[error("{0:?} is not an http(s) base URL such as https://thumbs.example.com")]
    NotABaseUrl(String),
    #[error("{0:?} is not a header name")]
    NotAHeader(String),
    #[error("{0} is set by the service and cannot be forwarded")]
    NotForwarded(String),
    #[error("{0:?} is not a number of seconds above 0")]
    NotSeconds(String),
    #[error("{0:?} is not `*` or an origin such as https://player.example.com (scheme, host, port; no path)")]
    NotAnOrigin(String),
    #[error(transparent)]
    Pattern(#[from] crate::source::policy::PatternError),
}

/// A configuration that parses but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("PYTHUMBIO_FILE_ROOT: {0}")]
    FileRoot(#[from] crate::source::policy::FileRootError),
}

/// Bytes, with an optional K/KiB/M/MiB suffix (all binary); between 1 KiB and 16 MiB.
fn parse_size(text: &str) -> Result<usize, ValueError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(ValueError::NotASize(text.into())),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| ValueError::NotASize(text.into()))?;
    let bytes = n
        .checked_mul(scale)
        .ok_or_else(|| ValueError::SizeOutOfRange(text.into()))?;
    if !(1024..=16 * 1024 * 1024).contains(&bytes) {
        return Err(ValueError::SizeOutOfRange(text.into()));
    }
    Ok(bytes)
}

/// Parses PYTHUMBIO_KEY and PYTHUMBIO_SALT. clap's own errors quote the value they refuse;
/// this one names the setting and never shows the secret.
#[derive(Clone)]
struct SecretParser;

impl clap::builder::TypedValueParser for SecretParser {
    type Value = crate::signature::Secret;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let name = arg
            .and_then(|a| a.get_value_names())
            .and_then(|names| names.first())
            .map_or("the secret".to_string(), |n| n.to_string());
        value
            .to_str()
            .ok_or(())
            .and_then(|text| crate::signature::parse_secret(text).map_err(|_| ()))
            .map_err(|_| {
                clap::Error::raw(
                    clap::error::ErrorKind::InvalidValue,
                    format!(
                        "{name} is not an even number of hex digits (the value is not shown)\n"
                    ),
                )
            })
    }
}

/// An http(s) base URL without query or fragment; kept without its trailing slash.
fn parse_public_url(text: &str) -> Result<String, ValueError> {
    let url = url::Url::parse(text.trim()).map_err(|_| ValueError::NotABaseUrl(text.into()))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(ValueError::NotABaseUrl(text.into()));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn parse_pattern(text: &str) -> Result<crate::source::policy::Pattern, ValueError> {
    Ok(crate::source::policy::Pattern::parse(text)?)
}

/// An origin pages may read outputs from: any (`*`), or one scheme://host[:port].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigin {
    Any,
    Origin(reqwest::header::HeaderValue),
}

fn parse_allowed_origin(text: &str) -> Result<AllowedOrigin, ValueError> {
    let text = text.trim();
    if text == "*" {
        return Ok(AllowedOrigin::Any);
    }
    let bad = || ValueError::NotAnOrigin(text.into());
    let url = url::Url::parse(text).map_err(|_| bad())?;
    let origin = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https")
        || origin.trim_end_matches('/') != text.trim_end_matches('/')
    {
        return Err(bad());
    }
    Ok(AllowedOrigin::Origin(origin.parse().map_err(|_| bad())?))
}

/// A header name; hop-by-hop and framing headers cannot be forwarded.
fn parse_header_name(text: &str) -> Result<reqwest::header::HeaderName, ValueError> {
    let name = reqwest::header::HeaderName::from_bytes(text.trim().as_bytes())
        .map_err(|_| ValueError::NotAHeader(text.into()))?;
    const NOT_FORWARDED: [&str; 9] = [
        "host",
        "range",
        "connection",
        "content-length",
        "transfer-encoding",
        "te",
        "upgrade",
        "keep-alive",
        "proxy-connection",
    ];
    if NOT_FORWARDED.contains(&name.as_str()) {
        return Err(ValueError::NotForwarded(name.to_string()));
    }
    Ok(name)
}

/// Seconds as for `parse_seconds`, or 0.
fn parse_seconds_or_zero(text: &str) -> Result<Duration, ValueError> {
    match text.trim().parse::<f64>() {
        Ok(0.0) => Ok(Duration::ZERO),
        _ => parse_seconds(text),
    }
}

/// Whole or fractional seconds, above 0 and at most a day.
fn parse_seconds(text: &str) -> Result<Duration, ValueError> {
    match text.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(ValueError::NotSeconds(text.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("32768"), Ok(32768));
        assert_eq!(parse_size("32KiB"), Ok(32768));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert!(parse_size("12").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999K").is_err());
    }

    #[test]
    fn a_malformed_secret_is_never_shown() {
        for (flag, name) in [("--key", "PYTHUMBIO_KEY"), ("--salt", "PYTHUMBIO_SALT")] {
            let error = Config::try_parse_from(["pythumbio", flag, "abcdef0123456789f"])
                .unwrap_err()
                .to_string();
            assert!(!error.contains("abcdef0123456789f"), "{error}");
            assert!(error.contains(name), "{error}");
        }
        assert!(Config::try_parse_from(["pythumbio", "--key", "abcd"]).is_ok());
    }

    #[test]
    fn defaults_match_the_original() {
        let c = Config::try_parse_from(["pythumbio"]).unwrap();
        assert_eq!(
            (c.port, c.workers, c.concurrency_per_worker, c.chunksize),
            (8000, 2, 4, 32768)
        );
        assert_eq!(c.max_pipelines(), 8);
    }
}
