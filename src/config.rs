//! Configuration: command-line flags, environment variables and an optional TOML file.
//!
//! Precedence, highest first: flag, environment variable, the config file, the built-in
//! default. **Every key of the file can also be set from the environment**, as container
//! deployments expect: `CVO_` and the key's path with `__` between the parts, e.g.
//! `CVO_LIMITS__MAX_PAGE_SIZE=500`, `CVO_POLICY__WEIGHTS__VALUE=0.6`,
//! `CVO_TIERING__DEFAULT_SCHEME=key_major` (values are read as TOML values: numbers, `true`,
//! strings; arrays as `[...]`). `cvo config` prints the configuration the server would run
//! with. Every setting has a default that serves: `cvo` with no arguments listens on
//! 127.0.0.1:50051 with its data in `./data`.
//!
//! The file (see `cvo.example.toml`) may hold:
//! ```toml
//! addr = "127.0.0.1:50051"
//! data_dir = "./data"
//! log_format = "human"            # or "json"
//!
//! [policy]                        # the scoring policy; every field optional
//! name = "q3-2026"                # when set, the policy version
//! [policy.weights]
//! value = 0.5
//! behaviour = 0.3
//! satisfaction = 0.2
//! [policy.clv]
//! retention_rate = 0.8
//! discount_rate = 0.1
//! horizon_years = 5
//!
//! [limits]
//! max_message_bytes = 16777216
//! max_page_size = 1000
//! max_customers_per_call = 10000
//! max_customers_per_load = 5000000
//! request_timeout_secs = 30
//! concurrency_limit_per_connection = 256
//! max_concurrent_calls = 1024
//! shutdown_grace_secs = 10
//!
//! [storage]
//! cache_mb = 256
//! value_cache_entries = 20000
//!
//! [tiering]
//! default_scheme = "curry"
//!
//! [[schemes]]                     # custom schemes beside curry, key_major, value_loyalty, diamond
//! name = "gold_silver"
//! [[schemes.layers]]
//! name = "gold"
//! top_fraction = 0.1              # or min_metric = 70.0, statuses = ["lapsed"], flags = ["poor_credit"]
//! [[schemes.layers]]
//! name = "silver"                 # no rule: every ranked customer left
//!
//! [[auth.keys]]                   # none: anonymous, loopback only
//! name = "crm"
//! sha256 = "..."                  # `echo -n KEY | cvo key hash`
//! role = "write"                  # read | write | admin
//!
//! [tls]                           # none: plaintext
//! cert = "server.pem"
//! key = "server.key"
//! client_ca = "clients-ca.pem"    # optional: mutual TLS
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::api::auth::ApiKey;
use crate::domain::pyramid::{self, Scheme, SchemeConfig};
use crate::domain::scoring::policy::ScoringPolicy;

pub const DEFAULT_ADDR: &str = "127.0.0.1:50051";
pub const DEFAULT_DATA_DIR: &str = "./data";

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// cvo, the customer-value oracle: scores customers, tiers portfolios into the customer pyramid
/// and answers over gRPC.
#[derive(Debug, Parser)]
#[command(name = "cvo", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print the configuration the server would run with (file, environment and flags
    /// merged), as TOML.
    Config(ServeArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the SHA-256 hash of an API key, for `[[auth.keys]]` in the config file. The key is
    /// read from standard input (one line), so that it stays out of the shell history.
    Hash,
}

/// Settings of the server. Each flag can also come from the environment or the config file.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "CVO_ADDR", global = true)]
    pub addr: Option<SocketAddr>,
    /// Directory of the sled database [default: ./data].
    #[arg(long, env = "CVO_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file: scoring policy, CLV defaults, limits.
    #[arg(long, env = "CVO_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log format [default: human]. The level comes from RUST_LOG (default "info").
    #[arg(long, env = "CVO_LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,
    /// Serve a non-loopback address without API keys (anyone who can reach it can read and
    /// write). Without this flag the server refuses to start that way.
    #[arg(long, env = "CVO_ALLOW_ANONYMOUS", global = true)]
    pub allow_anonymous: bool,
}

/// Limits that protect the server from oversized or runaway requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request message accepted after decompression, in bytes; larger ones are
    /// refused with RESOURCE_EXHAUSTED before they are decoded.
    pub max_message_bytes: usize,
    /// Largest page a list RPC returns; larger page sizes are capped.
    pub max_page_size: u32,
    /// Most customers one UpsertCustomers call may carry.
    pub max_customers_per_call: usize,
    /// Most customers one LoadCustomers stream may carry (a load is held in memory until
    /// its stream ends, so that it can be stored all at once or not at all).
    pub max_customers_per_load: usize,
    /// Calls running longer are cancelled with DEADLINE_EXCEEDED.
    pub request_timeout_secs: f64,
    /// Most calls served at once on one connection; more wait for a slot.
    pub concurrency_limit_per_connection: usize,
    /// Most calls served at once in all; a call beyond is refused at once with
    /// RESOURCE_EXHAUSTED (load shedding), so that a flood cannot starve running calls.
    pub max_concurrent_calls: usize,
    /// On SIGINT/SIGTERM, how long in-flight calls may take to finish.
    pub shutdown_grace_secs: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 16 * 1024 * 1024,
            max_page_size: 1000,
            max_customers_per_call: 10_000,
            max_customers_per_load: 5_000_000,
            request_timeout_secs: 30.0,
            concurrency_limit_per_connection: 256,
            max_concurrent_calls: 1024,
            shutdown_grace_secs: 10.0,
        }
    }
}

impl Limits {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout_secs)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs_f64(self.shutdown_grace_secs)
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_message_bytes >= 1024,
            "limits.max_message_bytes must be at least 1024"
        );
        anyhow::ensure!(
            self.max_page_size >= 1,
            "limits.max_page_size must be at least 1"
        );
        anyhow::ensure!(
            self.max_customers_per_call >= 1,
            "limits.max_customers_per_call must be at least 1"
        );
        anyhow::ensure!(
            self.request_timeout_secs.is_finite() && self.request_timeout_secs > 0.0,
            "limits.request_timeout_secs must be a positive number"
        );
        anyhow::ensure!(
            self.concurrency_limit_per_connection >= 1,
            "limits.concurrency_limit_per_connection must be at least 1"
        );
        anyhow::ensure!(
            self.max_concurrent_calls >= 1,
            "limits.max_concurrent_calls must be at least 1"
        );
        anyhow::ensure!(
            self.shutdown_grace_secs.is_finite() && self.shutdown_grace_secs >= 0.0,
            "limits.shutdown_grace_secs must be a number >= 0"
        );
        Ok(())
    }
}

/// Storage settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Storage {
    /// sled's page cache, in MiB.
    pub cache_mb: u64,
    /// Customers whose latest kept value is held in memory for GetCustomerValue (about 1.5 KB
    /// each); 0 turns the cache off.
    pub value_cache_entries: usize,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            cache_mb: crate::store::DEFAULT_CACHE_BYTES / (1024 * 1024),
            value_cache_entries: crate::store::DEFAULT_VALUE_CACHE_ENTRIES,
        }
    }
}

/// API keys (see [`crate::auth`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub keys: Vec<ApiKey>,
    /// Same as `--allow-anonymous`.
    pub allow_anonymous: bool,
}

/// TLS: certificate and key (PEM) of the server, and optionally a client CA for mutual TLS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// Tiering settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tiering {
    /// The scheme of TierPortfolio calls that name none, and whose latest run places the tier
    /// of a ScoreCustomer answer.
    pub default_scheme: String,
}

impl Default for Tiering {
    fn default() -> Self {
        Self {
            default_scheme: "curry".to_owned(),
        }
    }
}

/// The contents of the TOML file; every key optional. The same keys come from the
/// environment (see the module docs).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    pub policy: ScoringPolicy,
    pub limits: Limits,
    pub storage: Storage,
    pub auth: AuthConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    pub tiering: Tiering,
    /// Custom tiering schemes, beside the built-in ones.
    pub schemes: Vec<SchemeConfig>,
}

/// The top-level keys of [`FileConfig`]: only `CVO_` variables under one of these are
/// configuration (others, like `CVO_CONFIG` itself or a client's `CVO_KEY`, are not).
const KEYS: [&str; 10] = [
    "addr",
    "data_dir",
    "log_format",
    "policy",
    "limits",
    "storage",
    "auth",
    "tls",
    "tiering",
    "schemes",
];

impl FileConfig {
    /// The file alone.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        Self::load(Some(path), false)
    }

    /// The file at `path` (if any) under the `CVO_*` environment variables (with `env`).
    pub fn load(path: Option<&Path>, env: bool) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        let mut from = Vec::new();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            figment = figment.merge(Toml::string(&text));
            from.push(format!("config file {}", path.display()));
        }
        if env {
            figment = figment.merge(
                Env::prefixed("CVO_")
                    .filter(|k| {
                        let top = k.as_str().split("__").next().unwrap_or_default();
                        KEYS.iter().any(|key| key.eq_ignore_ascii_case(top))
                    })
                    .split("__"),
            );
            from.push("CVO_* environment variables".to_owned());
        }
        figment
            .extract()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("reading the configuration from {}", from.join(" and ")))
    }
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub policy: ScoringPolicy,
    pub limits: Limits,
    pub storage: Storage,
    pub auth: AuthConfig,
    pub tls: Option<TlsConfig>,
    pub tiering: Tiering,
    /// Built-in and configured schemes, validated.
    pub schemes: Vec<Scheme>,
}

impl Config {
    /// Defaults with the data in `data_dir`, on an ephemeral loopback port: for tests.
    pub fn for_tests(data_dir: &Path) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_owned(),
            log_format: LogFormat::Human,
            policy: ScoringPolicy::default(),
            limits: Limits::default(),
            storage: Storage::default(),
            auth: AuthConfig::default(),
            tls: None,
            tiering: Tiering::default(),
            schemes: pyramid::builtin(),
        }
    }

    /// The file and the environment merged, with the flags over them: what [`Config::resolve`]
    /// builds from, and what `cvo config` prints.
    pub fn effective(args: &ServeArgs) -> anyhow::Result<FileConfig> {
        let mut file = FileConfig::load(args.config.as_deref(), true)?;
        file.addr = args.addr.or(file.addr);
        file.data_dir = args.data_dir.clone().or(file.data_dir);
        file.log_format = args.log_format.or(file.log_format);
        file.auth.allow_anonymous |= args.allow_anonymous;
        Ok(file)
    }

    /// Merges flags over the environment over the file over the defaults, and checks the
    /// result.
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Self> {
        let file = Self::effective(args)?;
        let default_addr: SocketAddr = DEFAULT_ADDR.parse().context("built-in default address")?;
        let config = Self {
            addr: file.addr.unwrap_or(default_addr),
            data_dir: file
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            log_format: file.log_format.unwrap_or_default(),
            policy: file.policy,
            limits: file.limits,
            storage: file.storage,
            auth: file.auth,
            tls: file.tls,
            tiering: file.tiering,
            schemes: pyramid::schemes(file.schemes)?,
        };
        config.check()?;
        Ok(config)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        let problems = self.policy.check();
        if !problems.is_empty() {
            let list: Vec<String> = problems
                .into_iter()
                .map(|v| format!("policy.{}: {}", v.field, v.reason))
                .collect();
            anyhow::bail!("invalid scoring policy: {}", list.join("; "));
        }
        self.limits.check()?;
        if !self
            .schemes
            .iter()
            .any(|s| s.name == self.tiering.default_scheme)
        {
            anyhow::bail!(
                "tiering.default_scheme {:?} is not a known scheme",
                self.tiering.default_scheme
            );
        }
        crate::api::auth::Authenticator::new(&self.auth.keys)?;
        if self.auth.keys.is_empty() && !self.addr.ip().is_loopback() && !self.auth.allow_anonymous
        {
            anyhow::bail!(
                "refusing to serve {} without API keys: configure [[auth.keys]] or pass \
                 --allow-anonymous",
                self.addr
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_serve() {
        let c = Config::resolve(&ServeArgs::default()).unwrap();
        assert_eq!(c.addr.to_string(), DEFAULT_ADDR);
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cvo.toml");
        std::fs::write(
            &path,
            "addr = \"127.0.0.1:6000\"\ndata_dir = \"/tmp/x\"\n[policy]\nname = \"p1\"\n[limits]\nmax_page_size = 10\n",
        )
        .unwrap();
        let args = ServeArgs {
            addr: Some("127.0.0.1:7000".parse().unwrap()),
            config: Some(path),
            ..Default::default()
        };
        let c = Config::resolve(&args).unwrap();
        assert_eq!(c.addr.port(), 7000);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.policy.version(), "p1");
        assert_eq!(c.limits.max_page_size, 10);
    }

    #[test]
    fn the_example_file_spells_out_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cvo.example.toml");
        let file = FileConfig::read(&path).unwrap();
        assert_eq!(file.policy, ScoringPolicy::default());
        assert_eq!(file.limits, Limits::default());
        assert_eq!(file.storage, Storage::default());
        assert_eq!(
            file.addr.map(|a| a.to_string()).as_deref(),
            Some(DEFAULT_ADDR)
        );
    }

    #[test]
    fn no_keys_on_a_public_address_needs_explicit_consent() {
        let mut args = ServeArgs {
            addr: Some("0.0.0.0:50051".parse().unwrap()),
            ..Default::default()
        };
        let err = Config::resolve(&args).unwrap_err().to_string();
        assert!(err.contains("without API keys"), "{err}");
        args.allow_anonymous = true;
        assert!(Config::resolve(&args).is_ok());
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cvo.toml");
        std::fs::write(&path, "[policy.weights]\nvalue = 0.9\n").unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        let err = Config::resolve(&args).unwrap_err().to_string();
        assert!(err.contains("policy.weights"), "{err}");
        std::fs::write(&path, "adr = \"x\"\n").unwrap();
        let err = format!("{:#}", Config::resolve(&args).unwrap_err());
        assert!(
            err.contains("unknown field") && err.contains("adr"),
            "{err}"
        );
        assert!(err.contains("cvo.toml"), "{err}");
    }
}
