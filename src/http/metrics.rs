//! The service's Prometheus metrics: requests by endpoint and status, histograms of latency,
//! queue wait and pipeline time by endpoint, bytes sent, 304s, errors by code and pipeline errors
//! by element. Labels come from bounded sets only (the routes of
//! the pipeline set, status codes, element factories), so a scan of random paths cannot grow them.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::histogram::Histogram;

/// One histogram per endpoint.
#[derive(Default)]
struct ByEndpoint(Mutex<BTreeMap<String, Histogram>>);

impl ByEndpoint {
    fn observe(&self, endpoint: &str, took: Duration) {
        let mut all = self.0.lock().unwrap();
        all.entry(endpoint.to_string()).or_default().observe(took);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (endpoint, h) in self.0.lock().unwrap().iter() {
            h.write(out, name, &format!("endpoint=\"{endpoint}\""));
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: ByEndpoint,
    queue_wait: ByEndpoint,
    pipeline_time: ByEndpoint,
    bytes_sent: AtomicU64,
    not_modified: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    codes: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// A response head sent: its endpoint (a route of the pipeline set, a service page, or
    /// "other"), status and time to the head.
    pub fn request(&self, endpoint: &str, status: u16, took: Duration) {
        *self
            .requests
            .lock()
            .unwrap()
            .entry((endpoint.to_string(), status))
            .or_default() += 1;
        self.latency.observe(endpoint, took);
        if status == 304 {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How long a request of `endpoint` waited for a pipeline slot.
    pub fn queued(&self, endpoint: &str, took: Duration) {
        self.queue_wait.observe(endpoint, took);
    }

    /// How long a pipeline of `endpoint` ran: a whole output until it was made, a stream until
    /// its first byte.
    pub fn piped(&self, endpoint: &str, took: Duration) {
        self.pipeline_time.observe(endpoint, took);
    }

    /// An error response, by its code (a fixed set: docs/api.md lists them).
    pub fn error(&self, code: &'static str) {
        *self.codes.lock().unwrap().entry(code).or_default() += 1;
    }

    pub fn sent(&self, bytes: u64) {
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A pipeline failed; `element` is the factory of the element that said so.
    pub fn pipeline_error(&self, element: &str) {
        *self
            .errors
            .lock()
            .unwrap()
            .entry(element.to_string())
            .or_default() += 1;
    }

    /// The metrics in Prometheus' text format.
    pub fn write(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP pythumbio_requests_total Responses by endpoint and status."
        );
        let _ = writeln!(out, "# TYPE pythumbio_requests_total counter");
        for ((endpoint, status), n) in self.requests.lock().unwrap().iter() {
            let _ = writeln!(
                out,
                "pythumbio_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
            );
        }
        self.latency.write(
            out,
            "pythumbio_request_seconds",
            "Time to the response head, by endpoint.",
        );
        self.queue_wait.write(
            out,
            "pythumbio_queue_wait_seconds",
            "Time a request waited for a pipeline slot, by endpoint.",
        );
        self.pipeline_time.write(
            out,
            "pythumbio_pipeline_seconds",
            "Time a pipeline ran: to the whole output, or to a stream's first byte; by endpoint.",
        );
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            out,
            "pythumbio_sent_bytes_total",
            "Body bytes sent to clients.",
            self.bytes_sent.load(Ordering::Relaxed),
        );
        counter(
            out,
            "pythumbio_not_modified_total",
            "Requests answered 304 from their If-None-Match, without a pipeline.",
            self.not_modified.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP pythumbio_errors_total Error responses by their code.\n\
             # TYPE pythumbio_errors_total counter"
        );
        for (code, n) in self.codes.lock().unwrap().iter() {
            let _ = writeln!(out, "pythumbio_errors_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP pythumbio_pipeline_errors_total Pipeline failures by the element that reported them.");
        let _ = writeln!(out, "# TYPE pythumbio_pipeline_errors_total counter");
        for (element, n) in self.errors.lock().unwrap().iter() {
            let _ = writeln!(
                out,
                "pythumbio_pipeline_errors_total{{element=\"{element}\"}} {n}"
            );
        }
    }
}
