//! Test support: the real server on 127.0.0.1:0 with a temporary data directory, and a tonic
//! client to it.
#![allow(dead_code)]

pub mod grpcurl;
pub mod raw;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cvo::api::pb;
use cvo::api::pb::customer_value_service_client::CustomerValueServiceClient;
use cvo::app::Application;
use cvo::clock::FixedClock;
use cvo::config::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic_types::StatusExt;

pub type Client = CustomerValueServiceClient<Channel>;

/// The date the test servers live on (noon UTC), whatever the date the tests run: the dates in
/// the tests are written against it, so that "last purchase 2026-10-01" stays within the
/// inactivity window forever.
pub const TODAY: time::Date = time::macros::date!(2026 - 12 - 01);

/// `days` before today by the system clock, `YYYY-MM-DD`: for tests of the real binary, which
/// runs on the system clock.
pub fn days_ago(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() - time::Duration::days(days)).to_string()
}

/// A running server. Dropping it without [`TestApp::stop`] aborts it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Starts the server with the default configuration on `data_dir`.
    pub async fn start(data_dir: &Path) -> TestApp {
        Self::start_with(Config::for_tests(data_dir)).await
    }

    pub async fn start_with(config: Config) -> TestApp {
        let mut app = Self::start_unconnected(config).await;
        app.client = connect(app.addr).await;
        app
    }

    /// Starts the server (for TLS tests) with a plaintext client that never connects on its
    /// own; tests make their own TLS clients.
    pub async fn start_tls(config: Config) -> TestApp {
        Self::start_unconnected(config).await
    }

    async fn start_unconnected(config: Config) -> TestApp {
        let data_dir = config.data_dir.clone();
        let clock = std::sync::Arc::new(FixedClock::on(TODAY));
        let app = Application::build_with_clock(config, clock)
            .await
            .expect("build app");
        let addr = app.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let client = CustomerValueServiceClient::new(
            Channel::from_shared(format!("http://{addr}"))
                .expect("uri")
                .connect_lazy(),
        );
        TestApp {
            addr,
            client,
            data_dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Graceful stop, as on SIGTERM; the store is flushed and closed when this returns.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task").expect("server result");
        }
    }

    /// Stops and starts again on the same data directory.
    pub async fn restart(self) -> TestApp {
        let dir = self.data_dir.clone();
        self.stop().await;
        TestApp::start(&dir).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

pub async fn connect(addr: SocketAddr) -> Client {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    CustomerValueServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024)
}

/// The fields named by the BadRequest of an INVALID_ARGUMENT status.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(
        status.code(),
        tonic::Code::InvalidArgument,
        "expected INVALID_ARGUMENT, got {status:?}"
    );
    status
        .get_details_bad_request()
        .expect("a BadRequest detail")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// The descriptions of the BadRequest, for checking that the customer is named.
pub fn bad_descriptions(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| v.description)
                .collect()
        })
        .unwrap_or_default()
}

pub fn customer(id: &str) -> pb::Customer {
    pb::Customer {
        id: id.to_owned(),
        ..Default::default()
    }
}
