//! Hardening over real gRPC: API keys and roles, TLS and mutual TLS, load shedding, call
//! deadlines, and the `cvo` binary's own refusals.

mod common;

use std::time::{Duration, Instant};

use common::{customer, TestApp};
use cvo::api::auth::{hash_key, ApiKey, Role};
use cvo::api::pb;
use cvo::api::pb::customer_value_service_client::CustomerValueServiceClient;
use cvo::config::{Config, TlsConfig};
use pb::score_customer_request::Subject;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Request};

fn with_key<T>(msg: T, key: &str) -> Request<T> {
    let mut r = Request::new(msg);
    let value: MetadataValue<_> = format!("Bearer {key}").parse().unwrap();
    r.metadata_mut().insert("authorization", value);
    r
}

fn score(keep: bool) -> pb::ScoreCustomerRequest {
    pb::ScoreCustomerRequest {
        subject: Some(Subject::Customer(customer("c-1"))),
        keep,
        ..Default::default()
    }
}

fn upsert() -> pb::UpsertCustomersRequest {
    pb::UpsertCustomersRequest {
        portfolio: "p".into(),
        customers: vec![customer("c-1")],
    }
}

#[tokio::test]
async fn api_keys_and_roles() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.auth.keys = vec![
        ApiKey {
            name: "reports".into(),
            sha256: hash_key("read-secret"),
            role: Role::Read,
        },
        ApiKey {
            name: "crm".into(),
            sha256: hash_key("write-secret"),
            role: Role::Write,
        },
    ];
    let mut app = TestApp::start_with(config).await;
    let c = &mut app.client;

    // No key, a wrong key, a malformed header: UNAUTHENTICATED.
    assert_eq!(
        c.score_customer(score(false)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let err = c
        .score_customer(with_key(score(false), "guess"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut basic = Request::new(score(false));
    basic
        .metadata_mut()
        .insert("authorization", "Basic abc".parse().unwrap());
    assert_eq!(
        c.score_customer(basic).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // Read: scoring without keep, reading; not writing.
    assert!(c
        .score_customer(with_key(score(false), "read-secret"))
        .await
        .is_ok());
    let err = c
        .score_customer(with_key(score(true), "read-secret"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = c
        .upsert_customers(with_key(upsert(), "read-secret"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(c
        .get_policy(with_key(pb::GetPolicyRequest {}, "read-secret"))
        .await
        .is_ok());
    let tier = pb::TierPortfolioRequest {
        portfolio: "p".into(),
        ..Default::default()
    };
    let err = c
        .tier_portfolio(with_key(tier.clone(), "read-secret"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let chunks = vec![upsert()];
    let err = c
        .load_customers(with_key(tokio_stream::iter(chunks), "read-secret"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Write: all of it.
    assert!(c
        .upsert_customers(with_key(upsert(), "write-secret"))
        .await
        .is_ok());
    assert!(c
        .score_customer(with_key(score(true), "write-secret"))
        .await
        .is_ok());
    assert!(c
        .tier_portfolio(with_key(tier, "write-secret"))
        .await
        .is_ok());

    // Health stays open.
    let channel = Channel::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    app.stop().await;
}

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

/// A CA, a server certificate for localhost and a client certificate, all made here.
fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["client.cvo.test".to_owned()])
        .unwrap()
        .signed_by(&client_key, &ca)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server_cert: server.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

async fn tls_client(
    addr: std::net::SocketAddr,
    pki: &Pki,
    identity: bool,
) -> Result<CustomerValueServiceClient<Channel>, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if identity {
        tls = tls.identity(Identity::from_pem(&pki.client_cert, &pki.client_key));
    }
    let channel = Channel::from_shared(format!("https://localhost:{}", addr.port()))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await?;
    Ok(CustomerValueServiceClient::new(channel))
}

#[tokio::test]
async fn tls_and_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let tls = TlsConfig {
        cert: write("server.pem", &pki.server_cert),
        key: write("server.key", &pki.server_key),
        client_ca: None,
    };

    // Server-authenticated TLS.
    let mut config = Config::for_tests(&dir.path().join("data1"));
    config.tls = Some(tls.clone());
    let app = TestApp::start_tls(config).await;
    let mut client = tls_client(app.addr, &pki, false).await.unwrap();
    let v = client
        .score_customer(score(false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.value.unwrap().customer_id, "c-1");
    // Plaintext is refused.
    let plain = Channel::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let mut c = CustomerValueServiceClient::new(channel);
        assert!(c.score_customer(score(false)).await.is_err());
    }
    app.stop().await;

    // Mutual TLS: a client certificate signed by the configured CA is required.
    let mut config = Config::for_tests(&dir.path().join("data2"));
    config.tls = Some(TlsConfig {
        client_ca: Some(write("clients.pem", &pki.ca_pem)),
        ..tls
    });
    let app = TestApp::start_tls(config).await;
    let mut with_cert = tls_client(app.addr, &pki, true).await.unwrap();
    assert!(with_cert.score_customer(score(false)).await.is_ok());
    let refused = match tls_client(app.addr, &pki, false).await {
        Err(_) => true,
        Ok(mut c) => c.score_customer(score(false)).await.is_err(),
    };
    assert!(refused, "a client without a certificate got through");
    app.stop().await;
}

/// Opens a LoadCustomers stream that stays open (an in-flight call) until the sender drops.
fn open_stream(
    app: &TestApp,
    portfolio: &'static str,
) -> (
    tokio::sync::mpsc::Sender<pb::UpsertCustomersRequest>,
    tokio::task::JoinHandle<Result<tonic::Response<pb::UpsertCustomersResponse>, tonic::Status>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut client = app.client.clone();
    let call = tokio::spawn(async move { client.load_customers(ReceiverStream::new(rx)).await });
    let first = pb::UpsertCustomersRequest {
        portfolio: portfolio.into(),
        customers: vec![customer("first")],
    };
    let sender = tx.clone();
    tokio::spawn(async move { sender.send(first).await });
    (tx, call)
}

#[tokio::test]
async fn a_flood_beyond_the_limit_is_refused_fast_while_running_calls_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.limits.max_concurrent_calls = 2;
    let mut app = TestApp::start_with(config).await;
    // Two long calls hold both slots.
    let (tx1, call1) = open_stream(&app, "a");
    let (tx2, call2) = open_stream(&app, "b");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A flood of 50 concurrent calls: every one refused, each fast.
    let mut flood = Vec::new();
    for _ in 0..50 {
        let mut c = app.client.clone();
        flood.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = c.score_customer(score(false)).await;
            (r.map(|_| ()).map_err(|e| e.code()), t.elapsed())
        }));
    }
    for f in flood {
        let (result, took) = f.await.unwrap();
        assert_eq!(result, Err(Code::ResourceExhausted));
        assert!(took < Duration::from_secs(1), "refusal took {took:?}");
    }
    // Health checks are not shed: the server is full, not down.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "cvo.v1.CustomerValueService".into(),
        })
        .await
        .expect("health is answered while every slot is taken")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    // The running calls finish normally.
    drop(tx1);
    drop(tx2);
    assert_eq!(call1.await.unwrap().unwrap().into_inner().inserted, 1);
    assert_eq!(call2.await.unwrap().unwrap().into_inner().inserted, 1);
    // And the server serves again.
    assert!(app.client.score_customer(score(false)).await.is_ok());
    app.stop().await;
}

#[tokio::test]
async fn a_call_over_the_time_limit_gets_deadline_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.limits.request_timeout_secs = 0.3;
    let mut app = TestApp::start_with(config).await;
    let (tx, call) = open_stream(&app, "a");
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    drop(tx);
    // Nothing of the timed-out load was stored.
    let err = app
        .client
        .get_customer(pb::GetCustomerRequest {
            portfolio: "a".into(),
            customer_id: "first".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    app.stop().await;
}

#[test]
fn the_binary_hashes_keys_and_refuses_public_addresses_without_keys() {
    use std::io::Write;
    let bin = env!("CARGO_BIN_EXE_cvo");
    let mut child = std::process::Command::new(bin)
        .args(["key", "hash"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"abc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin)
        .args(["serve", "--addr", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("CVO_ALLOW_ANONYMOUS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without API keys"), "{stderr}");

    let help = std::process::Command::new(bin)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--addr",
        "--data-dir",
        "--config",
        "--log-format",
        "--allow-anonymous",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}: {help}");
    }
}

/// Every key of the file can come from the environment (`CVO_` + the key path with `__`), the
/// environment wins over the file, a flag wins over both, and unrelated `CVO_` variables are
/// not configuration.
#[test]
fn every_config_key_can_come_from_the_environment() {
    let bin = env!("CARGO_BIN_EXE_cvo");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cvo.toml");
    std::fs::write(
        &file,
        "[limits]\nmax_page_size = 10\nrequest_timeout_secs = 5.0\n[tiering]\ndefault_scheme = \"diamond\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin)
        .arg("config")
        .arg("--config")
        .arg(&file)
        .args(["--addr", "127.0.0.1:7001"])
        .env("CVO_LIMITS__MAX_PAGE_SIZE", "500")
        .env("CVO_POLICY__WEIGHTS__VALUE", "0.6")
        .env("CVO_POLICY__WEIGHTS__BEHAVIOUR", "0.2")
        .env("CVO_TIERING__DEFAULT_SCHEME", "key_major")
        .env("CVO_STORAGE__VALUE_CACHE_ENTRIES", "7")
        .env("CVO_ADDR", "127.0.0.1:7002")
        .env("CVO_KEY", "a client's key, not configuration")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let printed: toml::Value = toml::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(printed["limits"]["max_page_size"].as_integer(), Some(500));
    assert_eq!(
        printed["limits"]["request_timeout_secs"].as_float(),
        Some(5.0)
    );
    assert_eq!(printed["policy"]["weights"]["value"].as_float(), Some(0.6));
    assert_eq!(
        printed["policy"]["weights"]["behaviour"].as_float(),
        Some(0.2)
    );
    assert_eq!(
        printed["tiering"]["default_scheme"].as_str(),
        Some("key_major")
    );
    assert_eq!(
        printed["storage"]["value_cache_entries"].as_integer(),
        Some(7)
    );
    assert_eq!(printed["addr"].as_str(), Some("127.0.0.1:7001"));

    // A bad value from the environment is refused at start, naming the key.
    let out = std::process::Command::new(bin)
        .arg("config")
        .env("CVO_LIMITS__MAX_PAGE_SIZE", "many")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.to_lowercase().contains("max_page_size"), "{stderr}");
}
