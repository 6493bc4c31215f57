//! The operator-facing deploy files (`deploy/`): compose, Kubernetes, Prometheus, Grafana,
//! Dockerfile.
//!
//! Nothing in CI can start Docker or a cluster, so this test reads every file strictly (YAML with
//! duplicate keys rejected, JSON) and checks the files against each other and against the code:
//! the services and mounted files exist, environment variables are the documented ones, probes
//! and grace periods fit the binaries, the KEDA trigger counts unacknowledged jobs, and every
//! metric that a dashboard panel or an alert queries is one the binaries export (their
//! `metrics::exported_names()`), one of RabbitMQ's or the Redis exporter's, or `up`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

// ------------------------------------------------------------------------------------------
// Files

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn deploy() -> PathBuf {
    root().join("deploy")
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", rel(path)))
}

/// Every file under `dir` whose name ends with one of `suffixes`, sorted.
fn files_under(dir: &Path, suffixes: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("listing {}: {e}", rel(&d)));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
                && suffixes.iter().any(|s| name.ends_with(s))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every YAML document of a file, parsed strictly: serde-saphyr rejects duplicate keys by
/// default (see `the_yaml_parser_rejects_duplicate_keys`). Merge keys (`<<: *anchor`) are
/// resolved as Compose resolves them.
fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = read(path);
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", rel(path)));
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    assert!(!docs.is_empty(), "{} has no YAML document", rel(path));
    docs
}

fn yaml_document(path: &Path) -> Value {
    let mut docs = yaml_documents(path);
    assert_eq!(
        docs.len(),
        1,
        "{} must hold exactly one document",
        rel(path)
    );
    docs.remove(0)
}

fn json_document(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", rel(path)))
}

// ------------------------------------------------------------------------------------------
// Values

/// The value at a dotted path (`spec.template.spec`), or Null.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .try_fold(v, |v, key| v.get(key))
        .unwrap_or(&Value::Null)
}

fn str_at<'a>(v: &'a Value, path: &str, what: &str) -> &'a str {
    at(v, path)
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| panic!("{what}: `{path}` must be a non-empty string"))
}

fn list_at<'a>(v: &'a Value, path: &str, what: &str) -> &'a Vec<Value> {
    at(v, path)
        .as_array()
        .unwrap_or_else(|| panic!("{what}: `{path}` must be a list"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A number given as a YAML number or a string.
fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Seconds of a duration such as `90s`, `2m`, `1h`, `1m30s`.
fn duration_secs(text: &str) -> f64 {
    let mut total = 0.0;
    let mut digits = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() || ch == '.' {
            digits.push(ch);
            continue;
        }
        let n: f64 = digits
            .parse()
            .unwrap_or_else(|_| panic!("bad duration {text}"));
        digits.clear();
        total += n * match ch {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            _ => panic!("bad duration unit in {text}"),
        };
    }
    assert!(digits.is_empty(), "duration {text} has no unit");
    total
}

// ------------------------------------------------------------------------------------------
// What the code and the README define

/// Environment variables in the README's configuration table, plus the worker's metrics
/// address and the log filter.
fn documented_settings() -> BTreeSet<String> {
    let readme = read(&root().join("README.md"));
    let section = readme
        .split("\n## Configuration")
        .nth(1)
        .expect("README.md has a ## Configuration section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut names = BTreeSet::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let first_cell = line.split('|').nth(1).unwrap_or_default();
        for name in first_cell.split('`').skip(1).step_by(2) {
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                names.insert(name.to_string());
            }
        }
    }
    for must in [
        "FLEET_AMQP_URL",
        "FLEET_SECRET_KEYS",
        "FLEET_OPERATOR_TOKEN",
        "FLEET_WORKER_CONCURRENCY",
    ] {
        assert!(
            names.contains(must),
            "README configuration table lost {must}: {names:?}"
        );
    }
    names.insert("FLEET_METRICS_LISTEN".into());
    names.insert("RUST_LOG".into());
    names
}

/// Every `fleet_*` metric the binaries export (histograms without their suffixes).
fn exported_fleet_metrics() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = worker::metrics::exported_names().into_iter().collect();
    names.extend(scheduler::metrics::exported_names());
    assert!(
        names.iter().all(|n| n.starts_with("fleet_")),
        "exported names must all start with fleet_: {names:?}"
    );
    names
}

/// The metrics the fleet dashboard must show (the operator-facing contract; each must also be
/// exported by the code).
const DASHBOARD_FLEET_METRICS: &[&str] = &[
    "fleet_jobs_consumed_total",
    "fleet_jobs_completed_total",
    "fleet_job_duration_seconds",
    "fleet_jobs_in_flight",
    "fleet_check_results_total",
    "fleet_arm_requests_total",
    "fleet_arm_request_duration_seconds",
    "fleet_arm_throttled_total",
    "fleet_arm_retries_total",
    "fleet_limiter_wait_seconds_total",
    "fleet_token_requests_total",
    "fleet_token_cache_hits_total",
    "fleet_token_failures_total",
    "fleet_results_ingested_total",
    "fleet_scans_enqueued_total",
    "fleet_scans_completed_total",
    "fleet_rescan_requests_total",
    "fleet_validations_total",
    "fleet_connections",
    "fleet_connections_stale",
    "fleet_api_requests_total",
];

/// Series from RabbitMQ's Prometheus plugin (3.10+) and the Redis exporter that the dashboards
/// and alerts may use, and Prometheus' own `up`.
const OTHER_METRICS: &[&str] = &[
    "up",
    "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_messages_unacked",
    "rabbitmq_queue_consumers",
    "rabbitmq_detailed_queue_messages_ready",
    "rabbitmq_detailed_queue_messages_unacked",
    "rabbitmq_detailed_queue_messages",
    "rabbitmq_detailed_queue_consumers",
    "rabbitmq_global_messages_received_total",
    "rabbitmq_global_messages_delivered_total",
    "rabbitmq_global_messages_acknowledged_total",
    "redis_up",
    "redis_connected_clients",
    "redis_memory_used_bytes",
    "redis_commands_processed_total",
];

/// Gauges every scheduler replica exports with the same value: combine with max, never sum.
const SCHEDULER_GAUGES: &[&str] = &["fleet_connections", "fleet_connections_stale"];

const CONNECTION_STATES: &[&str] = &[
    "pending",
    "connected",
    "active",
    "authentication_failed",
    "client_secret_expired",
    "tenant_not_found",
    "application_not_found",
    "application_disabled",
    "subscription_not_found",
    "subscription_disabled",
    "permission_errors",
    "stale",
];

/// Labels of the fleet's metrics, and the values of the enumerated ones (`None`: free text).
/// A metric's labels, each with its possible values when they are enumerated.
type LabelSpec = Vec<(&'static str, Option<Vec<&'static str>>)>;

fn fleet_labels() -> BTreeMap<&'static str, LabelSpec> {
    let status_class = || Some(vec!["2xx", "3xx", "4xx", "429", "5xx", "error"]);
    BTreeMap::from([
        (
            "fleet_jobs_consumed_total",
            vec![
                ("service", None),
                ("queue", Some(vec!["ondemand", "scheduled"])),
            ],
        ),
        (
            "fleet_jobs_completed_total",
            vec![
                ("service", None),
                (
                    "outcome",
                    Some(vec![
                        "succeeded",
                        "unauthenticated",
                        "dead_lettered",
                        "requeued",
                        "dropped",
                    ]),
                ),
            ],
        ),
        ("fleet_job_duration_seconds", vec![("service", None)]),
        ("fleet_jobs_in_flight", vec![]),
        (
            "fleet_check_results_total",
            vec![
                ("check", None),
                (
                    "status",
                    Some(vec![
                        "passed",
                        "failed",
                        "failed_access_denied",
                        "not_applicable",
                        "error",
                        "disabled",
                    ]),
                ),
            ],
        ),
        (
            "fleet_arm_requests_total",
            vec![("status_class", status_class())],
        ),
        ("fleet_arm_request_duration_seconds", vec![]),
        ("fleet_arm_throttled_total", vec![]),
        ("fleet_arm_retries_total", vec![]),
        ("fleet_limiter_wait_seconds_total", vec![]),
        ("fleet_token_requests_total", vec![]),
        ("fleet_token_cache_hits_total", vec![]),
        (
            "fleet_token_failures_total",
            vec![(
                "diagnosis",
                Some(vec![
                    "wrong_secret",
                    "expired_secret",
                    "app_not_found",
                    "app_disabled",
                    "tenant_not_found",
                    "malformed_tenant",
                    "blocked_by_conditional_access",
                    "wrong_cloud",
                    "configuration",
                    "transient",
                    "unknown",
                ]),
            )],
        ),
        (
            "fleet_results_ingested_total",
            vec![(
                "outcome",
                Some(vec!["applied", "duplicate", "dead_lettered", "requeued"]),
            )],
        ),
        (
            "fleet_scans_enqueued_total",
            vec![("trigger", Some(vec!["scheduled", "on_demand"]))],
        ),
        ("fleet_scans_completed_total", vec![]),
        (
            "fleet_rescan_requests_total",
            vec![(
                "outcome",
                Some(vec!["enqueued", "duplicate", "refused", "requeued"]),
            )],
        ),
        ("fleet_validations_total", vec![("state", None)]),
        (
            "fleet_connections",
            vec![("state", Some(CONNECTION_STATES.to_vec()))],
        ),
        ("fleet_connections_stale", vec![]),
        (
            "fleet_api_requests_total",
            vec![
                ("method", None),
                ("route", None),
                ("status_class", status_class()),
            ],
        ),
        ("up", vec![]),
    ])
}

// ------------------------------------------------------------------------------------------
// PromQL: metric names and their label matchers

#[derive(Debug, Clone, PartialEq)]
struct Selector {
    metric: String,
    /// (label, operator, value)
    matchers: Vec<(String, String, String)>,
}

#[rustfmt::skip]
const PROMQL_FUNCTIONS: &[&str] = &[
    // aggregation operators
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "limitk", "limit_ratio",
    // functions
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "count_over_time", "day_of_month", "day_of_week", "day_of_year",
    "days_in_month", "delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count",
    "histogram_fraction", "histogram_quantile", "histogram_sum", "holt_winters", "hour",
    "idelta", "increase", "irate", "label_join", "label_replace", "last_over_time", "ln", "log2",
    "log10", "max_over_time", "min_over_time", "minute", "month", "predict_linear",
    "present_over_time", "quantile_over_time", "rate", "resets", "round", "scalar", "sgn",
    "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "time",
    "timestamp", "vector", "year",
];

/// Keywords followed by a parenthesised list of label names.
const PROMQL_LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

const PROMQL_KEYWORDS: &[&str] = &[
    "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan",
];

/// Index just past the string literal that starts at `i` (`"..."`, `'...'` or a raw `` `...` ``).
fn skip_string(c: &[char], i: usize) -> Result<usize, String> {
    let quote = c[i];
    let mut j = i + 1;
    while j < c.len() {
        if c[j] == '\\' && quote != '`' {
            j += 2;
            continue;
        }
        if c[j] == quote {
            return Ok(j + 1);
        }
        j += 1;
    }
    Err(format!("unterminated string at {i}"))
}

/// Index just past the bracket closing the one at `i` (strings inside are skipped).
fn skip_group(c: &[char], i: usize) -> Result<usize, String> {
    let (open, close) = (
        c[i],
        match c[i] {
            '(' => ')',
            '[' => ']',
            '{' => '}',
            other => return Err(format!("{other} is not a bracket")),
        },
    );
    let mut depth = 0;
    let mut j = i;
    while j < c.len() {
        match c[j] {
            '"' | '\'' | '`' => {
                j = skip_string(c, j)?;
                continue;
            }
            ch if ch == open => depth += 1,
            ch if ch == close => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    Err(format!("unclosed {open} at {i}"))
}

fn unquote(text: &str) -> Result<String, String> {
    let c: Vec<char> = text.trim().chars().collect();
    if c.len() < 2 || c[0] != c[c.len() - 1] || !matches!(c[0], '"' | '\'' | '`') {
        return Err(format!("{text} is not a string literal"));
    }
    let inner = &c[1..c.len() - 1];
    if c[0] == '`' {
        return Ok(inner.iter().collect());
    }
    let mut out = String::new();
    let mut k = 0;
    while k < inner.len() {
        if inner[k] == '\\' && k + 1 < inner.len() {
            out.push(match inner[k + 1] {
                'n' => '\n',
                't' => '\t',
                other => other,
            });
            k += 2;
        } else {
            out.push(inner[k]);
            k += 1;
        }
    }
    Ok(out)
}

fn parse_matchers(body: &[char]) -> Result<Vec<(String, String, String)>, String> {
    // split on commas outside strings
    let mut parts = Vec::new();
    let mut start = 0;
    let mut j = 0;
    while j < body.len() {
        match body[j] {
            '"' | '\'' | '`' => {
                j = skip_string(body, j)?;
                continue;
            }
            ',' => {
                parts.push(&body[start..j]);
                start = j + 1;
            }
            _ => {}
        }
        j += 1;
    }
    parts.push(&body[start..]);
    let mut out = Vec::new();
    for part in parts {
        let text: String = part.iter().collect();
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let name_end = text
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
            .ok_or_else(|| format!("matcher without operator: {text}"))?;
        let (name, rest) = text.split_at(name_end);
        let rest = rest.trim_start();
        let op = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|op| rest.starts_with(op))
            .ok_or_else(|| format!("matcher with an unknown operator: {text}"))?;
        let value = unquote(&rest[op.len()..])?;
        out.push((name.to_string(), op.to_string(), value));
    }
    Ok(out)
}

/// The series selectors of a PromQL expression (Grafana's `$variables` allowed): every
/// identifier that is not a function, an aggregation, a keyword or a label name is a metric
/// name; label names inside `{...}`, `by (...)`, `on (...)` etc. are not.
fn promql_selectors(expr: &str) -> Result<Vec<Selector>, String> {
    let c: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |mut j: usize| {
        while j < c.len() && c[j].is_whitespace() {
            j += 1;
        }
        j
    };
    while i < c.len() {
        let ch = c[i];
        if matches!(ch, '"' | '\'' | '`') {
            i = skip_string(&c, i)?;
        } else if ch == '[' {
            i = skip_group(&c, i)?; // range or subquery
        } else if ch == '{' {
            return Err(format!("a selector without a metric name: {expr}"));
        } else if ch == '#' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '$' {
            i += 1;
            if c.get(i) == Some(&'{') {
                i = skip_group(&c, i)?;
            } else {
                while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_ascii_digit()
            || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // numbers (0.95, 1e-9, 0x1f) and durations (5m, 1h30m)
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                if matches!(c[i], 'e' | 'E') && matches!(c.get(i + 1), Some('+' | '-')) {
                    i += 1;
                }
                i += 1;
            }
        } else if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == ':') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let next = skip_ws(i);
            if PROMQL_LABEL_LIST_KEYWORDS.contains(&word.as_str()) {
                if c.get(next) == Some(&'(') {
                    i = skip_group(&c, next)?;
                }
                continue;
            }
            if PROMQL_KEYWORDS.contains(&word.as_str()) || PROMQL_FUNCTIONS.contains(&word.as_str())
            {
                continue;
            }
            if c.get(next) == Some(&'(') {
                return Err(format!("unknown PromQL function {word} in {expr}"));
            }
            let mut matchers = Vec::new();
            if c.get(next) == Some(&'{') {
                let end = skip_group(&c, next)?;
                matchers = parse_matchers(&c[next + 1..end - 1])?;
                i = end;
            }
            out.push(Selector {
                metric: word,
                matchers,
            });
        } else {
            i += 1;
        }
    }
    if out.is_empty() {
        return Err(format!("no metric in {expr}"));
    }
    Ok(out)
}

/// What a query may name and select.
struct Known {
    fleet: BTreeSet<String>,
    labels: BTreeMap<&'static str, LabelSpec>,
    jobs: BTreeSet<String>,
}

impl Known {
    fn new() -> Self {
        Known {
            fleet: exported_fleet_metrics(),
            labels: fleet_labels(),
            jobs: prometheus_jobs(),
        }
    }

    /// The exported family a series name belongs to (`_bucket`/`_sum`/`_count` of histograms).
    fn family(&self, name: &str) -> Option<String> {
        if self.fleet.contains(name) || OTHER_METRICS.contains(&name) {
            return Some(name.to_string());
        }
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix)
                && self.fleet.contains(base)
            {
                return Some(base.to_string());
            }
        }
        None
    }

    /// Checks one expression; returns the metric families it uses.
    fn check(&self, place: &str, expr: &str, errors: &mut Vec<String>) -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        let selectors = match promql_selectors(expr) {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!("{place}: {e}"));
                return used;
            }
        };
        for sel in selectors {
            let Some(family) = self.family(&sel.metric) else {
                errors.push(format!(
                    "{place}: `{}` is neither exported by the binaries nor a known RabbitMQ/Redis metric",
                    sel.metric
                ));
                continue;
            };
            used.insert(family.clone());
            let is_bucket = sel.metric.ends_with("_bucket") && family != sel.metric;
            for (label, op, value) in &sel.matchers {
                if label == "job" {
                    let values: Vec<&str> = if op.contains('~') {
                        value.split('|').collect()
                    } else {
                        vec![value.as_str()]
                    };
                    for v in values {
                        if !self.jobs.contains(v) {
                            errors.push(format!(
                                "{place}: job `{v}` is not a job of prometheus.yml ({:?})",
                                self.jobs
                            ));
                        }
                    }
                    continue;
                }
                if label == "instance" || label == "pod" || (is_bucket && label == "le") {
                    continue;
                }
                let Some(allowed) = self.labels.get(family.as_str()) else {
                    continue; // RabbitMQ/Redis series: labels not modelled here
                };
                let Some((_, values)) = allowed.iter().find(|(l, _)| l == label) else {
                    errors.push(format!("{place}: `{family}` has no label `{label}`"));
                    continue;
                };
                let Some(values) = values else { continue };
                let simple = value
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '|');
                if op.contains('~') && !simple {
                    continue; // a real regex: not checked value by value
                }
                for v in value.split('|') {
                    if !values.contains(&v) {
                        errors.push(format!(
                            "{place}: `{family}{{{label}}}` never takes the value `{v}` (values: {values:?})"
                        ));
                    }
                }
            }
        }
        if SCHEDULER_GAUGES.iter().any(|g| used.contains(*g))
            && (!expr.contains("max") || ["sum", "avg"].iter().any(|a| expr.contains(a)))
        {
            errors.push(format!(
                "{place}: scheduler gauges ({SCHEDULER_GAUGES:?}) come from every replica: combine them with max, not sum: {expr}"
            ));
        }
        used
    }
}

#[test]
fn promql_metric_names_are_extracted_carefully() {
    let names = |e: &str| -> Vec<String> {
        promql_selectors(e)
            .unwrap_or_else(|err| panic!("{err}"))
            .into_iter()
            .map(|s| s.metric)
            .collect()
    };
    assert_eq!(
        names(
            r#"histogram_quantile(0.95, sum by (service, le) (rate(fleet_job_duration_seconds_bucket{service=~"nsg|storage"}[$__rate_interval])))"#
        ),
        ["fleet_job_duration_seconds_bucket"]
    );
    assert_eq!(
        names(
            r#"(max by (queue) (rabbitmq_detailed_queue_messages_ready{queue=~".*scan[.]jobs[.](ondemand|scheduled)"}) > 0) and on (queue) (max by (queue) (rabbitmq_detailed_queue_consumers) == 0)"#
        ),
        [
            "rabbitmq_detailed_queue_messages_ready",
            "rabbitmq_detailed_queue_consumers"
        ]
    );
    assert_eq!(
        names(
            "sum(rate(a_total[5m] offset 1h)) / ignoring(x) group_left(y) b_total * 1e-3 > bool 0.5"
        ),
        ["a_total", "b_total"]
    );
    assert_eq!(
        names(r#"max(delta(up{job="x", le="1"}[15m:1m])) unless absent(up)"#),
        ["up", "up"]
    );
    assert_eq!(names("sum(rate(x[$__range])) by (instance)"), ["x"]);
    let with_matchers = promql_selectors(r#"m{a="1",b!~"x|y", c=~"}{,"}"#).expect("parses");
    assert_eq!(
        with_matchers[0].matchers,
        [
            ("a".to_string(), "=".to_string(), "1".to_string()),
            ("b".to_string(), "!~".to_string(), "x|y".to_string()),
            ("c".to_string(), "=~".to_string(), "}{,".to_string()),
        ]
    );
    assert!(
        promql_selectors("rated(x[5m])").is_err(),
        "unknown functions are errors"
    );
    assert!(
        promql_selectors(r#"{__name__="x"}"#).is_err(),
        "selectors need a metric name"
    );
    assert!(
        promql_selectors(r#"x{a="1"#).is_err(),
        "unclosed braces are errors"
    );
}

// ------------------------------------------------------------------------------------------
// YAML in general

#[test]
fn the_yaml_parser_rejects_duplicate_keys() {
    let flat: Result<Vec<Value>, _> = serde_saphyr::from_multiple("a: 1\nb: 2\na: 3\n");
    assert!(flat.is_err(), "a duplicate top-level key must be an error");
    let nested: Result<Vec<Value>, _> = serde_saphyr::from_multiple("x:\n  y: 1\n  z: 2\n  y: 3\n");
    assert!(nested.is_err(), "a duplicate nested key must be an error");
    let merged: Vec<Value> =
        serde_saphyr::from_multiple("base: &b {k: 1}\nuse:\n  <<: *b\n  l: 2\n")
            .expect("merge keys");
    assert_eq!(at(&merged[0], "use.k"), &Value::from(1));
}

#[test]
fn every_yaml_and_json_file_under_deploy_parses() {
    let yaml = files_under(&deploy(), &[".yaml", ".yml"]);
    assert!(
        yaml.len() >= 15,
        "expected the deploy YAML files, found {yaml:?}"
    );
    for path in &yaml {
        for doc in yaml_documents(path) {
            assert!(
                doc.is_object(),
                "{}: every document must be a mapping",
                rel(path)
            );
        }
    }
    let json = files_under(&deploy(), &[".json"]);
    assert!(
        json.iter()
            .any(|p| p.ends_with("rabbitmq/definitions.json"))
    );
    assert!(
        json.iter()
            .any(|p| p.ends_with("grafana/dashboards/fleet.json"))
    );
    for path in &json {
        assert!(json_document(path).is_object(), "{}", rel(path));
    }
}

// ------------------------------------------------------------------------------------------
// Compose

const COMPOSE_SERVICES: &[&str] = &[
    "rabbitmq",
    "redis",
    "scheduler",
    "worker",
    "azure-emulator",
    "otel-collector",
    "jaeger",
    "prometheus",
    "redis-exporter",
    "grafana-dashboards",
    "grafana",
];

/// Services whose image has no shell or probe tool (scratch images) or that run once.
const COMPOSE_WITHOUT_HEALTHCHECK: &[&str] = &[
    "otel-collector",
    "jaeger",
    "redis-exporter",
    "grafana-dashboards",
];

fn compose() -> Value {
    yaml_document(&deploy().join("compose.yaml"))
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    let s = at(compose, "services").get(name);
    s.unwrap_or_else(|| panic!("compose.yaml has no service {name}"))
}

/// Short-syntax volume entries of a service: (source, target).
fn compose_volumes(svc: &Value, name: &str) -> Vec<(String, String)> {
    at(svc, "volumes")
        .as_array()
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    let s = v
                        .as_str()
                        .unwrap_or_else(|| panic!("{name}: use the short volume syntax"));
                    let mut parts = s.split(':');
                    let source = parts.next().unwrap_or_default().to_string();
                    let target = parts
                        .next()
                        .unwrap_or_else(|| panic!("{name}: volume {s} has no target"))
                        .to_string();
                    (source, target)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn compose_env(svc: &Value, name: &str) -> BTreeMap<String, Value> {
    at(svc, "environment")
        .as_object()
        .unwrap_or_else(|| panic!("{name}: environment must be a mapping"))
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn env_str<'a>(env: &'a BTreeMap<String, Value>, key: &str, name: &str) -> &'a str {
    env.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{name}: {key} must be set"))
}

#[test]
fn compose_has_every_service_with_image_healthcheck_and_existing_dependencies() {
    let compose = compose();
    let services = at(&compose, "services")
        .as_object()
        .expect("compose.yaml: services");
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = COMPOSE_SERVICES.iter().copied().collect();
    assert_eq!(names, expected, "compose services");
    let volumes: BTreeSet<String> = at(&compose, "volumes")
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let configs: BTreeSet<String> = at(&compose, "configs")
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();

    for (name, svc) in services {
        let image = at(svc, "image").as_str().unwrap_or_default();
        let build = at(svc, "build");
        assert!(
            !image.is_empty() || build.is_object(),
            "{name}: needs an image or a build"
        );
        if !image.is_empty() && !build.is_object() {
            let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
            assert!(
                !tag.is_empty() && tag != "latest" && !tag.contains('/'),
                "{name}: pin the image's tag ({image})"
            );
        }
        if build.is_object() {
            let context = deploy().join(str_at(build, "context", name));
            let dockerfile = context.join(str_at(build, "dockerfile", name));
            assert!(
                dockerfile.is_file(),
                "{name}: {} is missing",
                rel(&dockerfile)
            );
        }

        let healthcheck = at(svc, "healthcheck");
        if COMPOSE_WITHOUT_HEALTHCHECK.contains(&name.as_str()) {
            assert!(
                healthcheck.is_null(),
                "{name}: listed as without healthcheck but has one"
            );
        } else {
            let test = strings(at(healthcheck, "test"));
            assert!(
                test.len() >= 2 && matches!(test[0].as_str(), "CMD" | "CMD-SHELL"),
                "{name}: healthcheck.test must be [CMD|CMD-SHELL, ...], got {test:?}"
            );
        }

        let deps: Vec<(String, Value)> = match at(svc, "depends_on") {
            Value::Null => Vec::new(),
            Value::Array(list) => list
                .iter()
                .map(|d| {
                    (
                        d.as_str().expect("depends_on entry").to_string(),
                        Value::Null,
                    )
                })
                .collect(),
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            other => panic!("{name}: depends_on must be a list or a mapping: {other}"),
        };
        for (dep, spec) in deps {
            assert!(
                names.contains(dep.as_str()),
                "{name} depends on unknown service {dep}"
            );
            assert_ne!(dep, *name, "{name} depends on itself");
            let dep_svc = &services[&dep];
            match at(&spec, "condition").as_str() {
                None | Some("service_started") => {}
                Some("service_healthy") => assert!(
                    at(dep_svc, "healthcheck").is_object(),
                    "{name} waits for {dep} to be healthy, which has no healthcheck"
                ),
                Some("service_completed_successfully") => assert_eq!(
                    at(dep_svc, "restart").as_str(),
                    Some("no"),
                    "{name} waits for {dep} to complete: {dep} must not restart"
                ),
                Some(other) => panic!("{name}: unknown depends_on condition {other}"),
            }
            let dep_profiles = strings(at(dep_svc, "profiles"));
            if !dep_profiles.is_empty() && strings(at(svc, "profiles")).is_empty() {
                assert_eq!(
                    at(&spec, "required"),
                    &Value::Bool(false),
                    "{name} depends on {dep}, which only runs in profile {dep_profiles:?}: mark it required: false"
                );
            }
        }

        for (source, target) in compose_volumes(svc, name) {
            assert!(
                target.starts_with('/'),
                "{name}: volume target {target} must be absolute"
            );
            if source.starts_with('.') {
                let path = deploy().join(&source);
                assert!(
                    path.exists(),
                    "{name}: mounts {source}, which does not exist"
                );
            } else {
                assert!(
                    volumes.contains(&source),
                    "{name}: named volume {source} is not declared under volumes"
                );
            }
        }
        for config in at(svc, "configs").as_array().into_iter().flatten() {
            let source = str_at(config, "source", name);
            assert!(
                configs.contains(source),
                "{name}: config {source} is not declared"
            );
        }
        for port in strings(at(svc, "ports")) {
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name}: host port {port} must listen on 127.0.0.1 only"
            );
        }
    }
}

#[test]
fn compose_runs_the_fleet_with_the_documented_settings() {
    let compose = compose();
    let allowed = documented_settings();
    let scheduler = service(&compose, "scheduler");
    let worker = service(&compose, "worker");

    assert_eq!(strings(at(scheduler, "entrypoint")), ["scheduler", "serve"]);
    assert_eq!(strings(at(worker, "entrypoint")), ["worker"]);
    for (name, svc) in [("scheduler", scheduler), ("worker", worker)] {
        let env = compose_env(svc, name);
        for key in env.keys() {
            assert!(
                allowed.contains(key),
                "{name}: {key} is not in the README's configuration table"
            );
        }
        assert_eq!(env_str(&env, "FLEET_LOG_FORMAT", name), "json");
        assert_eq!(
            env_str(&env, "OTEL_EXPORTER_OTLP_ENDPOINT", name),
            "http://otel-collector:4318"
        );
        assert!(env_str(&env, "FLEET_AMQP_URL", name).contains("@rabbitmq:5672/"));
        assert!(env_str(&env, "FLEET_REDIS_URL", name).contains("@redis:6379/"));
        assert!(env_str(&env, "FLEET_SECRET_KEYS", name).contains("${FLEET_SECRET_KEYS:?"));
        // Unset unless deploy/.env sets it (an empty value would name the file "").
        assert_eq!(
            env.get("FLEET_EXTRA_CA_FILE"),
            Some(&Value::Null),
            "{name}: FLEET_EXTRA_CA_FILE must have no value in compose.yaml"
        );
        assert!(
            compose_volumes(svc, name)
                .iter()
                .any(|(s, t)| s == "fleet-ca" && t == "/var/lib/fleet/ca"),
            "{name}: mounts the fleet-ca volume"
        );
    }
    let scheduler_env = compose_env(scheduler, "scheduler");
    assert_eq!(
        env_str(&scheduler_env, "FLEET_API_LISTEN", "scheduler"),
        "0.0.0.0:8080"
    );
    assert!(
        env_str(&scheduler_env, "FLEET_OPERATOR_TOKEN", "scheduler")
            .contains("${FLEET_OPERATOR_TOKEN")
    );
    assert!(
        strings(at(scheduler, "healthcheck.test"))
            .join(" ")
            .contains("8080 /readyz")
    );

    let worker_env = compose_env(worker, "worker");
    assert_eq!(
        env_str(&worker_env, "FLEET_METRICS_LISTEN", "worker"),
        "0.0.0.0:9090"
    );
    assert!(
        !worker_env.contains_key("FLEET_OPERATOR_TOKEN"),
        "workers do not need the operator token"
    );
    assert!(
        strings(at(worker, "healthcheck.test"))
            .join(" ")
            .contains("9090 /readyz")
    );
    assert!(
        number(at(worker, "deploy.replicas")).is_some_and(|n| n >= 2.0),
        "worker: deploy.replicas"
    );
    assert!(
        strings(at(worker, "ports")).is_empty(),
        "worker replicas cannot share host ports"
    );
    let grace = number(
        worker_env
            .get("FLEET_SHUTDOWN_GRACE_SECS")
            .unwrap_or(&Value::Null),
    )
    .expect("worker: FLEET_SHUTDOWN_GRACE_SECS");
    assert!(
        duration_secs(str_at(worker, "stop_grace_period", "worker")) > grace,
        "worker: stop_grace_period must exceed FLEET_SHUTDOWN_GRACE_SECS"
    );

    // The emulator: profile, scenario, CA shared with scheduler and workers.
    let emulator = service(&compose, "azure-emulator");
    assert_eq!(strings(at(emulator, "profiles")), ["emulator"]);
    let command = strings(at(emulator, "entrypoint")).join(" ");
    for part in [
        "azure-emulator",
        "--scenario /etc/fleet/scenarios/demo.json",
        "--listen 0.0.0.0:8443",
        "--ca-out /var/lib/fleet/ca/emulator-ca.pem",
    ] {
        assert!(
            command.contains(part),
            "azure-emulator: command lacks `{part}`: {command}"
        );
    }
    let volumes = compose_volumes(emulator, "azure-emulator");
    let scenarios = volumes
        .iter()
        .find(|(_, t)| t == "/etc/fleet/scenarios")
        .expect("azure-emulator mounts the scenarios");
    assert!(deploy().join(&scenarios.0).join("demo.json").is_file());
    assert!(
        volumes
            .iter()
            .any(|(s, t)| s == "fleet-ca" && t == "/var/lib/fleet/ca")
    );
    let env_example = read(&deploy().join("env.example"));
    assert!(env_example.contains("FLEET_EXTRA_CA_FILE=/var/lib/fleet/ca/emulator-ca.pem"));

    // Redis with AOF.
    let redis = strings(at(service(&compose, "redis"), "command")).join(" ");
    assert!(redis.contains("--appendonly yes"), "redis: AOF ({redis})");
}

#[test]
fn compose_wires_rabbitmq_collector_prometheus_and_grafana_to_their_files() {
    let compose = compose();

    // RabbitMQ: plugins, config, definitions imported at boot from the directory the config names.
    let plugins = read(&deploy().join("rabbitmq/enabled_plugins"));
    assert!(
        plugins.trim_end().ends_with("]."),
        "enabled_plugins is an Erlang list term"
    );
    for plugin in ["rabbitmq_management", "rabbitmq_prometheus"] {
        assert!(plugins.contains(plugin), "enabled_plugins lacks {plugin}");
    }
    let conf = read(&deploy().join("rabbitmq/rabbitmq.conf"));
    let setting = |key: &str| -> String {
        conf.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("rabbitmq.conf lacks {key}"))
    };
    assert_eq!(setting("definitions.import_backend"), "local_filesystem");
    assert_eq!(setting("prometheus.tcp.port"), "15692");
    let definitions_dir = setting("definitions.local.path");
    let rabbitmq = service(&compose, "rabbitmq");
    let mounts = compose_volumes(rabbitmq, "rabbitmq");
    let mounted = |source: &str| -> String {
        mounts
            .iter()
            .find(|(s, _)| s == source)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("rabbitmq does not mount {source}"))
    };
    assert_eq!(
        mounted("./rabbitmq/enabled_plugins"),
        "/etc/rabbitmq/enabled_plugins"
    );
    assert!(mounted("./rabbitmq/rabbitmq.conf").starts_with("/etc/rabbitmq/conf.d/"));
    let topology = mounted("./rabbitmq/definitions.json");
    assert!(
        topology.starts_with(&format!("{definitions_dir}/")) && topology.ends_with(".json"),
        "definitions.json must be mounted into {definitions_dir}, is at {topology}"
    );
    // The user file (a node importing definitions at boot creates no default user).
    let users = list_at(rabbitmq, "configs", "rabbitmq")
        .iter()
        .find(|c| at(c, "source").as_str() == Some("rabbitmq-users"))
        .expect("rabbitmq gets the rabbitmq-users config");
    let users_target = str_at(users, "target", "rabbitmq-users");
    assert!(users_target.starts_with(&format!("{definitions_dir}/")));
    assert!(
        users_target < topology.as_str(),
        "users are imported before the topology"
    );
    let content = str_at(&compose, "configs.rabbitmq-users.content", "rabbitmq-users");
    let mut substituted = String::new();
    let mut rest = content;
    while let Some(start) = rest.find("${") {
        substituted.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing brace") + start;
        substituted.push_str("value");
        rest = &rest[end + 1..];
    }
    substituted.push_str(rest);
    let users_json: Value = serde_json::from_str(&substituted).expect("rabbitmq-users is JSON");
    assert_eq!(list_at(&users_json, "users", "rabbitmq-users").len(), 1);
    assert!(list_at(&users_json, "permissions", "rabbitmq-users").len() == 1);
    let amqp = compose_env(service(&compose, "scheduler"), "scheduler");
    let amqp = env_str(&amqp, "FLEET_AMQP_URL", "scheduler");
    assert!(content.contains("${RABBITMQ_USER") && amqp.contains("${RABBITMQ_USER"));
    assert!(content.contains("${RABBITMQ_PASSWORD") && amqp.contains("${RABBITMQ_PASSWORD"));

    // OpenTelemetry collector: OTLP/HTTP on 4318 in, Jaeger's OTLP/gRPC out.
    let collector_mount = compose_volumes(service(&compose, "otel-collector"), "otel-collector");
    assert!(
        collector_mount
            .iter()
            .any(|(s, _)| s == "./otel/collector.yaml")
    );
    let collector = yaml_document(&deploy().join("otel/collector.yaml"));
    assert!(
        str_at(
            &collector,
            "receivers.otlp.protocols.http.endpoint",
            "collector"
        )
        .ends_with(":4318")
    );
    for kind in ["receivers", "processors", "exporters"] {
        let declared = at(&collector, kind)
            .as_object()
            .expect("collector components");
        let used = strings(at(&collector, &format!("service.pipelines.traces.{kind}")));
        assert!(
            !used.is_empty(),
            "collector: the traces pipeline has no {kind}"
        );
        for component in used {
            assert!(
                declared.contains_key(&component),
                "collector: {kind} {component} undeclared"
            );
        }
    }
    let exporters = at(&collector, "exporters").as_object().expect("exporters");
    assert!(
        exporters
            .values()
            .any(|e| at(e, "endpoint").as_str() == Some("jaeger:4317")),
        "collector exports to jaeger:4317"
    );
    let jaeger = compose_env(service(&compose, "jaeger"), "jaeger");
    assert_eq!(env_str(&jaeger, "COLLECTOR_OTLP_ENABLED", "jaeger"), "true");

    // Prometheus reads the mounted config and rule files.
    let prom_mounts = compose_volumes(service(&compose, "prometheus"), "prometheus");
    let prom_config = yaml_document(&deploy().join("prometheus/prometheus.yml"));
    for rule_file in strings(at(&prom_config, "rule_files")) {
        assert!(
            prom_mounts
                .iter()
                .any(|(s, t)| *t == rule_file && deploy().join(s).is_file()),
            "prometheus.yml reads {rule_file}, which compose does not mount"
        );
    }
    let prom_command = strings(at(service(&compose, "prometheus"), "command")).join(" ");
    let config_path = prom_mounts
        .iter()
        .find(|(s, _)| s == "./prometheus/prometheus.yml")
        .map(|(_, t)| t.clone())
        .expect("prometheus.yml mounted");
    assert!(prom_command.contains(&format!("--config.file={config_path}")));

    // Grafana: provisioning and every dashboard provider's folder are mounted.
    let grafana_mounts = compose_volumes(service(&compose, "grafana"), "grafana");
    assert!(
        grafana_mounts
            .iter()
            .any(|(s, t)| s == "./grafana/provisioning" && t == "/etc/grafana/provisioning")
    );
    let providers =
        yaml_document(&deploy().join("grafana/provisioning/dashboards/dashboards.yaml"));
    for provider in list_at(&providers, "providers", "dashboards.yaml") {
        let path = str_at(provider, "options.path", "dashboard provider");
        assert!(
            grafana_mounts.iter().any(|(_, t)| t == path),
            "dashboard provider path {path} is not mounted into grafana"
        );
    }
    let downloader = service(&compose, "grafana-dashboards");
    let dl_mounts = compose_volumes(downloader, "grafana-dashboards");
    let dest = compose_env(downloader, "grafana-dashboards");
    let dest = env_str(&dest, "DEST", "grafana-dashboards");
    let community = dl_mounts
        .iter()
        .find(|(_, t)| t == dest)
        .expect("the downloader writes into a volume");
    assert!(
        grafana_mounts.iter().any(|(s, _)| *s == community.0),
        "grafana mounts the volume the dashboards are downloaded into"
    );
    let script = read(&deploy().join("grafana/download-dashboards.sh"));
    for id in ["10991", "11340", "763"] {
        assert!(
            script.contains(&format!("fetch {id} ")),
            "download-dashboards.sh fetches {id}"
        );
    }
    assert!(script.contains("https://grafana.com/api/dashboards/$id/revisions/latest/download"));
}

#[test]
fn env_example_documents_every_variable_compose_reads() {
    let compose_text = read(&deploy().join("compose.yaml"));
    let example = read(&deploy().join("env.example"));
    let mut required = BTreeSet::new();
    let mut all = BTreeSet::new();
    let mut rest = compose_text.as_str();
    while let Some(start) = rest.find("${") {
        let body = &rest[start + 2..];
        let end = body.find('}').expect("closing brace");
        let name: String = body[..end]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if body[..end][name.len()..].starts_with(":?") {
            required.insert(name.clone());
        }
        all.insert(name);
        rest = &body[end..];
    }
    assert!(required.contains("FLEET_SECRET_KEYS") && required.contains("FLEET_OPERATOR_TOKEN"));
    let lines: Vec<&str> = example.lines().map(str::trim).collect();
    for name in &all {
        assert!(
            lines
                .iter()
                .any(|l| l.trim_start_matches("# ").starts_with(&format!("{name}="))),
            "env.example does not mention {name}"
        );
    }
    for name in &required {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("env.example must set the required {name} (uncommented)"));
        let value = &line[name.len() + 1..];
        assert!(
            value.is_empty() || (!name.contains("PASSWORD") && !name.starts_with("FLEET_")),
            "env.example must leave the secret {name} empty, so compose refuses to start until it is set"
        );
    }
    for command in ["head -c 32 /dev/urandom | base64", "openssl rand -hex"] {
        assert!(
            example.contains(command),
            "env.example shows how to generate values ({command})"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Prometheus

fn prometheus_jobs() -> BTreeSet<String> {
    let config = yaml_document(&deploy().join("prometheus/prometheus.yml"));
    list_at(&config, "scrape_configs", "prometheus.yml")
        .iter()
        .map(|s| str_at(s, "job_name", "scrape config").to_string())
        .collect()
}

#[test]
fn prometheus_scrapes_every_replica_rabbitmq_per_queue_and_redis() {
    let config = yaml_document(&deploy().join("prometheus/prometheus.yml"));
    let compose = compose();
    let services = at(&compose, "services").as_object().expect("services");
    let scrapes = list_at(&config, "scrape_configs", "prometheus.yml");
    let mut by_job = BTreeMap::new();
    for scrape in scrapes {
        let job = str_at(scrape, "job_name", "scrape config").to_string();
        assert!(
            by_job.insert(job.clone(), scrape).is_none(),
            "job {job} twice"
        );
        for sd in at(scrape, "dns_sd_configs")
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(at(sd, "type").as_str(), Some("A"), "{job}: dns_sd type A");
            assert!(
                number(at(sd, "port")).is_some(),
                "{job}: dns_sd needs a port"
            );
            for name in strings(at(sd, "names")) {
                let service = name.strip_prefix("tasks.").unwrap_or(&name);
                assert!(
                    services.contains_key(service),
                    "{job}: {name} is no compose service"
                );
            }
        }
        for sc in at(scrape, "static_configs")
            .as_array()
            .into_iter()
            .flatten()
        {
            for target in strings(at(sc, "targets")) {
                let host = target.split(':').next().unwrap_or_default();
                assert!(
                    services.contains_key(host),
                    "{job}: target {target} is no compose service"
                );
            }
        }
    }
    let dns = |job: &str| -> (Vec<String>, f64) {
        let sd = &list_at(by_job[job], "dns_sd_configs", job)[0];
        (
            strings(at(sd, "names")),
            number(at(sd, "port")).expect("port"),
        )
    };
    assert_eq!(dns("scheduler"), (vec!["scheduler".to_string()], 8080.0));
    assert_eq!(dns("worker"), (vec!["worker".to_string()], 9090.0));
    assert_eq!(
        at(by_job["scheduler"], "metrics_path").as_str(),
        Some("/metrics")
    );
    assert_eq!(
        at(by_job["worker"], "metrics_path").as_str(),
        Some("/metrics")
    );
    let target = |job: &str| {
        strings(at(
            &list_at(by_job[job], "static_configs", job)[0],
            "targets",
        ))
    };
    assert_eq!(target("rabbitmq"), ["rabbitmq:15692"]);
    assert_eq!(
        at(by_job["rabbitmq"], "metrics_path").as_str(),
        Some("/metrics")
    );
    assert_eq!(target("rabbitmq-detailed"), ["rabbitmq:15692"]);
    assert_eq!(
        at(by_job["rabbitmq-detailed"], "metrics_path").as_str(),
        Some("/metrics/detailed")
    );
    assert_eq!(
        strings(at(by_job["rabbitmq-detailed"], "params.family")),
        ["queue_coarse_metrics", "queue_consumer_count"]
    );
    assert_eq!(target("redis"), ["redis-exporter:9121"]);
    assert!(
        !strings(at(&config, "rule_files")).is_empty(),
        "prometheus.yml loads the alerts"
    );
}

/// GitHub's anchors of a Markdown file's headings.
fn markdown_anchors(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

#[test]
fn alert_rules_are_documented_and_query_exported_metrics() {
    let known = Known::new();
    let readme = read(&deploy().join("README.md"));
    let anchors = markdown_anchors(&readme);
    let rules = yaml_document(&deploy().join("prometheus/alerts.yml"));
    let mut names = BTreeSet::new();
    let mut errors = Vec::new();
    for group in list_at(&rules, "groups", "alerts.yml") {
        let group_name = str_at(group, "name", "rule group");
        for rule in list_at(group, "rules", group_name) {
            let alert = str_at(rule, "alert", group_name).to_string();
            assert!(names.insert(alert.clone()), "alert {alert} twice");
            let expr = str_at(rule, "expr", &alert);
            known.check(&format!("alert {alert}"), expr, &mut errors);
            duration_secs(str_at(rule, "for", &alert));
            assert!(
                matches!(
                    at(rule, "labels.severity").as_str(),
                    Some("critical" | "warning" | "info")
                ),
                "{alert}: labels.severity"
            );
            for annotation in ["summary", "description", "runbook"] {
                str_at(rule, &format!("annotations.{annotation}"), &alert);
            }
            let runbook = str_at(rule, "annotations.runbook", &alert);
            let anchor = runbook
                .strip_prefix("deploy/README.md#")
                .unwrap_or_else(|| panic!("{alert}: runbook must be deploy/README.md#<section>"));
            assert!(
                anchors.contains(anchor),
                "{alert}: deploy/README.md has no section #{anchor}"
            );
            assert_eq!(
                anchor,
                alert.to_lowercase(),
                "{alert}: runbook points at its own section"
            );
        }
    }
    for must in [
        "FleetDeadLetters",
        "FleetJobsWaitingWithoutConsumers",
        "FleetJobsFailing",
        "FleetJobsDeadLettered",
        "FleetArmThrottlingSustained",
        "FleetTokenFailures",
        "FleetStaleConnections",
        "FleetSchedulerUnavailable",
        "FleetSchedulerInstanceDown",
        "FleetNoWorkers",
        "FleetWorkerInstanceDown",
        "FleetResultsBacklogGrowing",
    ] {
        assert!(names.contains(must), "alerts.yml lacks {must}");
    }
    assert!(
        errors.is_empty(),
        "alert expressions:\n{}",
        errors.join("\n")
    );

    // The README's own links point at sections that exist.
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("](#") {
        let body = &rest[start + 3..];
        let end = body.find(')').expect("closing parenthesis");
        assert!(
            anchors.contains(&body[..end]),
            "deploy/README.md links to missing #{}",
            &body[..end]
        );
        rest = &body[end..];
    }
}

// ------------------------------------------------------------------------------------------
// Grafana

/// Every panel of a dashboard, rows' nested panels included.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in at(dashboard, "panels").as_array().into_iter().flatten() {
        out.push(panel);
        for nested in at(panel, "panels").as_array().into_iter().flatten() {
            out.push(nested);
        }
    }
    out
}

#[test]
fn grafana_provisioning_and_dashboards_are_complete() {
    let known = Known::new();
    let compose = compose();
    let services = at(&compose, "services").as_object().expect("services");

    let datasources =
        yaml_document(&deploy().join("grafana/provisioning/datasources/datasources.yaml"));
    assert_eq!(number(at(&datasources, "apiVersion")), Some(1.0));
    let mut uids = BTreeSet::new();
    let mut defaults = 0;
    for ds in list_at(&datasources, "datasources", "datasources.yaml") {
        let uid = str_at(ds, "uid", "data source").to_string();
        str_at(ds, "name", &uid);
        str_at(ds, "type", &uid);
        let url = str_at(ds, "url", &uid);
        let host = url
            .trim_start_matches("http://")
            .split([':', '/'])
            .next()
            .unwrap_or_default();
        assert!(
            services.contains_key(host),
            "data source {uid}: {url} is no compose service"
        );
        assert!(uids.insert(uid.clone()), "data source uid {uid} twice");
        if at(ds, "isDefault") == &Value::Bool(true) {
            defaults += 1;
            assert_eq!(str_at(ds, "type", &uid), "prometheus");
        }
    }
    assert_eq!(defaults, 1, "exactly one default data source");
    assert!(
        uids.contains("prometheus"),
        "download-dashboards.sh rewrites inputs to uid prometheus"
    );

    let providers =
        yaml_document(&deploy().join("grafana/provisioning/dashboards/dashboards.yaml"));
    assert_eq!(number(at(&providers, "apiVersion")), Some(1.0));
    assert!(list_at(&providers, "providers", "dashboards.yaml").len() >= 2);

    let dashboards = files_under(&deploy().join("grafana/dashboards"), &[".json"]);
    assert!(!dashboards.is_empty());
    let mut dashboard_uids = BTreeSet::new();
    let mut fleet_used = BTreeSet::new();
    let mut errors = Vec::new();
    for path in &dashboards {
        let file = rel(path);
        let dashboard = json_document(path);
        let uid = str_at(&dashboard, "uid", &file).to_string();
        assert!(
            dashboard_uids.insert(uid),
            "{file}: dashboard uid used twice"
        );
        str_at(&dashboard, "title", &file);
        assert!(
            number(at(&dashboard, "schemaVersion")).is_some_and(|v| v >= 36.0),
            "{file}: schemaVersion 36 or later"
        );
        let variables: BTreeMap<String, String> = at(&dashboard, "templating.list")
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| {
                (
                    str_at(v, "name", &file).to_string(),
                    str_at(v, "type", &file).to_string(),
                )
            })
            .collect();
        let valid_uid = |uid: &str| -> bool {
            match uid.strip_prefix("${").and_then(|u| u.strip_suffix('}')) {
                Some(var) => variables.get(var).map(String::as_str) == Some("datasource"),
                None => uids.contains(uid),
            }
        };
        let mut ids = BTreeSet::new();
        for panel in all_panels(&dashboard) {
            let title = str_at(panel, "title", &file);
            let place = format!("{file}: panel {title:?}");
            let id = number(at(panel, "id")).unwrap_or_else(|| panic!("{place}: id"));
            assert!(ids.insert(id as i64), "{place}: id {id} used twice");
            let (x, w) = (
                number(at(panel, "gridPos.x")).unwrap_or(-1.0),
                number(at(panel, "gridPos.w")).unwrap_or(-1.0),
            );
            assert!(
                x >= 0.0 && w > 0.0 && x + w <= 24.0,
                "{place}: gridPos within 24 columns"
            );
            assert!(
                number(at(panel, "gridPos.h")).is_some_and(|h| h > 0.0),
                "{place}: gridPos.h"
            );
            if at(panel, "type").as_str() == Some("row") {
                continue;
            }
            let ds_uid = str_at(panel, "datasource.uid", &place);
            assert!(
                valid_uid(ds_uid),
                "{place}: data source {ds_uid} is neither provisioned nor a datasource variable"
            );
            let targets = list_at(panel, "targets", &place);
            assert!(!targets.is_empty(), "{place}: no query");
            let mut ref_ids = BTreeSet::new();
            for target in targets {
                assert!(
                    ref_ids.insert(str_at(target, "refId", &place).to_string()),
                    "{place}: refId twice"
                );
                if let Some(uid) = at(target, "datasource.uid").as_str() {
                    assert!(valid_uid(uid), "{place}: target data source {uid}");
                }
                let expr = str_at(target, "expr", &place);
                let used = known.check(&place, expr, &mut errors);
                if path.ends_with("fleet.json") {
                    fleet_used.extend(used);
                }
            }
        }
    }
    assert!(
        errors.is_empty(),
        "dashboard queries:\n{}",
        errors.join("\n")
    );
    for metric in DASHBOARD_FLEET_METRICS {
        assert!(
            known.fleet.contains(*metric),
            "the binaries no longer export {metric}"
        );
        assert!(
            fleet_used.contains(*metric),
            "fleet.json has no panel for {metric}"
        );
    }
    for metric in &known.fleet {
        assert!(
            fleet_used.contains(metric),
            "fleet.json has no panel for exported {metric}"
        );
    }
    for metric in [
        "rabbitmq_detailed_queue_messages_ready",
        "rabbitmq_detailed_queue_messages_unacked",
    ] {
        assert!(
            fleet_used.contains(metric),
            "fleet.json shows {metric} per queue"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Kubernetes

#[test]
fn kubernetes_manifests_are_complete_and_consistent() {
    let dir = deploy().join("k8s");
    let kustomization = yaml_document(&dir.join("kustomization.yaml"));
    assert_eq!(at(&kustomization, "kind").as_str(), Some("Kustomization"));
    let namespace = str_at(&kustomization, "namespace", "kustomization").to_string();
    let resources = strings(at(&kustomization, "resources"));
    let files: BTreeSet<String> = files_under(&dir, &[".yaml", ".yml"])
        .iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .filter(|n| n != "kustomization.yaml")
        .collect();
    for resource in &resources {
        assert!(
            dir.join(resource).is_file(),
            "kustomization lists missing {resource}"
        );
    }
    assert_eq!(
        resources.iter().cloned().collect::<BTreeSet<_>>(),
        files,
        "every manifest under deploy/k8s is listed in kustomization.yaml, once"
    );
    let image_names: BTreeSet<String> = list_at(&kustomization, "images", "kustomization")
        .iter()
        .map(|i| str_at(i, "name", "image").to_string())
        .collect();

    let mut docs: Vec<(String, Value)> = Vec::new();
    for resource in &resources {
        for doc in yaml_documents(&dir.join(resource)) {
            str_at(&doc, "apiVersion", resource);
            let kind = str_at(&doc, "kind", resource).to_string();
            let name = str_at(&doc, "metadata.name", resource).to_string();
            if let Some(ns) = at(&doc, "metadata.namespace").as_str() {
                assert_eq!(ns, namespace, "{kind}/{name}: namespace");
            }
            docs.push((format!("{resource}: {kind}/{name}"), doc));
        }
    }
    let of_kind = |kind: &str| -> Vec<(&String, &Value)> {
        docs.iter()
            .filter(|(_, d)| at(d, "kind").as_str() == Some(kind))
            .map(|entry| (&entry.0, &entry.1))
            .collect()
    };
    let named = |kind: &str, name: &str| -> Option<&Value> {
        of_kind(kind)
            .into_iter()
            .map(|(_, d)| d)
            .find(|d| at(d, "metadata.name").as_str() == Some(name))
    };
    assert!(
        named("Namespace", &namespace).is_some(),
        "the namespace manifest"
    );

    let secret_keys = |name: &str| -> BTreeSet<String> {
        let secret = named("Secret", name).unwrap_or_else(|| panic!("no Secret {name}"));
        at(secret, "stringData")
            .as_object()
            .into_iter()
            .chain(at(secret, "data").as_object())
            .flat_map(|m| m.keys().cloned())
            .collect()
    };
    let allowed = documented_settings();
    let config_maps: BTreeMap<String, BTreeMap<String, String>> = of_kind("ConfigMap")
        .into_iter()
        .map(|(_, d)| {
            (
                str_at(d, "metadata.name", "ConfigMap").to_string(),
                at(d, "data")
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
        .collect();
    for (name, data) in &config_maps {
        for key in data.keys() {
            assert!(
                allowed.contains(key),
                "ConfigMap {name}: {key} is not a documented setting"
            );
        }
    }

    let deployments = of_kind("Deployment");
    let deployment_names: BTreeSet<&str> = deployments
        .iter()
        .map(|(_, d)| at(d, "metadata.name").as_str().unwrap_or_default())
        .collect();
    assert_eq!(deployment_names, BTreeSet::from(["scheduler", "worker"]));
    let mut pod_labels: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for (what, d) in &deployments {
        let name = str_at(d, "metadata.name", what).to_string();
        let labels = at(d, "spec.template.metadata.labels")
            .as_object()
            .unwrap_or_else(|| panic!("{what}: pod labels"))
            .clone();
        let selector = at(d, "spec.selector.matchLabels")
            .as_object()
            .unwrap_or_else(|| panic!("{what}: selector"));
        for (k, v) in selector {
            assert_eq!(
                labels.get(k),
                Some(v),
                "{what}: the selector must match the pod labels"
            );
        }
        let pod = at(d, "spec.template.spec");
        let grace = number(at(pod, "terminationGracePeriodSeconds"))
            .unwrap_or_else(|| panic!("{what}: terminationGracePeriodSeconds"));
        assert!(
            grace > 60.0,
            "{what}: terminationGracePeriodSeconds must exceed 60"
        );
        assert_eq!(
            at(pod, "securityContext.runAsNonRoot"),
            &Value::Bool(true),
            "{what}: runAsNonRoot"
        );
        let containers = list_at(pod, "containers", what);
        assert_eq!(containers.len(), 1, "{what}: one container");
        let c = &containers[0];
        assert!(
            image_names.contains(str_at(c, "image", what)),
            "{what}: image set by kustomization"
        );
        assert_eq!(
            at(c, "securityContext.allowPrivilegeEscalation"),
            &Value::Bool(false)
        );
        for r in ["requests.cpu", "requests.memory", "limits.memory"] {
            str_at(c, &format!("resources.{r}"), what);
        }
        let ports: BTreeMap<String, f64> = list_at(c, "ports", what)
            .iter()
            .map(|p| {
                (
                    at(p, "name").as_str().unwrap_or_default().to_string(),
                    number(at(p, "containerPort")).expect("containerPort"),
                )
            })
            .collect();
        let probe_port = |probe: &str| -> f64 {
            let port = at(c, &format!("{probe}.httpGet.port"));
            number(port)
                .or_else(|| port.as_str().and_then(|n| ports.get(n).copied()))
                .unwrap_or_else(|| panic!("{what}: {probe} port"))
        };
        assert_eq!(
            at(c, "readinessProbe.httpGet.path").as_str(),
            Some("/readyz"),
            "{what}"
        );
        assert_eq!(
            at(c, "livenessProbe.httpGet.path").as_str(),
            Some("/healthz"),
            "{what}"
        );

        let mut env = BTreeMap::new();
        for e in at(c, "env").as_array().into_iter().flatten() {
            let key = str_at(e, "name", what).to_string();
            assert!(
                allowed.contains(&key),
                "{what}: {key} is not a documented setting"
            );
            if let Some(secret) = at(e, "valueFrom.secretKeyRef.name").as_str() {
                let k = str_at(e, "valueFrom.secretKeyRef.key", what);
                assert!(
                    secret_keys(secret).contains(k),
                    "{what}: Secret {secret} has no key {k}"
                );
            }
            assert!(
                env.insert(key.clone(), at(e, "value").clone()).is_none(),
                "{what}: {key} twice"
            );
        }
        for source in at(c, "envFrom").as_array().into_iter().flatten() {
            if let Some(cm) = at(source, "configMapRef.name").as_str() {
                assert!(config_maps.contains_key(cm), "{what}: no ConfigMap {cm}");
            }
        }
        let annotations = at(d, "spec.template.metadata.annotations");
        assert_eq!(
            annotations
                .get("prometheus.io/scrape")
                .unwrap_or(&Value::Null)
                .as_str(),
            Some("true"),
            "{what}"
        );
        let scrape_port = number(
            annotations
                .get("prometheus.io/port")
                .unwrap_or(&Value::Null),
        )
        .expect("scrape port");
        assert_eq!(
            annotations
                .get("prometheus.io/path")
                .unwrap_or(&Value::Null)
                .as_str(),
            Some("/metrics"),
            "{what}"
        );

        match name.as_str() {
            "scheduler" => {
                assert_eq!(strings(at(c, "command")), ["scheduler", "serve"]);
                assert_eq!(
                    number(at(d, "spec.replicas")),
                    Some(2.0),
                    "scheduler: 2 replicas"
                );
                assert_eq!(
                    env.get("FLEET_API_LISTEN").and_then(Value::as_str),
                    Some("0.0.0.0:8080")
                );
                assert_eq!(
                    (probe_port("readinessProbe"), probe_port("livenessProbe")),
                    (8080.0, 8080.0)
                );
                assert_eq!(scrape_port, 8080.0);
                assert!(env.contains_key("FLEET_OPERATOR_TOKEN"));
            }
            "worker" => {
                assert_eq!(strings(at(c, "command")), ["worker"]);
                assert!(
                    at(d, "spec.replicas").is_null(),
                    "worker: KEDA owns the replica count"
                );
                assert_eq!(
                    env.get("FLEET_METRICS_LISTEN").and_then(Value::as_str),
                    Some("0.0.0.0:9090")
                );
                assert_eq!(
                    (probe_port("readinessProbe"), probe_port("livenessProbe")),
                    (9090.0, 9090.0)
                );
                assert_eq!(scrape_port, 9090.0);
                assert!(
                    !env.contains_key("FLEET_OPERATOR_TOKEN"),
                    "workers do not need the operator token"
                );
                let shutdown = env
                    .get("FLEET_SHUTDOWN_GRACE_SECS")
                    .and_then(number)
                    .unwrap_or(60.0);
                assert!(
                    grace > shutdown + 10.0,
                    "worker: grace period must exceed FLEET_SHUTDOWN_GRACE_SECS with margin"
                );
                let job_bound = env
                    .get("FLEET_JOB_TIMEOUT_SECS")
                    .and_then(number)
                    .unwrap_or(1200.0);
                assert!(
                    shutdown >= job_bound && grace > job_bound,
                    "worker: termination must outlast a job's bound (FLEET_JOB_TIMEOUT_SECS)"
                );
            }
            _ => unreachable!(),
        }
        for key in ["FLEET_AMQP_URL", "FLEET_REDIS_URL", "FLEET_SECRET_KEYS"] {
            assert!(env.contains_key(key), "{what}: {key}");
        }
        pod_labels.insert(name, labels);
    }
    let selects = |selector: &Value| -> Vec<String> {
        let selector = selector.as_object().expect("selector");
        pod_labels
            .iter()
            .filter(|(_, labels)| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
            .map(|(n, _)| n.clone())
            .collect()
    };

    let services = of_kind("Service");
    assert!(!services.is_empty(), "the scheduler's Service");
    for (what, s) in services {
        assert_eq!(
            selects(at(s, "spec.selector")),
            ["scheduler"],
            "{what}: selects the scheduler"
        );
        for port in list_at(s, "spec.ports", what) {
            let target = at(port, "targetPort");
            assert!(
                target.as_str() == Some("http") || number(target) == Some(8080.0),
                "{what}: targetPort"
            );
        }
    }
    let mut protected = BTreeSet::new();
    for (what, pdb) in of_kind("PodDisruptionBudget") {
        assert_eq!(at(pdb, "apiVersion").as_str(), Some("policy/v1"), "{what}");
        let selected = selects(at(pdb, "spec.selector.matchLabels"));
        assert_eq!(selected.len(), 1, "{what}: selects one Deployment");
        assert!(
            !at(pdb, "spec.minAvailable").is_null() || !at(pdb, "spec.maxUnavailable").is_null(),
            "{what}: minAvailable or maxUnavailable"
        );
        protected.extend(selected);
    }
    assert_eq!(
        protected,
        BTreeSet::from(["scheduler".to_string(), "worker".to_string()])
    );

    let auths: BTreeSet<String> = of_kind("TriggerAuthentication")
        .into_iter()
        .map(|(what, a)| {
            let refs = list_at(a, "spec.secretTargetRef", what);
            assert!(
                refs.iter()
                    .any(|r| at(r, "parameter").as_str() == Some("host")),
                "{what}: host"
            );
            for r in refs {
                let (secret, key) = (str_at(r, "name", what), str_at(r, "key", what));
                assert!(
                    secret_keys(secret).contains(key),
                    "{what}: Secret {secret} has no key {key}"
                );
            }
            str_at(a, "metadata.name", what).to_string()
        })
        .collect();
    let scaled = of_kind("ScaledObject");
    assert_eq!(scaled.len(), 1, "one ScaledObject");
    let (what, so) = scaled[0];
    assert_eq!(
        at(so, "spec.scaleTargetRef.name").as_str(),
        Some("worker"),
        "{what}"
    );
    let (min, max) = (
        number(at(so, "spec.minReplicaCount")).expect("minReplicaCount"),
        number(at(so, "spec.maxReplicaCount")).expect("maxReplicaCount"),
    );
    assert!(min >= 1.0 && max > min, "{what}: min {min}, max {max}");
    let worker = named("Deployment", "worker").expect("worker");
    let concurrency = list_at(
        &list_at(worker, "spec.template.spec.containers", "worker")[0],
        "env",
        "worker",
    )
    .iter()
    .find(|e| at(e, "name").as_str() == Some("FLEET_WORKER_CONCURRENCY"))
    .and_then(|e| number(at(e, "value")))
    .unwrap_or(4.0);
    let triggers = list_at(so, "spec.triggers", what);
    assert!(!triggers.is_empty());
    let mut queues_covered = String::new();
    for trigger in triggers {
        assert_eq!(at(trigger, "type").as_str(), Some("rabbitmq"), "{what}");
        let m = at(trigger, "metadata");
        assert_eq!(at(m, "mode").as_str(), Some("QueueLength"), "{what}: mode");
        assert_eq!(
            at(m, "protocol").as_str(),
            Some("http"),
            "{what}: protocol http counts unacked jobs"
        );
        assert_ne!(
            at(m, "excludeUnacknowledged").as_str(),
            Some("true"),
            "{what}: count unacked jobs"
        );
        assert_eq!(
            number(at(m, "value")),
            Some(concurrency),
            "{what}: value = FLEET_WORKER_CONCURRENCY"
        );
        if at(m, "useRegex").as_str() == Some("true") {
            assert_eq!(
                at(m, "operation").as_str(),
                Some("sum"),
                "{what}: sum the job queues"
            );
        }
        queues_covered.push_str(str_at(m, "queueName", what));
        let auth = str_at(trigger, "authenticationRef.name", what);
        assert!(
            auths.contains(auth),
            "{what}: no TriggerAuthentication {auth}"
        );
    }
    for queue in ["ondemand", "scheduled"] {
        assert!(
            queues_covered.contains(queue),
            "{what}: scales on scan.jobs.{queue}"
        );
    }
    assert!(
        !queues_covered.contains("dead"),
        "{what}: dead letters are no work"
    );
}

// ------------------------------------------------------------------------------------------
// Dockerfile

#[test]
fn dockerfile_builds_the_three_binaries_into_a_non_root_runtime() {
    let dockerfile = read(&deploy().join("Dockerfile"));
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "multi-stage: builder and runtime");
    assert!(froms[0].starts_with("FROM rust:"), "builder: {}", froms[0]);
    assert!(
        froms[1].starts_with("FROM debian:") && froms[1].contains("-slim"),
        "runtime: {}",
        froms[1]
    );
    assert!(dockerfile.contains("cargo build --release --locked --bins"));
    assert!(
        dockerfile.contains("--mount=type=cache"),
        "dependencies are cached between builds"
    );
    for binary in ["scheduler", "worker", "azure-emulator"] {
        assert!(
            dockerfile.contains(&format!("target/release/{binary}")),
            "copies {binary}"
        );
    }
    assert!(dockerfile.contains("ca-certificates"));
    assert!(
        !lines.iter().any(|l| l.starts_with("ENTRYPOINT")),
        "compose and k8s choose the binary"
    );
    let user = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("USER");
    assert!(
        !matches!(user[5..].split(':').next(), Some("root" | "0")),
        "non-root: {user}"
    );
    // Every COPY from the context exists.
    for line in lines
        .iter()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
    {
        let parts: Vec<&str> = line
            .split_whitespace()
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .collect();
        for source in &parts[..parts.len() - 1] {
            assert!(
                root().join(source).exists(),
                "Dockerfile copies missing {source}"
            );
        }
    }
    let probe = deploy().join("docker/fleet-probe");
    assert!(read(&probe).starts_with("#!/bin/bash"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&probe)
            .expect("fleet-probe")
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "fleet-probe is executable");
    }
    let ignore = read(&deploy().join("Dockerfile.dockerignore"));
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    for must in ["**/target", ".git"] {
        assert!(
            patterns.contains(&must),
            "Dockerfile.dockerignore excludes {must}"
        );
    }
    if patterns.contains(&"deploy") {
        assert!(
            patterns.contains(&"!deploy/docker"),
            "the probe script stays in the context"
        );
    }
}
