//! The server's counters and gauges, and their Prometheus text exposition (format 0.0.4).
//!
//! One [`Metrics`] per server, owned by its `ServerState`: it outlives every reload, and two
//! servers in one process (the tests start dozens) never mix their counts. Recording is a few
//! relaxed `AtomicU64` adds: no lock, no allocation, no branch on a configuration. Relaxed is
//! enough because no counter orders any other memory; a scrape that races a request may see its
//! count before its bytes, and the next scrape sees both. [`render`] builds the text on demand.
//!
//! Label values come from fixed tables ([`METHOD_LABELS`], [`CLASS_LABELS`], [`BUCKETS`]): no
//! request can add a series, so the exposition has a fixed size.

use std::fmt::Write as _;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::http::Method;

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `method` label: the implemented methods, then `other` (CONNECT, unknown tokens, and heads
/// refused before their method was read).
pub const METHOD_LABELS: [&str; 16] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "TRACE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "other",
];

/// The `code` label: the status class.
pub const CLASS_LABELS: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Upper bounds of the request-duration buckets: the `le` label as written, and in
/// nanoseconds. `+Inf` follows the last.
pub const BUCKETS: [(&str, u64); 14] = [
    ("0.0005", 500_000),
    ("0.001", 1_000_000),
    ("0.0025", 2_500_000),
    ("0.005", 5_000_000),
    ("0.01", 10_000_000),
    ("0.025", 25_000_000),
    ("0.05", 50_000_000),
    ("0.1", 100_000_000),
    ("0.25", 250_000_000),
    ("0.5", 500_000_000),
    ("1", 1_000_000_000),
    ("2.5", 2_500_000_000),
    ("5", 5_000_000_000),
    ("10", 10_000_000_000),
];

/// The plain counters, each one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Response body bytes written, as the access log counts them.
    ResponseBytes,
    /// Request body bytes read (by a handler, or drained to reuse the connection).
    RequestBodyBytes,
    /// Bytes fed to the gzip/deflate encoders.
    CompressionInput,
    /// Bytes the encoders produced.
    CompressionOutput,
    /// TLS handshakes begun.
    TlsHandshakes,
    /// TLS handshakes that failed (garbage, a stall, no common cipher, a client that left).
    TlsHandshakeFailures,
    /// Changed configurations put in force.
    Reloads,
    /// Changed configurations refused (invalid, unreadable, or a certificate that did not load).
    ReloadFailures,
    /// Temporary upload files of an earlier run removed.
    TempFilesSwept,
    /// Connections closed at once over `max_connections`.
    ConnectionsRefused,
}

/// Every [`Counter`] with its name and help text, in exposition order.
const COUNTERS: [(Counter, &str, &str); 10] = [
    (
        Counter::ResponseBytes,
        "shelf_http_response_bytes_total",
        "Response body bytes sent.",
    ),
    (
        Counter::RequestBodyBytes,
        "shelf_http_request_body_bytes_total",
        "Request body bytes received.",
    ),
    (
        Counter::CompressionInput,
        "shelf_compression_input_bytes_total",
        "Bytes fed to the gzip and deflate encoders.",
    ),
    (
        Counter::CompressionOutput,
        "shelf_compression_output_bytes_total",
        "Bytes the gzip and deflate encoders produced.",
    ),
    (
        Counter::TlsHandshakes,
        "shelf_tls_handshakes_total",
        "TLS handshakes begun.",
    ),
    (
        Counter::TlsHandshakeFailures,
        "shelf_tls_handshake_failures_total",
        "TLS handshakes that failed.",
    ),
    (
        Counter::Reloads,
        "shelf_config_reloads_total",
        "Changed configurations put in force.",
    ),
    (
        Counter::ReloadFailures,
        "shelf_config_reload_failures_total",
        "Changed configurations refused; the previous one stayed in force.",
    ),
    (
        Counter::TempFilesSwept,
        "shelf_upload_temp_files_swept_total",
        "Temporary upload files left by an earlier run and removed.",
    ),
    (
        Counter::ConnectionsRefused,
        "shelf_connections_refused_total",
        "Connections refused over max_connections.",
    ),
];

/// The counters and the gauges the server keeps itself. Shared as `Arc<Metrics>`.
pub struct Metrics {
    /// Responses by method and status class: `[method][class]`.
    requests: [[AtomicU64; CLASS_LABELS.len()]; METHOD_LABELS.len()],
    /// Responses per duration bucket, not cumulative; the last slot is above the last bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of the observed durations in nanoseconds (584 years before it wraps).
    duration_ns: AtomicU64,
    counters: [AtomicU64; COUNTERS.len()],
    /// Connection threads alive, parked ones included.
    threads: AtomicU64,
}

/// What the server samples at scrape time, from state it keeps anyway.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sampled {
    /// Connections admitted and not yet ended.
    pub connections: u64,
    /// Cache lookups answered from memory.
    pub cache_hits: u64,
    /// Cache lookups that had to read (or wait for a read of) the file.
    pub cache_misses: u64,
    /// Bytes the cache holds, as charged against `max_bytes`.
    pub cache_bytes: u64,
    /// Bodies the cache holds (each coding of a file counts once).
    pub cache_entries: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every count at zero.
    pub fn new() -> Metrics {
        Metrics {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            duration_ns: AtomicU64::new(0),
            counters: std::array::from_fn(|_| AtomicU64::new(0)),
            threads: AtomicU64::new(0),
        }
    }

    /// One answered request: its method, final status, time taken and body bytes both ways.
    /// The request path's whole cost: five relaxed adds and a scan of 14 constants.
    pub fn record_request(
        &self,
        method: Option<&Method>,
        status: u16,
        took: Duration,
        sent: u64,
        received: u64,
    ) {
        let class = usize::from(status / 100).clamp(1, CLASS_LABELS.len()) - 1;
        self.requests[method_index(method)][class].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKETS.iter().position(|&(_, bound)| ns <= bound);
        self.buckets[bucket.unwrap_or(BUCKETS.len())].fetch_add(1, Ordering::Relaxed);
        self.duration_ns.fetch_add(ns, Ordering::Relaxed);
        self.add(Counter::ResponseBytes, sent);
        self.add(Counter::RequestBodyBytes, received);
    }

    /// Adds `n` to `counter`.
    pub fn add(&self, counter: Counter, n: u64) {
        self.counters[counter as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one to `counter`.
    pub fn count(&self, counter: Counter) {
        self.add(counter, 1);
    }

    /// The current value of `counter`.
    pub fn get(&self, counter: Counter) -> u64 {
        self.counters[counter as usize].load(Ordering::Relaxed)
    }

    /// Counts a connection thread alive until the guard drops.
    pub fn thread_alive(&self) -> ThreadAlive<'_> {
        self.threads.fetch_add(1, Ordering::Relaxed);
        ThreadAlive(&self.threads)
    }

    /// `inner`, with every byte read from it added to `counter` (a streamed compression).
    pub fn tally<R: Read>(self: &Arc<Self>, inner: R, counter: Counter) -> Tally<R> {
        Tally {
            inner,
            metrics: Arc::clone(self),
            counter,
        }
    }
}

/// The `method` label's slot of `method`; `None` (a head refused unread) is `other`.
fn method_index(method: Option<&Method>) -> usize {
    match method {
        Some(Method::Get) => 0,
        Some(Method::Head) => 1,
        Some(Method::Post) => 2,
        Some(Method::Put) => 3,
        Some(Method::Patch) => 4,
        Some(Method::Delete) => 5,
        Some(Method::Options) => 6,
        Some(Method::Trace) => 7,
        Some(Method::Propfind) => 8,
        Some(Method::Proppatch) => 9,
        Some(Method::Mkcol) => 10,
        Some(Method::Copy) => 11,
        Some(Method::Move) => 12,
        Some(Method::Lock) => 13,
        Some(Method::Unlock) => 14,
        Some(Method::Connect | Method::Other(_)) | None => 15,
    }
}

/// A connection thread counted alive; dropping it counts the thread gone.
pub struct ThreadAlive<'a>(&'a AtomicU64);

impl Drop for ThreadAlive<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A reader that adds the bytes it yields to a counter: one relaxed add per read.
pub struct Tally<R> {
    inner: R,
    metrics: Arc<Metrics>,
    counter: Counter,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.metrics.add(self.counter, n as u64);
        Ok(n)
    }
}

/// The exposition of `metrics` and `sampled`, in the text format 0.0.4: for each family a
/// `# HELP` and a `# TYPE` line, then its samples.
pub fn render(metrics: &Metrics, sampled: &Sampled) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    family(
        &mut out,
        "shelf_http_requests_total",
        "counter",
        "Requests answered, by method and status class.",
    );
    for (method, row) in METHOD_LABELS.iter().zip(&metrics.requests) {
        for (class, count) in CLASS_LABELS.iter().zip(row) {
            let labels = format!("{{method=\"{method}\",code=\"{class}\"}}");
            sample(&mut out, "shelf_http_requests_total", &labels, load(count));
        }
    }
    histogram(&mut out, metrics);
    for (counter, name, help) in COUNTERS {
        family(&mut out, name, "counter", help);
        sample(&mut out, name, "", metrics.get(counter));
    }
    let gauges = [
        (
            "shelf_connections_open",
            "Connections being served (plain and TLS).",
            sampled.connections,
        ),
        (
            "shelf_connection_threads",
            "Connection threads alive, those parked for the next connection included.",
            load(&metrics.threads),
        ),
        (
            "shelf_cache_bytes",
            "Bytes the body cache holds, as charged against cache.max_bytes.",
            sampled.cache_bytes,
        ),
        (
            "shelf_cache_entries",
            "Bodies the cache holds; each coding of a file counts once.",
            sampled.cache_entries,
        ),
    ];
    let cache_counters = [
        (
            "shelf_cache_hits_total",
            "Cache lookups answered from memory.",
            sampled.cache_hits,
        ),
        (
            "shelf_cache_misses_total",
            "Cache lookups that read the file, or waited for a concurrent read of it.",
            sampled.cache_misses,
        ),
    ];
    for (name, help, value) in cache_counters {
        family(&mut out, name, "counter", help);
        sample(&mut out, name, "", value);
    }
    for (name, help, value) in gauges {
        family(&mut out, name, "gauge", help);
        sample(&mut out, name, "", value);
    }
    out
}

/// `shelf_http_request_duration_seconds`: cumulative buckets, `+Inf`, sum and count. The count
/// is the `+Inf` bucket read in the same pass, so the two always agree.
fn histogram(out: &mut String, metrics: &Metrics) {
    let name = "shelf_http_request_duration_seconds";
    let help = "Time from a request's head read (or refused) to the last byte of its answer \
                written.";
    family(out, name, "histogram", help);
    let mut cumulative = 0;
    let bounds = BUCKETS.iter().map(|&(le, _)| le).chain(["+Inf"]);
    for (le, count) in bounds.zip(&metrics.buckets) {
        cumulative += count.load(Ordering::Relaxed);
        sample(
            out,
            &format!("{name}_bucket"),
            &format!("{{le=\"{le}\"}}"),
            cumulative,
        );
    }
    let seconds = metrics.duration_ns.load(Ordering::Relaxed) as f64 / 1e9;
    let _ = writeln!(out, "{name}_sum {seconds}");
    sample(out, &format!("{name}_count"), "", cumulative);
}

/// The `# HELP` and `# TYPE` lines that open a family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Help text is escaped: `\` as `\\`, a line feed as `\n` (ours hold neither).
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One sample line; `labels` is empty or `{…}`.
fn sample(out: &mut String, name: &str, labels: &str, value: u64) {
    let _ = writeln!(out, "{name}{labels} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name as the exposition format allows it: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    fn is_metric_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }

    /// `(name, labels, value)` of a sample line.
    fn parse_sample(line: &str) -> (&str, &str, &str) {
        let (series, value) = line.rsplit_once(' ').expect("a value after the series");
        match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').expect("labels close with }");
                (name, labels, value)
            }
            None => (series, "", value),
        }
    }

    /// The family a sample belongs to: a histogram's `_bucket`, `_sum`, `_count` are its own.
    fn family_of<'a>(name: &'a str, kinds: &std::collections::HashMap<String, String>) -> &'a str {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix)
                && kinds.get(base).is_some_and(|k| k == "histogram")
            {
                return base;
            }
        }
        name
    }

    fn busy() -> Metrics {
        let m = Metrics::new();
        let ms = |n| Duration::from_micros(n);
        m.record_request(Some(&Method::Get), 200, ms(100), 10, 0);
        m.record_request(Some(&Method::Get), 404, ms(3_000), 5, 0);
        m.record_request(Some(&Method::Put), 201, ms(700_000), 0, 42);
        m.record_request(None, 400, ms(20_000_000), 11, 0);
        m.record_request(Some(&Method::Other("BREW".into())), 501, ms(1), 0, 0);
        m.add(Counter::CompressionInput, 1000);
        m.count(Counter::Reloads);
        m
    }

    #[test]
    fn every_sample_follows_its_help_and_type() {
        let text = render(&busy(), &Sampled::default());
        let mut help = std::collections::HashSet::new();
        let mut kinds = std::collections::HashMap::new();
        let mut samples = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(is_metric_name(name), "{line}");
                assert!(help.insert(name.to_string()), "HELP twice: {line}");
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(help.contains(name), "TYPE before HELP: {line}");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                let kind = kind.to_string();
                assert!(kinds.insert(name.to_string(), kind).is_none(), "{line}");
            } else {
                let (name, _, value) = parse_sample(line);
                assert!(is_metric_name(name), "{line}");
                let family = family_of(name, &kinds);
                assert!(kinds.contains_key(family), "no TYPE before {line}");
                assert!(value.parse::<f64>().is_ok(), "{line}");
                if kinds[family] == "counter" {
                    assert!(name.ends_with("_total"), "counter without _total: {line}");
                }
                samples += 1;
            }
        }
        assert!(text.ends_with('\n'));
        let families = kinds.len();
        assert_eq!(families, COUNTERS.len() + 8, "{text}");
        assert!(samples > families, "{text}");
    }

    #[test]
    fn a_familys_samples_are_contiguous() {
        let text = render(&busy(), &Sampled::default());
        let mut kinds = std::collections::HashMap::new();
        let mut seen: Vec<String> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                kinds.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let family = family_of(parse_sample(line).0, &kinds).to_string();
            if seen.last() != Some(&family) {
                assert!(!seen.contains(&family), "{family} split: {text}");
                seen.push(family);
            }
        }
    }

    #[test]
    fn buckets_are_cumulative_and_end_in_inf() {
        let text = render(&busy(), &Sampled::default());
        let buckets: Vec<(&str, u64)> = text
            .lines()
            .filter(|l| l.starts_with("shelf_http_request_duration_seconds_bucket"))
            .map(|l| {
                let (_, labels, value) = parse_sample(l);
                let le = labels.strip_prefix("le=\"").unwrap().strip_suffix('"');
                (le.unwrap(), value.parse().unwrap())
            })
            .collect();
        assert_eq!(buckets.len(), BUCKETS.len() + 1);
        assert_eq!(buckets.last().unwrap(), &("+Inf", 5));
        let bounds: Vec<f64> = buckets[..BUCKETS.len()]
            .iter()
            .map(|(le, _)| le.parse().unwrap())
            .collect();
        assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
        // 1 µs and 100 µs, 3 ms, 700 ms, and 20 s above every bound.
        let at = |le: &str| buckets.iter().find(|(l, _)| *l == le).unwrap().1;
        assert_eq!((at("0.0005"), at("0.005"), at("1"), at("10")), (2, 3, 4, 4));
        assert!(text.contains("shelf_http_request_duration_seconds_count 5\n"));
        let sum = text
            .lines()
            .find_map(|l| l.strip_prefix("shelf_http_request_duration_seconds_sum "))
            .unwrap();
        let sum: f64 = sum.parse().unwrap();
        assert!((sum - 20.703101).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn bucket_labels_say_their_bounds() {
        for (le, ns) in BUCKETS {
            let seconds: f64 = le.parse().unwrap();
            assert_eq!((seconds * 1e9).round() as u64, ns, "{le}");
        }
        assert_eq!(BUCKETS[0].0, "0.0005");
        assert_eq!(BUCKETS[BUCKETS.len() - 1].0, "10");
    }

    #[test]
    fn requests_land_in_their_method_and_class() {
        let text = render(&busy(), &Sampled::default());
        for (series, want) in [
            (r#"{method="GET",code="2xx"}"#, 1),
            (r#"{method="GET",code="4xx"}"#, 1),
            (r#"{method="PUT",code="2xx"}"#, 1),
            (r#"{method="other",code="4xx"}"#, 1),
            (r#"{method="other",code="5xx"}"#, 1),
            (r#"{method="HEAD",code="2xx"}"#, 0),
        ] {
            let line = format!("shelf_http_requests_total{series} {want}\n");
            assert!(text.contains(&line), "{line}");
        }
        let all = METHOD_LABELS.len() * CLASS_LABELS.len();
        let lines = text
            .lines()
            .filter(|l| l.starts_with("shelf_http_requests_total{"));
        assert_eq!(lines.count(), all, "every label pair, zeros included");
        assert!(text.contains("shelf_http_response_bytes_total 26\n"));
        assert!(text.contains("shelf_http_request_body_bytes_total 42\n"));
        assert!(text.contains("shelf_compression_input_bytes_total 1000\n"));
        assert!(text.contains("shelf_config_reloads_total 1\n"));
    }

    #[test]
    fn sampled_values_and_threads_are_shown() {
        let m = Metrics::new();
        let alive = m.thread_alive();
        let sampled = Sampled {
            connections: 3,
            cache_hits: 7,
            cache_misses: 2,
            cache_bytes: 4096,
            cache_entries: 1,
        };
        let text = render(&m, &sampled);
        for line in [
            "shelf_connections_open 3",
            "shelf_connection_threads 1",
            "shelf_cache_hits_total 7",
            "shelf_cache_misses_total 2",
            "shelf_cache_bytes 4096",
            "shelf_cache_entries 1",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line}");
        }
        drop(alive);
        assert!(render(&m, &sampled).contains("shelf_connection_threads 0\n"));
    }

    #[test]
    fn tally_counts_what_passes_through() {
        let m = Arc::new(Metrics::new());
        let mut reader = m.tally(&b"hello world"[..], Counter::CompressionOutput);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(m.get(Counter::CompressionOutput), 11);
    }
}
