//! The process's own metrics, under Prometheus' standard names (`process_*`), read from
//! `/proc/self`, and `pythumbio_build_info`: what an operator's dashboards expect of any service.

use std::fmt::Write;

/// Clock ticks per second of `/proc/self/stat`'s CPU times.
fn ticks_per_second() -> f64 {
    extern "C" {
        fn sysconf(name: std::ffi::c_int) -> std::ffi::c_long;
    }
    const SC_CLK_TCK: std::ffi::c_int = 2;
    // SAFETY: sysconf reads a configuration value; it takes no pointers.
    let ticks = unsafe { sysconf(SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// User plus system CPU seconds, from `/proc/self/stat` (fields 14 and 15, after the name).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let (user, system): (f64, f64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    Some((user + system) / ticks_per_second())
}

fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn entries(dir: &str) -> Option<usize> {
    Some(std::fs::read_dir(dir).ok()?.count())
}

/// The process metrics and the build info, in Prometheus' text format. A figure `/proc` does
/// not give is left out rather than given as 0.
pub fn write(out: &mut String) {
    let mut metric = |kind: &str, name: &str, help: &str, value: Option<String>| {
        if let Some(value) = value {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    };
    metric(
        "counter",
        "process_cpu_seconds_total",
        "User and system CPU time spent, in seconds.",
        cpu_seconds().map(|s| format!("{s:.2}")),
    );
    metric(
        "gauge",
        "process_resident_memory_bytes",
        "Resident memory, in bytes.",
        resident_bytes().map(|b| b.to_string()),
    );
    metric(
        "gauge",
        "process_open_fds",
        "Open file descriptors.",
        entries("/proc/self/fd").map(|n| n.to_string()),
    );
    metric(
        "gauge",
        "process_threads",
        "Threads of the process.",
        entries("/proc/self/task").map(|n| n.to_string()),
    );
    let _ = writeln!(
        out,
        "# HELP pythumbio_build_info The version running, and the GStreamer it runs on.\n\
         # TYPE pythumbio_build_info gauge\n\
         pythumbio_build_info{{version=\"{}\",gstreamer=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        crate::engine::gstreamer_version()
    );
}
