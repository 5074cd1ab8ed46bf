//! Metrics in CloudWatch's Embedded Metric Format (EMF): JSON lines on stdout that CloudWatch Logs turns into
//! metrics, so nothing is called on the request path (no `PutMetricData`, no permission beyond the logs').
//!
//! Written by hand rather than with `metrics_cloudwatch_embedded` (0.10): that crate writes one dimension set per
//! document (we need `[Function]` and `[Function, Tenant]` side by side), stamps documents with the system
//! time (ours come from the injected [`Clock`]), and records into a process-global recorder, so that tests of
//! different handlers running in one process would see each other's metrics.
//!
//! How it works: a handler runs inside [`MetricsEmitter::invocation`], which gives the invocation a fresh batch
//! (a tokio task-local). Code anywhere below records into it with [`count`], [`add`] and [`record_millis`]; outside
//! an invocation (the CLI, a test without an emitter) those are no-ops. When the invocation ends its batch is
//! written: one EMF document per tenant seen (and one for what no tenant was known for), each a single line
//! written with one `write_all` on the locked stdout, as the JSON tracing logs are, so the two never interleave
//! within a line.
//!
//! The metrics (namespace `TESSERA_METRICS_NAMESPACE`, default `Tessera`; every name is stable):
//!
//! | name | unit | what |
//! |---|---|---|
//! | `TokensIssued.<Grant>.<Format>` | Count | access tokens issued, by grant (`ClientCredentials`, `RefreshToken`, `TokenExchange`) and format (`Jwt`, `Opaque`) |
//! | `IntrospectionsActive`, `IntrospectionsInactive` | Count | introspection answers |
//! | `Revocations.Token` | Count | tokens revoked at `/oauth2/revoke` (a denylisted `jti`, a revoked record, an external token) |
//! | `Revocations.Family` | Count | families revoked: refresh reuse, or the revocation of a refresh token |
//! | `Revocations.Subject`, `Revocations.Client`, `Revocations.Tenant` | Count | watermarks raised by revocation events (subjects also by Shared Signals events, `events::ssf`) |
//! | `RefreshReuseDetected` | Count | a spent refresh token presented again (a likely theft) |
//! | `RevocationAnnouncementFailures` | Count | revocations committed but not announced on EventBridge ([`crate::announcement`]); a revocation event is retried, an HTTP revocation is not |
//! | `ClientAuthenticationFailures` | Count | `invalid_client` answers: unknown client, wrong secret, disabled client, a refused or replayed `private_key_jwt` assertion |
//! | `StoreLatency.<Operation>` | Milliseconds | each store call (`GetMany`, `PutNew`, `PutNewAll`, `MarkRevoked`, `Rotate`, `RaiseWatermark`, `PutUserDetails`) |
//! | `StoreThrottles` | Count | store calls DynamoDB throttled, after the SDK's retries |
//! | `StoreErrors` | Count | other failed store calls (unreachable, timed out, rejected, corrupt); a failed condition is an outcome, not an error |
//! | `KeyRereadFailures` | Count | failed re-reads of the signing-key document |
//! | `ReadPlanCacheHits`, `ReadPlanCacheMisses` | Count | items a decision took from the read plan's cache, or had to read (only when B > 0) |
//!
//! Dimensions: `Function` (`AWS_LAMBDA_FUNCTION_NAME`) on every metric, and `Tenant` beside it for what a served
//! tenant's request recorded, so every metric has a `[Function]` rollup that alarms use and a
//! `[Function, Tenant]` breakdown. A tenant becomes a dimension only once the deployment has resolved it as one
//! it serves ([`served_tenant`], called by [`crate::TokenService::tenant`]; events pass theirs after the same
//! check): a tenant path nobody serves adds no dimension. Never a token, secret, client id or subject: grant and
//! format are in the metric names, from fixed sets.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::domain::client::{GrantType, TokenFormat};
use crate::domain::tenant::TenantId;

/// The namespace when `TESSERA_METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "Tessera";

/// EMF's limit on the values of one metric in one document; more go into further documents.
const MAX_VALUES_PER_DOCUMENT: usize = 100;

/// One metric Tessera emits ([module docs](self) for the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// An access token issued with a grant, in a format.
    TokensIssued(GrantType, TokenFormat),
    /// An introspection answered `active: true`.
    IntrospectionsActive,
    /// An introspection answered `active: false`.
    IntrospectionsInactive,
    /// A revocation, by what it revoked.
    Revocations(RevocationKind),
    /// A refresh token presented after its rotation.
    RefreshReuseDetected,
    /// A revocation that could not be announced ([`crate::announcement`]).
    RevocationAnnouncementFailures,
    /// A client that failed to authenticate.
    ClientAuthenticationFailures,
    /// How long one store call took.
    StoreLatency(StoreOperation),
    /// A store call throttled.
    StoreThrottles,
    /// A store call that failed otherwise.
    StoreErrors,
    /// A failed re-read of the signing-key document.
    KeyRereadFailures,
    /// An item a decision took from the read plan's cache.
    ReadPlanCacheHits,
    /// An item a decision read from the store although the read plan keeps a cache.
    ReadPlanCacheMisses,
}

/// What a revocation revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RevocationKind {
    /// One token (`/oauth2/revoke`).
    Token,
    /// A refresh token's family (reuse, or its revocation).
    Family,
    /// Every token of a subject (an event).
    Subject,
    /// Every token of a client (an event).
    Client,
    /// Every token of a tenant (an event).
    Tenant,
}

/// A [`crate::store::TokenStore`] operation, as `StoreLatency.<Operation>` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StoreOperation {
    /// `get_many` (BatchGetItem).
    GetMany,
    /// `put_new` (a conditional PutItem).
    PutNew,
    /// `put_new_all` (TransactWriteItems).
    PutNewAll,
    /// `mark_revoked` (a conditional UpdateItem).
    MarkRevoked,
    /// `rotate` (TransactWriteItems).
    Rotate,
    /// `raise_watermark` (UpdateItem, or TransactWriteItems for an event).
    RaiseWatermark,
    /// `put_user_details` (a conditional PutItem).
    PutUserDetails,
}

/// A CloudWatch unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `Count`.
    Count,
    /// `Milliseconds`.
    Milliseconds,
}

impl Unit {
    /// The unit's EMF name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

impl Metric {
    /// The metric's name in CloudWatch. Stable: dashboards and alarms name it.
    pub const fn name(self) -> &'static str {
        use GrantType::{ClientCredentials, RefreshToken, TokenExchange};
        use TokenFormat::{Jwt, Opaque};
        match self {
            Self::TokensIssued(ClientCredentials, Jwt) => "TokensIssued.ClientCredentials.Jwt",
            Self::TokensIssued(ClientCredentials, Opaque) => "TokensIssued.ClientCredentials.Opaque",
            Self::TokensIssued(RefreshToken, Jwt) => "TokensIssued.RefreshToken.Jwt",
            Self::TokensIssued(RefreshToken, Opaque) => "TokensIssued.RefreshToken.Opaque",
            Self::TokensIssued(TokenExchange, Jwt) => "TokensIssued.TokenExchange.Jwt",
            Self::TokensIssued(TokenExchange, Opaque) => "TokensIssued.TokenExchange.Opaque",
            Self::IntrospectionsActive => "IntrospectionsActive",
            Self::IntrospectionsInactive => "IntrospectionsInactive",
            Self::Revocations(RevocationKind::Token) => "Revocations.Token",
            Self::Revocations(RevocationKind::Family) => "Revocations.Family",
            Self::Revocations(RevocationKind::Subject) => "Revocations.Subject",
            Self::Revocations(RevocationKind::Client) => "Revocations.Client",
            Self::Revocations(RevocationKind::Tenant) => "Revocations.Tenant",
            Self::RefreshReuseDetected => "RefreshReuseDetected",
            Self::RevocationAnnouncementFailures => "RevocationAnnouncementFailures",
            Self::ClientAuthenticationFailures => "ClientAuthenticationFailures",
            Self::StoreLatency(StoreOperation::GetMany) => "StoreLatency.GetMany",
            Self::StoreLatency(StoreOperation::PutNew) => "StoreLatency.PutNew",
            Self::StoreLatency(StoreOperation::PutNewAll) => "StoreLatency.PutNewAll",
            Self::StoreLatency(StoreOperation::MarkRevoked) => "StoreLatency.MarkRevoked",
            Self::StoreLatency(StoreOperation::Rotate) => "StoreLatency.Rotate",
            Self::StoreLatency(StoreOperation::RaiseWatermark) => "StoreLatency.RaiseWatermark",
            Self::StoreLatency(StoreOperation::PutUserDetails) => "StoreLatency.PutUserDetails",
            Self::StoreThrottles => "StoreThrottles",
            Self::StoreErrors => "StoreErrors",
            Self::KeyRereadFailures => "KeyRereadFailures",
            Self::ReadPlanCacheHits => "ReadPlanCacheHits",
            Self::ReadPlanCacheMisses => "ReadPlanCacheMisses",
        }
    }

    /// The metric's unit.
    pub const fn unit(self) -> Unit {
        match self {
            Self::StoreLatency(_) => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }
}

/// What one invocation recorded, by tenant (`None`: before or without a served tenant).
#[derive(Debug, Default)]
struct Batch {
    /// The tenant [`count`] and [`record_millis`] record under.
    current: Option<TenantId>,
    values: BTreeMap<Option<TenantId>, BTreeMap<&'static str, Recorded>>,
}

#[derive(Debug)]
enum Recorded {
    Count(f64),
    Samples(Vec<f64>),
}

impl Batch {
    fn record(&mut self, tenant: Option<TenantId>, metric: Metric, value: f64) {
        let entry = self.values.entry(tenant).or_default();
        match metric.unit() {
            Unit::Count => match entry.entry(metric.name()).or_insert(Recorded::Count(0.0)) {
                Recorded::Count(total) => *total += value,
                Recorded::Samples(samples) => samples.push(value),
            },
            Unit::Milliseconds => match entry.entry(metric.name()).or_insert(Recorded::Samples(Vec::new())) {
                Recorded::Samples(samples) => samples.push(value),
                Recorded::Count(total) => *total += value,
            },
        }
    }
}

tokio::task_local! {
    static INVOCATION: Arc<Mutex<Batch>>;
}

fn with_batch(record: impl FnOnce(&mut Batch)) {
    let _ = INVOCATION.try_with(|batch| {
        if let Ok(mut batch) = batch.lock() {
            record(&mut batch);
        }
    });
}

/// Counts one `metric` for the invocation, under its served tenant if one is known.
pub fn count(metric: Metric) {
    add(metric, 1);
}

/// Counts `n` of `metric` for the invocation, under its served tenant if one is known.
pub fn add(metric: Metric, n: u64) {
    if n > 0 {
        with_batch(|batch| {
            let tenant = batch.current.clone();
            batch.record(tenant, metric, n as f64);
        });
    }
}

/// Counts one `metric` under `tenant`, which the caller has checked is served (revocation events, several
/// tenants to a batch).
pub fn count_for_served(metric: Metric, tenant: &TenantId) {
    with_batch(|batch| batch.record(Some(tenant.clone()), metric, 1.0));
}

/// Records a duration of `metric` (a `Milliseconds` metric), under the invocation's served tenant if known.
pub fn record_duration(metric: Metric, elapsed: Duration) {
    with_batch(|batch| {
        let tenant = batch.current.clone();
        batch.record(tenant, metric, elapsed.as_secs_f64() * 1000.0);
    });
}

/// Marks `tenant` as the invocation's tenant: what is recorded from now on gets a `Tenant` dimension. Only for a
/// tenant the deployment serves (called where the lookup succeeded).
pub fn served_tenant(tenant: &TenantId) {
    with_batch(|batch| batch.current = Some(tenant.clone()));
}

/// Where EMF documents go.
#[derive(Clone, Default)]
pub enum MetricsSink {
    /// Nowhere: nothing is recorded (the `tessera` command's default; stdout is its output).
    #[default]
    Off,
    /// Standard output, one line per document: Lambda.
    Stdout,
    /// Standard error (`TESSERA_METRICS=stderr` for the local runner).
    Stderr,
    /// A buffer, one string per document: tests.
    Memory(Arc<Mutex<Vec<String>>>),
}

impl MetricsSink {
    /// The sink `TESSERA_METRICS` (`setting`) asks for: `stdout` by default in Lambda, `off` elsewhere; stdout
    /// becomes stderr where stdout is not allowed (the `tessera` command's output).
    fn chosen(setting: Option<&str>, in_lambda: bool, stdout_allowed: bool) -> Self {
        match setting {
            Some("off") => Self::Off,
            Some("stderr") => Self::Stderr,
            Some("stdout") if stdout_allowed => Self::Stdout,
            Some("stdout") => Self::Stderr,
            Some(other) => {
                tracing::warn!(value = other, "TESSERA_METRICS is not stdout, stderr or off: metrics are off");
                Self::Off
            }
            None if in_lambda && stdout_allowed => Self::Stdout,
            None => Self::Off,
        }
    }
}

impl std::fmt::Debug for MetricsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Off => "Off",
            Self::Stdout => "Stdout",
            Self::Stderr => "Stderr",
            Self::Memory(_) => "Memory",
        })
    }
}

/// Writes each invocation's metrics as EMF documents: namespace, the `Function` dimension's value, the sink and
/// the clock that stamps them. Built once at init.
pub struct MetricsEmitter {
    namespace: String,
    function: String,
    sink: MetricsSink,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MetricsEmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsEmitter")
            .field("namespace", &self.namespace)
            .field("function", &self.function)
            .field("sink", &self.sink)
            .finish()
    }
}

impl MetricsEmitter {
    /// An emitter writing to `sink`.
    pub fn new(
        namespace: impl Into<String>,
        function: impl Into<String>,
        sink: MetricsSink,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { namespace: namespace.into(), function: function.into(), sink, clock }
    }

    /// An emitter that records nothing.
    pub fn off(clock: Arc<dyn Clock>) -> Self {
        Self::new(DEFAULT_NAMESPACE, "", MetricsSink::Off, clock)
    }

    /// From the environment: `TESSERA_METRICS` (`stdout`, `stderr` or `off`; default `stdout` in Lambda, where
    /// `AWS_LAMBDA_FUNCTION_NAME` is set, and `off` elsewhere), `TESSERA_METRICS_NAMESPACE` (default `Tessera`),
    /// and `AWS_LAMBDA_FUNCTION_NAME` for the `Function` dimension (`local` outside Lambda). With
    /// `stdout_allowed` false (the `tessera` command, whose stdout is its output) `stdout` means stderr.
    pub fn from_env(clock: Arc<dyn Clock>, stdout_allowed: bool) -> Self {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let function = var("AWS_LAMBDA_FUNCTION_NAME");
        let sink = MetricsSink::chosen(var("TESSERA_METRICS").as_deref(), function.is_some(), stdout_allowed);
        let namespace = var("TESSERA_METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        Self::new(namespace, function.unwrap_or_else(|| "local".to_owned()), sink, clock)
    }

    /// Whether anything is recorded.
    pub fn is_on(&self) -> bool {
        !matches!(self.sink, MetricsSink::Off)
    }

    /// Runs one invocation with a fresh batch, then writes what it recorded. Off: just runs it.
    pub async fn invocation<F: Future>(&self, invocation: F) -> F::Output {
        if !self.is_on() {
            return invocation.await;
        }
        let batch = Arc::new(Mutex::new(Batch::default()));
        let output = INVOCATION.scope(batch.clone(), invocation).await;
        let batch = std::mem::take(&mut *batch.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        self.write(batch);
        output
    }

    fn write(&self, batch: Batch) {
        let timestamp = self.clock.now().as_micros() / 1000;
        for (tenant, values) in batch.values {
            for document in self.documents(tenant.as_ref(), values, timestamp) {
                let mut line = document.to_string();
                line.push('\n');
                match &self.sink {
                    MetricsSink::Off => {}
                    // One write of the whole line on the locked handle: a log line cannot land inside it.
                    MetricsSink::Stdout => drop(std::io::stdout().lock().write_all(line.as_bytes())),
                    MetricsSink::Stderr => drop(std::io::stderr().lock().write_all(line.as_bytes())),
                    MetricsSink::Memory(lines) => {
                        if let Ok(mut lines) = lines.lock() {
                            lines.push(line);
                        }
                    }
                }
            }
        }
    }

    /// The EMF documents of one tenant's values: one, or more when a metric has more than 100 values.
    fn documents(
        &self,
        tenant: Option<&TenantId>,
        values: BTreeMap<&'static str, Recorded>,
        timestamp: u64,
    ) -> Vec<Value> {
        let mut documents: Vec<Map<String, Value>> = Vec::new();
        let mut definitions: Vec<Vec<Value>> = Vec::new();
        for (name, recorded) in values {
            let (unit, chunks): (&str, Vec<Value>) = match recorded {
                Recorded::Count(total) => (Unit::Count.as_str(), vec![json!(total)]),
                Recorded::Samples(samples) => (
                    Unit::Milliseconds.as_str(),
                    samples.chunks(MAX_VALUES_PER_DOCUMENT).map(|chunk| json!(chunk)).collect(),
                ),
            };
            for (at, value) in chunks.into_iter().enumerate() {
                if documents.len() <= at {
                    documents.push(Map::new());
                    definitions.push(Vec::new());
                }
                documents[at].insert(name.to_owned(), value);
                definitions[at].push(json!({"Name": name, "Unit": unit}));
            }
        }
        let dimensions = match tenant {
            Some(_) => json!([["Function"], ["Function", "Tenant"]]),
            None => json!([["Function"]]),
        };
        documents
            .into_iter()
            .zip(definitions)
            .map(|(mut document, metrics)| {
                document.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": timestamp,
                        "CloudWatchMetrics": [{
                            "Namespace": self.namespace,
                            "Dimensions": dimensions,
                            "Metrics": metrics,
                        }],
                    }),
                );
                document.insert("Function".into(), json!(self.function));
                if let Some(tenant) = tenant {
                    document.insert("Tenant".into(), json!(tenant.as_str()));
                }
                Value::Object(document)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::domain::time::Timestamp;

    /// Every metric Tessera emits.
    fn every_metric() -> Vec<Metric> {
        use GrantType::{ClientCredentials, RefreshToken, TokenExchange};
        use StoreOperation::{GetMany, MarkRevoked, PutNew, PutNewAll, PutUserDetails, RaiseWatermark, Rotate};
        let mut every = Vec::new();
        for grant in [ClientCredentials, RefreshToken, TokenExchange] {
            every.extend([TokenFormat::Jwt, TokenFormat::Opaque].map(|format| Metric::TokensIssued(grant, format)));
        }
        let kinds = [RevocationKind::Token, RevocationKind::Family, RevocationKind::Subject, RevocationKind::Client];
        every.extend(kinds.into_iter().chain([RevocationKind::Tenant]).map(Metric::Revocations));
        let operations = [GetMany, PutNew, PutNewAll, MarkRevoked, Rotate, RaiseWatermark, PutUserDetails];
        every.extend(operations.map(Metric::StoreLatency));
        every.extend([
            Metric::IntrospectionsActive,
            Metric::IntrospectionsInactive,
            Metric::RefreshReuseDetected,
            Metric::RevocationAnnouncementFailures,
            Metric::ClientAuthenticationFailures,
            Metric::StoreThrottles,
            Metric::StoreErrors,
            Metric::KeyRereadFailures,
            Metric::ReadPlanCacheHits,
            Metric::ReadPlanCacheMisses,
        ]);
        every
    }

    /// Issue 22: a deployed stack shows its dashboard and alarms with no manual step. A metric name in
    /// `template.yaml` that Tessera does not emit would lint clean and show nothing (or never alarm), so every name
    /// the dashboard and the alarms read from `MetricsNamespace` is one [`Metric::name`] gives; and every alarm
    /// notifies `AlarmTopicArn` when it is set.
    #[test]
    fn the_templates_dashboard_and_alarms_read_emitted_metrics_and_notify_the_topic() {
        let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
        let emitted: Vec<&str> = every_metric().into_iter().map(Metric::name).collect();
        let on_dashboard =
            template.split(r#"["${MetricsNamespace}",""#).skip(1).filter_map(|rest| rest.split('"').next());
        let lines: Vec<&str> = template.lines().map(str::trim).collect();
        let alarmed = lines
            .windows(2)
            .filter(|pair| pair[0] == "Namespace: !Ref MetricsNamespace")
            .map(|pair| pair[1].strip_prefix("MetricName: ").expect("MetricName after Namespace"));
        let read: Vec<&str> = on_dashboard.chain(alarmed).collect();
        assert!(read.len() > 40, "the parse finds the dashboard's and the alarms' metrics: {}", read.len());
        for name in &read {
            assert!(emitted.contains(name), "template.yaml reads {name}, which Tessera never emits");
        }

        // Each alarm resource: its `Type` line, then its indented properties up to the next resource.
        let raw: Vec<&str> = template.lines().collect();
        let mut alarms = 0;
        for (at, line) in raw.iter().enumerate() {
            if line.trim() != "Type: AWS::CloudWatch::Alarm" {
                continue;
            }
            alarms += 1;
            let name = raw[at - 1].trim();
            let block: Vec<&str> =
                raw[at + 1..].iter().copied().take_while(|l| l.is_empty() || l.starts_with("    ")).collect();
            let notifies = "AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]";
            assert!(block.iter().any(|l| l.trim() == notifies), "{name} does not notify AlarmTopicArn");
        }
        assert!(alarms >= 13, "every alarm issue 22 asks for, and the DLQ's: {alarms}");
    }

    fn emitter() -> (MetricsEmitter, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let clock = Arc::new(FixedClock::at(Timestamp::from_secs(1_700_000_000)));
        (MetricsEmitter::new("Test", "fn-1", MetricsSink::Memory(lines.clone()), clock), lines)
    }

    fn parsed(lines: &Arc<Mutex<Vec<String>>>) -> Vec<Value> {
        lines.lock().unwrap().iter().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[tokio::test]
    async fn an_invocation_writes_one_document_per_tenant_with_both_dimension_sets() {
        let (emitter, lines) = emitter();
        let tenant = TenantId::parse("acme").unwrap();
        emitter
            .invocation(async {
                count(Metric::StoreErrors);
                served_tenant(&tenant);
                count(Metric::IntrospectionsActive);
                count(Metric::IntrospectionsActive);
                record_duration(Metric::StoreLatency(StoreOperation::GetMany), Duration::from_micros(2500));
            })
            .await;
        let docs = parsed(&lines);
        assert_eq!(docs.len(), 2);
        let untenanted = &docs[0];
        assert_eq!(untenanted["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function"]]));
        assert_eq!(untenanted["StoreErrors"], json!(1.0));
        assert!(untenanted.get("Tenant").is_none());
        let acme = &docs[1];
        assert_eq!(acme["_aws"]["Timestamp"], json!(1_700_000_000_000u64));
        assert_eq!(acme["_aws"]["CloudWatchMetrics"][0]["Namespace"], json!("Test"));
        assert_eq!(acme["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function"], ["Function", "Tenant"]]));
        assert_eq!((acme["Function"].as_str(), acme["Tenant"].as_str()), (Some("fn-1"), Some("acme")));
        assert_eq!(acme["IntrospectionsActive"], json!(2.0));
        assert_eq!(acme["StoreLatency.GetMany"], json!([2.5]));
        let units: Vec<_> = acme["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().clone();
        assert!(units.contains(&json!({"Name": "StoreLatency.GetMany", "Unit": "Milliseconds"})));
        assert!(units.contains(&json!({"Name": "IntrospectionsActive", "Unit": "Count"})));
    }

    #[tokio::test]
    async fn more_than_a_hundred_values_spill_into_another_document_and_nothing_records_outside_an_invocation() {
        let (emitter, lines) = emitter();
        count(Metric::StoreErrors); // no invocation: dropped
        emitter
            .invocation(async {
                for _ in 0..150 {
                    record_duration(Metric::StoreLatency(StoreOperation::PutNew), Duration::from_millis(1));
                }
            })
            .await;
        let docs = parsed(&lines);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["StoreLatency.PutNew"].as_array().unwrap().len(), 100);
        assert_eq!(docs[1]["StoreLatency.PutNew"].as_array().unwrap().len(), 50);
        assert!(docs.iter().all(|d| d.get("StoreErrors").is_none()));
    }

    #[test]
    fn stdout_by_default_in_lambda_only_and_never_for_the_command() {
        let chosen = |setting, in_lambda, stdout_allowed| {
            format!("{:?}", MetricsSink::chosen(setting, in_lambda, stdout_allowed))
        };
        assert_eq!(chosen(None, true, true), "Stdout", "a function");
        assert_eq!(chosen(None, false, true), "Off", "outside Lambda");
        assert_eq!(chosen(None, true, false), "Off", "the command, even under AWS_LAMBDA_FUNCTION_NAME");
        assert_eq!(chosen(Some("stdout"), false, false), "Stderr", "the command's stdout is its output");
        assert_eq!(chosen(Some("stderr"), false, false), "Stderr");
        assert_eq!(chosen(Some("off"), true, true), "Off");
        assert_eq!(chosen(Some("loud"), true, true), "Off");
    }

    #[tokio::test]
    async fn an_emitter_that_is_off_records_nothing() {
        let emitter = MetricsEmitter::off(Arc::new(FixedClock::at(Timestamp::from_secs(1))));
        assert!(!emitter.is_on());
        assert_eq!(emitter.invocation(async { 7 }).await, 7);
    }
}
