//! `load_model [key=value …]`: what the read plan does to DynamoDB under one busy tenant, by simulation. K
//! execution environments, each a [`TokenService`] as a Lambda function holds it (its own read plan and
//! verified-token cache), share one counting store (the embedded store, every key read tallied). Requests arrive at
//! a fixed rate over simulated time (one shared pinned clock, moved forward between requests), each to an
//! environment picked at random, and go through the introspection handler exactly as Lambda runs it. For each
//! revocation bound B it prints, from the store's tally of the measured seconds:
//! - the busiest item (its kind) and its reads per second, peak 1-second window;
//! - read units per introspection: DynamoDB bills a strongly consistent read 1 RCU per item up to 4 KB, each
//!   item of a `BatchGetItem` rounded up on its own, a missing item too (every item here is under 4 KB: checked,
//!   and printed);
//! - where DynamoDB would throttle, at 3,000 RCU/s per partition (one item is on one partition);
//! - the largest item cache of any environment, against its bounds.
//!
//! The mix (every parameter printed, and each settable as `key=value`): one tenant, one resource server that
//! makes every introspection, one client that every token was issued to, `hot_tokens` tokens that take
//! `hot_share` of the introspections (a resource server introspecting the same token on each request), and a
//! pool of `cold_tokens` others, over `subjects` users, picked uniformly for the rest; `jwt_share` of each kind
//! are JWTs, the others opaque. Tokens are minted straight into the store beforehand (not measured). With
//! `user_details=1` the tenant trusts an issuer with a UserInfo endpoint, so every introspection of a user's token
//! also reads its subject's cached user details (issue 21), and each subject has such an item (five claims, as
//! OneWelcome's example shows).
//!
//! stdout: one JSON row per bound for `scripts/bench_report.py`; stderr: the parameters and the table.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use tessera::TokenService;
use tessera::clock::FixedClock;
use tessera::config::Config;
use tessera::domain::client::ClientId;
use tessera::domain::grant::Grant;
use tessera::domain::id::{FamilyId, IdTag};
use tessera::domain::revocation::WatermarkTarget;
use tessera::domain::scope::ScopeSet;
use tessera::domain::tenant::TenantId;
use tessera::domain::time::Timestamp;
use tessera::domain::token::{OpaqueToken, TokenKind, TokenRecord};
use tessera::domain::user_details::UserDetailsRecord;
use tessera::entropy::{SeededEntropy, random_bytes};
use tessera::jwt::access_token;
use tessera::jwt::keys::{KeyRing, SigningAlgorithm, SigningKey};
use tessera::service::build_service;
use tessera::store::counting::CountingStore;
use tessera::store::memory::MemoryStore;
use tessera::store::read_plan::{ITEM_CACHE_LIMITS, RevocationBound};
use tessera::store::{ItemKind, Record, StoreKey, TokenStore};
use tessera::tenancy::Sources;

const ISSUER: &str = "https://auth.example.com";
/// The demo resource server (`examples/local.toml`): every introspection is its.
const RESOURCE_SERVER: (&str, &str) = tessera_e2e::creds::RS;
/// The demo JWT client: every token is its.
const CLIENT: &str = tessera_e2e::creds::JWT.0;
/// One DynamoDB partition's read capacity.
const PARTITION_RCU: f64 = 3_000.0;
/// DynamoDB's read unit: a strongly consistent read of up to 4 KB.
const READ_UNIT_BYTES: usize = 4_096;
const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

/// The simulation's parameters.
#[derive(Debug, Clone)]
struct Mix {
    environments: usize,
    rate: u64,
    seconds: u64,
    warm_up_seconds: u64,
    hot_tokens: usize,
    hot_share: f64,
    cold_tokens: usize,
    subjects: usize,
    jwt_share: f64,
    bounds_ms: Vec<u64>,
    seed: u64,
    user_details: bool,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            environments: 50,
            rate: 100_000,
            seconds: 4,
            warm_up_seconds: 1,
            hot_tokens: 20,
            hot_share: 0.7,
            cold_tokens: 100_000,
            subjects: 20_000,
            jwt_share: 0.5,
            bounds_ms: vec![0, 100, 1_000],
            seed: 7,
            user_details: false,
        }
    }
}

impl Mix {
    fn parse(args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut mix = Self::default();
        for arg in args {
            let (key, value) = arg.split_once('=').ok_or_else(|| format!("{arg}: expected key=value"))?;
            match key {
                "environments" => mix.environments = parsed(key, value)?,
                "rate" => mix.rate = parsed(key, value)?,
                "seconds" => mix.seconds = parsed(key, value)?,
                "warm_up_seconds" => mix.warm_up_seconds = parsed(key, value)?,
                "hot_tokens" => mix.hot_tokens = parsed(key, value)?,
                "hot_share" => mix.hot_share = parsed(key, value)?,
                "cold_tokens" => mix.cold_tokens = parsed(key, value)?,
                "subjects" => mix.subjects = parsed(key, value)?,
                "jwt_share" => mix.jwt_share = parsed(key, value)?,
                "seed" => mix.seed = parsed(key, value)?,
                "user_details" => mix.user_details = parsed::<u8>(key, value)? == 1,
                "bounds_ms" => {
                    mix.bounds_ms = value.split(',').map(|b| parsed(key, b.trim())).collect::<Result<_, _>>()?
                }
                _ => return Err(format!("unknown parameter {key}")),
            }
        }
        let shares_ok = (0.0..=1.0).contains(&mix.hot_share) && (0.0..=1.0).contains(&mix.jwt_share);
        if mix.environments == 0 || mix.rate == 0 || mix.seconds <= mix.warm_up_seconds || !shares_ok {
            return Err("need environments, rate > 0, seconds > warm_up_seconds, shares within 0..1".into());
        }
        if mix.hot_tokens == 0 || mix.cold_tokens == 0 || mix.subjects == 0 {
            return Err("need hot_tokens, cold_tokens and subjects > 0".into());
        }
        Ok(mix)
    }

    fn describe(&self) -> String {
        format!(
            "{} environments; {} introspections/s for {} simulated s (the first {} s warm the caches and are not \
             counted); one tenant, one resource server ({}) making every introspection, one client ({}) holding \
             every token; {} hot tokens take {:.0} % of the introspections, the rest pick uniformly among {} cold \
             tokens of {} users; {:.0} % of each are JWTs (ES256), the rest opaque; each request goes to an \
             environment picked uniformly at random; user details from UserInfo: {}; seed {}",
            self.environments,
            self.rate,
            self.seconds,
            self.warm_up_seconds,
            RESOURCE_SERVER.0,
            CLIENT,
            self.hot_tokens,
            self.hot_share * 100.0,
            self.cold_tokens,
            self.subjects,
            self.jwt_share * 100.0,
            if self.user_details { "read for every user token" } else { "none" },
            self.seed
        )
    }
}

fn parsed<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{key}: cannot read {value:?}"))
}

/// Deterministic draws from the project's seeded generator ([`SeededEntropy`]), so a run repeats.
struct Draws(SeededEntropy);

impl Draws {
    fn next(&self) -> u64 {
        // The seeded generator never fails.
        u64::from_be_bytes(random_bytes(&self.0).unwrap_or_default())
    }

    fn below(&self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// What an item is, from its key (`<tenant>#<kind>#<id>`).
fn item_name(key: &StoreKey) -> &'static str {
    let mut parts = key.as_str().splitn(3, '#').skip(1);
    match (parts.next(), parts.next()) {
        (Some("wm"), Some("all")) => "tenant watermark",
        (Some("wm"), Some(id)) if id.starts_with("cli:") => "client watermark",
        (Some("wm"), Some(id)) if id.starts_with("sub:") => "subject watermark",
        (Some("wm"), Some(_)) => "family watermark",
        (Some(tag), _) if tag == ItemKind::Client.tag() => "caller's client record",
        (Some(tag), _) if tag == ItemKind::Token.tag() => "token record",
        (Some(tag), _) if tag == ItemKind::RevokedJti.tag() => "denylist entry",
        (Some(tag), _) if tag == ItemKind::UserDetails.tag() => "user details",
        _ => "other",
    }
}

/// The items a decision reads, in the order the breakdown prints them.
const ITEM_NAMES: [&str; 8] = [
    "caller's client record",
    "token record",
    "denylist entry",
    "family watermark",
    "subject watermark",
    "client watermark",
    "tenant watermark",
    "user details",
];

/// The test suite's configuration (the demo clients) signing with `key`, at bound `bound_ms`; with `user_details`,
/// trusting an issuer with a UserInfo endpoint (never called: introspection only reads what exchanges cached).
fn config(key: &SigningKey, bound_ms: u64, user_details: bool) -> Result<Config, String> {
    let mut config = tessera_e2e::config_with_key(key);
    config.issuer = Some(ISSUER.into());
    config.revocation_max_staleness_ms = Some(bound_ms);
    if user_details {
        let idp = tessera_e2e::issuers::cognito();
        let entry = format!("{}userinfo_endpoint = \"https://idp.example.com/userinfo\"\n", idp.toml_entry(false));
        config.trusted_issuers.extend(Config::from_toml(&entry).map_err(|e| e.to_string())?.trusted_issuers);
    }
    Ok(config)
}

/// A subject's cached user details, as OneWelcome's example shows them: five claims.
fn user_details_of(subject: &str) -> Record {
    let details = [
        ("firstName", "John"),
        ("lastName", "Doe"),
        ("phoneNumber", "0031612345678"),
        ("authenticationLevel", "1"),
        ("email", "john.doe@example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), serde_json::json!(v)))
    .collect();
    let attempt = UserDetailsRecord::attempt(
        None,
        &TenantId::default(),
        IdTag::of(subject),
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc",
        T0,
    );
    Record::UserDetails(attempt.fetched(details, T0, 86_400))
}

/// The tokens of the mix, minted straight into the store.
struct Tokens {
    hot: Vec<String>,
    cold: Vec<String>,
}

async fn mint(mix: &Mix, store: &dyn TokenStore, keys: &KeyRing, rng: &Draws) -> Result<Tokens, String> {
    let entropy = SeededEntropy::new(mix.seed);
    let client = ClientId::parse(CLIENT).map_err(|e| e.to_string())?;
    let one = |subject: usize, jwt: bool| -> Result<(String, Option<Record>), String> {
        let grant = Grant {
            tenant: TenantId::default(),
            client_id: client.clone(),
            subject: format!("user-{subject:06}"),
            username: None,
            user_details: Default::default(),
            amr: Vec::new(),
            app: Default::default(),
            scope: ScopeSet::parse("orders:read").map_err(|_| "scope")?,
            audience: vec!["https://orders.example.com".into()],
            family: FamilyId::from_bytes(random_bytes(&entropy).map_err(|e| e.to_string())?),
            issued_at: T0,
            expires_at: T0.plus_secs(3_600),
            confirmation: None,
        };
        Ok(match jwt {
            true => {
                let jti = format!("{:032x}", u128::from(rng.next()) << 64 | u128::from(rng.next()));
                (access_token::sign(&grant, ISSUER, &jti, keys).map_err(|e| e.to_string())?, None)
            }
            false => {
                let secret = random_bytes(&entropy).map_err(|e| e.to_string())?;
                let token = OpaqueToken::mint(TokenKind::AccessToken, &grant, secret);
                let record = Record::Token(TokenRecord::new(&token, grant));
                (token.expose().to_owned(), Some(record))
            }
        })
    };
    let mut tokens = Tokens { hot: Vec::new(), cold: Vec::new() };
    if mix.user_details {
        for subject in 0..mix.hot_tokens + mix.subjects {
            let record = user_details_of(&format!("user-{subject:06}"));
            store.put_new(record, T0).await.map_err(|e| e.to_string())?;
        }
    }
    for i in 0..mix.hot_tokens + mix.cold_tokens {
        let (subject, hot) = match i < mix.hot_tokens {
            true => (i, true),
            false => (mix.hot_tokens + (i - mix.hot_tokens) % mix.subjects, false),
        };
        let jwt = match hot {
            true => (i as f64) < mix.jwt_share * mix.hot_tokens as f64,
            false => ((i - mix.hot_tokens) as f64) < mix.jwt_share * mix.cold_tokens as f64,
        };
        let (token, record) = one(subject, jwt)?;
        if let Some(record) = record {
            store.put_new(record, T0).await.map_err(|e| e.to_string())?;
        }
        match hot {
            true => tokens.hot.push(token),
            false => tokens.cold.push(token),
        }
    }
    Ok(tokens)
}

/// What one bound's run measured.
struct Measured {
    bound_ms: u64,
    introspections: u64,
    read_units: u64,
    round_trips: u64,
    /// The most reads one item took in one measured second, and the kinds of the items that took that many.
    busiest: (Vec<&'static str>, u64),
    units_by_item: HashMap<&'static str, u64>,
    largest_cache: (usize, usize),
    inactive: u64,
}

impl Measured {
    fn per_introspection(&self, units: u64) -> f64 {
        units as f64 / self.introspections as f64
    }

    fn busiest_per_sec(&self) -> f64 {
        self.busiest.1 as f64
    }

    /// The busiest item's kind; several, in a fixed order, when items of several kinds tie.
    fn busiest_items(&self) -> String {
        let tied: Vec<&str> = ITEM_NAMES.iter().copied().filter(|name| self.busiest.0.contains(name)).collect();
        tied.join(", ")
    }

    /// Where the busiest item reaches a partition's capacity: B = 0 reads every item for every introspection, so
    /// at a rate; B > 0 reads a hot item about once per B per environment, whatever the rate, so at a number of
    /// environments.
    fn throttle_point(&self, mix: &Mix) -> String {
        let factor = PARTITION_RCU / self.busiest_per_sec();
        match self.bound_ms {
            0 => format!("above {:.0} introspections/s", mix.rate as f64 * factor),
            _ => format!("above {:.0} environments", mix.environments as f64 * factor),
        }
    }
}

async fn run(
    mix: &Mix,
    bound_ms: u64,
    key: &SigningKey,
    tokens: &Tokens,
    store: &Arc<CountingStore<MemoryStore>>,
) -> Result<Measured, String> {
    let clock = Arc::new(FixedClock::at(T0.plus_secs(10)));
    let config = config(key, bound_ms, mix.user_details)?;
    let mut services: Vec<TokenService> = Vec::with_capacity(mix.environments);
    for _ in 0..mix.environments {
        let store: Arc<dyn TokenStore> = store.clone();
        let service = build_service(
            store,
            &config,
            None,
            clock.clone(),
            Arc::new(SeededEntropy::new(mix.seed)),
            Sources::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
        services.push(service);
    }
    store.take();
    store.take_reads_by_key();
    let rng = Draws(SeededEntropy::new(mix.seed ^ 0x9e37_79b9_7f4a_7c15));
    let step_micros = 1_000_000 / mix.rate;
    let mut measured = Measured {
        bound_ms,
        introspections: 0,
        read_units: 0,
        round_trips: 0,
        busiest: (Vec::new(), 0),
        units_by_item: HashMap::new(),
        largest_cache: (0, 0),
        inactive: 0,
    };
    for second in 0..mix.seconds {
        let counted = second >= mix.warm_up_seconds;
        for _ in 0..mix.rate {
            clock.advance_micros(step_micros);
            let token = match rng.chance(mix.hot_share) {
                true => &tokens.hot[rng.below(tokens.hot.len())],
                false => &tokens.cold[rng.below(tokens.cold.len())],
            };
            let service = &services[rng.below(services.len())];
            let request = tessera_e2e::form_request("/oauth2/introspect", RESOURCE_SERVER, &[("token", token)]);
            let response = tessera_introspect::handle(service, request).await.map_err(|e| e.to_string())?;
            let active = response.status() == 200 && says_active(response.body().as_ref());
            if counted {
                measured.introspections += 1;
                measured.inactive += u64::from(!active);
            }
        }
        let tally = store.take_reads_by_key();
        let trips = store.take().reads as u64;
        if !counted {
            continue;
        }
        measured.round_trips += trips;
        for (key, reads) in &tally {
            let name = item_name(key);
            measured.read_units += reads;
            *measured.units_by_item.entry(name).or_default() += reads;
            if *reads > measured.busiest.1 {
                measured.busiest = (vec![name], *reads);
            } else if *reads == measured.busiest.1 && !measured.busiest.0.contains(&name) {
                measured.busiest.0.push(name);
            }
        }
    }
    for service in &services {
        let usage = service.read_plan.usage();
        measured.largest_cache =
            (measured.largest_cache.0.max(usage.entries), measured.largest_cache.1.max(usage.bytes));
    }
    Ok(measured)
}

/// Whether an introspection answer says active (the body starts with it: `{"active":true,…`).
fn says_active(body: &[u8]) -> bool {
    body.starts_with(br#"{"active":true"#)
}

/// The largest item of each kind the model reads, as DynamoDB sizes it: all must be within one read unit.
async fn largest_items(
    store: &CountingStore<MemoryStore>,
    tokens: &Tokens,
    user_details: bool,
) -> Result<Vec<(&'static str, usize)>, String> {
    let tenant = TenantId::default();
    let mut keys = vec![StoreKey::client(&tenant, &ClientId::parse(RESOURCE_SERVER.0).map_err(|e| e.to_string())?)];
    if let Some(opaque) = tokens.cold.iter().chain(&tokens.hot).find_map(|t| OpaqueToken::parse(t)) {
        keys.push(StoreKey::token(&tenant, &opaque.hash()));
    }
    let records = store.inner().get_many(&keys).await.map_err(|e| e.to_string())?;
    let watermark = Record::Watermark(tessera::domain::revocation::RevocationWatermark::at(
        &tenant,
        WatermarkTarget::subject("user-000001"),
        T0,
    ));
    let mut sizes = Vec::new();
    let details = user_details.then(|| user_details_of("user-000001"));
    for record in records.iter().chain([&watermark]).chain(&details) {
        let size = tessera::store::dynamodb::item_size(record).map_err(|e| e.to_string())?;
        sizes.push((item_name(&record.key()), size));
    }
    Ok(sizes)
}

fn main() -> ExitCode {
    let mix = match Mix::parse(std::env::args().skip(1)) {
        Ok(mix) => mix,
        Err(err) => {
            eprintln!(
                "load_model: {err}\nusage: load_model [environments=50] [rate=100000] [seconds=4] [warm_up_seconds=1] [hot_tokens=20] [hot_share=0.7] [cold_tokens=100000] [subjects=20000] [jwt_share=0.5] [bounds_ms=0,100,1000] [seed=7] [user_details=0]"
            );
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("no runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(model(&mix)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("load_model: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn model(mix: &Mix) -> Result<(), String> {
    eprintln!("load model: {}", mix.describe());
    let key = SigningKey::generate(SigningAlgorithm::ES256, "model-1").map_err(|e| e.to_string())?;
    let keys = KeyRing::new(vec![
        SigningKey::from_pkcs8_pem(key.algorithm(), key.kid(), &key.to_pkcs8_pem()).map_err(|e| e.to_string())?,
    ])
    .map_err(|e| e.to_string())?;
    let seed_config = config(&key, 0, mix.user_details)?;
    let clients = seed_config.clients(&SeededEntropy::new(mix.seed)).map_err(|e| e.to_string())?;
    let store = Arc::new(CountingStore::tallying_keys(MemoryStore::with_clients(clients)));
    let rng = Draws(SeededEntropy::new(mix.seed));
    let tokens = mint(mix, store.as_ref(), &keys, &rng).await?;
    let sizes = largest_items(&store, &tokens, mix.user_details).await?;
    let largest = sizes.iter().map(|(_, size)| *size).max().unwrap_or(0);
    eprintln!(
        "item sizes (as DynamoDB counts them): {}; each is {} read unit (<= {READ_UNIT_BYTES} B, strongly consistent)",
        sizes.iter().map(|(name, size)| format!("{name} {size} B")).collect::<Vec<_>>().join(", "),
        largest.div_ceil(READ_UNIT_BYTES).max(1)
    );
    if largest > READ_UNIT_BYTES {
        return Err("an item is over 4 KB: the model's 1 RCU per item would undercount".into());
    }

    let mut rows = Vec::new();
    for &bound_ms in &mix.bounds_ms {
        RevocationBound::from_millis("bounds_ms", bound_ms).map_err(|e| e.to_string())?;
        let started = std::time::Instant::now();
        let measured = run(mix, bound_ms, &key, &tokens, &store).await?;
        eprintln!("B = {bound_ms} ms simulated in {:.1} s of wall time", started.elapsed().as_secs_f64());
        if measured.inactive > 0 {
            return Err(format!("B = {bound_ms} ms: {} introspections were not active", measured.inactive));
        }
        rows.push(measured);
    }

    let measured_secs = mix.seconds - mix.warm_up_seconds;
    eprintln!(
        "\n| B | busiest item | its RCU/s (peak 1-s window) | RCU per introspection | round trips per introspection | \
         DynamoDB throttles (3,000 RCU/s per partition) | largest item cache of an environment |"
    );
    eprintln!("|---|---|---|---|---|---|---|");
    for m in &rows {
        eprintln!(
            "| {} ms | {} | {:.0} ({:.1} % of a partition) | {:.3} | {:.3} | {} | {} entries, {:.1} MiB (bounds {} entries, {} MiB) |",
            m.bound_ms,
            m.busiest_items(),
            m.busiest_per_sec(),
            m.busiest_per_sec() / PARTITION_RCU * 100.0,
            m.per_introspection(m.read_units),
            m.per_introspection(m.round_trips),
            m.throttle_point(mix),
            m.largest_cache.0,
            m.largest_cache.1 as f64 / 1_048_576.0,
            ITEM_CACHE_LIMITS.max_entries,
            ITEM_CACHE_LIMITS.max_bytes / 1_048_576,
        );
    }
    eprintln!("\nRCU per introspection, by item (over the {measured_secs} measured s):\n");
    eprintln!("| B | {} |", ITEM_NAMES.join(" | "));
    eprintln!("|---|{}", "---|".repeat(ITEM_NAMES.len()));
    for m in &rows {
        let cells: Vec<String> = ITEM_NAMES
            .iter()
            .map(|name| format!("{:.3}", m.per_introspection(m.units_by_item.get(name).copied().unwrap_or(0))))
            .collect();
        eprintln!("| {} ms | {} |", m.bound_ms, cells.join(" | "));
    }

    for m in &rows {
        let busiest_ok = m.busiest_per_sec() <= PARTITION_RCU;
        let units = m.per_introspection(m.read_units);
        let goal_row = m.bound_ms == 1_000 && mix.environments == 50 && mix.rate == 100_000 && !mix.user_details;
        let verdict = match (goal_row, busiest_ok && units <= 1.0) {
            (false, _) => "",
            (true, true) => "meets",
            (true, false) => "misses",
        };
        println!(
            "{}",
            serde_json::json!({
                "label": format!("load model, B = {} ms ({} environments, {} introspections/s, {:.0} % on {} hot tokens, the rest over {} cold ones{})",
                    m.bound_ms, mix.environments, mix.rate, mix.hot_share * 100.0, mix.hot_tokens, mix.cold_tokens,
                    if mix.user_details { ", user details read" } else { "" }),
                "value": format!("busiest item: {} at {:.0} RCU/s (peak 1-s window); {:.3} RCU and {:.3} round trips per introspection; DynamoDB throttles {}",
                    m.busiest_items(), m.busiest_per_sec(), units, m.per_introspection(m.round_trips), m.throttle_point(mix)),
                "goal": if goal_row { "no item above 3,000 RCU/s; <= 1 RCU per introspection" } else { "" },
                "verdict": verdict,
            })
        );
    }
    Ok(())
}
