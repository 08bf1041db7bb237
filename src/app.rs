//! The application: the store, the oracle over it, the gRPC handlers, health and reflection,
//! served on a listener until a shutdown signal.
//!
//! [`Application::build`] does everything that can fail at start — check the configuration,
//! read the TLS files, parse the API keys, open the store, bind the address, build the
//! reflection services — so that a misconfiguration is reported before anything is served,
//! and tests can bind port 0 and ask for the real address.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::server::Router;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tower::layer::util::{Identity as NoLayer, Stack};

use crate::api::auth::Authenticator;
use crate::api::authz::AuthzLayer;
use crate::api::guard::GuardLayer;
use crate::api::paging::PageTokens;
use crate::api::pb;
use crate::api::pb::customer_value_service_server::CustomerValueServiceServer;
use crate::api::service::Api;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Limits, TlsConfig};
use crate::oracle::{Oracle, Settings};
use crate::store::{SledStore, Store};

/// The middleware every cvo server runs, outermost first: load shedding and deadlines, then
/// authorization.
pub type Layers = Stack<AuthzLayer, Stack<GuardLayer, NoLayer>>;

/// A built, not yet serving, server.
pub struct Application {
    listener: TcpListener,
    router: Router<Layers>,
    health: tonic_health::server::HealthReporter,
    oracle: Arc<Oracle>,
    config: Config,
}

impl Application {
    /// Builds the server on the system clock.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds the server with `clock` as its time source (tests pass a fixed clock).
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        config.check()?;
        let auth = Authenticator::new(&config.auth.keys)?;
        let tls = config.tls.as_ref().map(tls_config).transpose()?;
        let store = open_store(&config).await?;
        let tokens = PageTokens::new(
            store
                .page_token_key()
                .await
                .context("reading the page-token key")?,
        );
        let settings = Settings {
            policy: config.policy.clone(),
            schemes: config.schemes.clone(),
            default_scheme: config.tiering.default_scheme.clone(),
        };
        let oracle = Arc::new(Oracle::new(store, clock, settings));
        if !auth.enabled() {
            if config.addr.ip().is_loopback() {
                tracing::warn!("no API keys configured: every local caller is an anonymous admin");
            } else {
                tracing::warn!(addr = %config.addr, "serving a non-loopback address without API keys (--allow-anonymous): anyone who can reach it can read and write");
            }
        }
        let api = Api::new(oracle.clone(), config.limits, tokens);
        let cvo = CustomerValueServiceServer::new(api)
            .max_decoding_message_size(config.limits.max_message_bytes);
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<CustomerValueServiceServer<Api>>()
            .await;
        let reflection_v1 = reflection_builder()
            .build_v1()
            .context("building reflection v1")?;
        // grpcurl 1.8 and other older clients speak only v1alpha.
        let reflection_v1alpha = reflection_builder()
            .build_v1alpha()
            .context("building reflection v1alpha")?;
        let mut builder = Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).context("configuring TLS")?;
        }
        let router = transport(builder, &config.limits, auth)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(cvo);
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        Ok(Self {
            listener,
            router,
            health,
            oracle,
            config,
        })
    }

    /// The address actually bound (the real port when the configured one was 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The use cases this server answers with, for tools that run beside it in one process.
    pub fn oracle(&self) -> Arc<Oracle> {
        self.oracle.clone()
    }

    /// Serves until `shutdown` completes, then stops taking new calls, lets in-flight ones
    /// finish within the configured grace period, and flushes the store.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            health,
            oracle,
            config,
        } = self;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data_dir = %config.data_dir.display(), policy = %oracle.policy_version(), "serving");
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: no new calls, finishing in-flight ones");
            health
                .set_not_serving::<CustomerValueServiceServer<Api>>()
                .await;
            let _ = stopping_tx.send(());
        };
        let serve = router.serve_with_incoming_shutdown(incoming(listener), signal);
        let grace = config.limits.shutdown_grace();
        let deadline = async move {
            // Only counts from the moment shutdown starts; never fires while serving.
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            result = serve => result.context("serving")?,
            () = deadline => tracing::warn!(?grace, "in-flight calls did not finish within the grace period; stopping anyway"),
        }
        oracle.flush().await.context("flushing the store")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Opens the sled store in the configured data directory.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let dir = config.data_dir.clone();
    let cache = config.storage.cache_mb.saturating_mul(1024 * 1024);
    let values = config.storage.value_cache_entries;
    let store = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        SledStore::open_with(&dir, cache, values)
            .with_context(|| format!("opening the store in {}", dir.display()))
    })
    .await
    .context("opening the store")??;
    Ok(Arc::new(store))
}

/// Accepted connections with Nagle's algorithm off: a reply is written in pieces (headers,
/// message, trailers), and with Nagle on, each later piece waits for the client's delayed ACK
/// of the first, adding ~40 ms to every call.
pub fn incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt as _;
    TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|c| {
            if let Err(e) = c.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        })
    })
}

/// The transport settings and middleware of a cvo server, on `builder` (which may carry TLS).
/// Public so that a benchmark can serve a bare echo service with exactly the same settings.
pub fn transport(builder: Server, limits: &Limits, auth: Authenticator) -> Server<Layers> {
    builder
        // Bulk loads stream hundreds of megabytes: HTTP/2's default 64 KiB windows would
        // stall the sender every few chunks.
        .initial_stream_window_size(Some(4 * 1024 * 1024))
        .initial_connection_window_size(Some(8 * 1024 * 1024))
        .concurrency_limit_per_connection(limits.concurrency_limit_per_connection)
        .layer(GuardLayer::new(
            limits.request_timeout(),
            limits.max_concurrent_calls,
        ))
        .layer(AuthzLayer::new(auth))
}

/// The server's TLS settings: its identity, and for mutual TLS the CA of client certificates.
fn tls_config(tls: &TlsConfig) -> anyhow::Result<ServerTlsConfig> {
    let read =
        |p: &std::path::Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let mut cfg =
        ServerTlsConfig::new().identity(Identity::from_pem(read(&tls.cert)?, read(&tls.key)?));
    if let Some(ca) = &tls.client_ca {
        cfg = cfg.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(cfg)
}

/// Reflection over the cvo protos and the health service's, so that grpcurl can list,
/// describe and call both without a .proto file, and over `google.rpc`'s error details, so
/// that it can print the BadRequest of a rejected call.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
