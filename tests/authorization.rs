//! Authorization over every method of the service: the test reads the methods from the
//! service descriptor the server publishes, so an RPC added to the proto but missing from the
//! authorization table fails here.
//!
//! For each method: no key and an unknown key are UNAUTHENTICATED; a read key on a writing
//! method is PERMISSION_DENIED; a read key on a reading method is not refused (its answer may
//! be anything else: the empty request asks for nothing real).

mod common;

use common::raw::Raw;
use common::TestApp;
use cvo::api::auth::{hash_key, ApiKey, Role};
use cvo::api::authz;
use cvo::api::pb;
use cvo::config::Config;
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// Every method of `cvo.v1.CustomerValueService`: (name, client streaming).
fn methods() -> Vec<(String, bool)> {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let service = set
        .file
        .iter()
        .filter(|f| f.package() == "cvo.v1")
        .flat_map(|f| &f.service)
        .find(|s| s.name() == "CustomerValueService")
        .expect("the service is in the descriptor");
    service
        .method
        .iter()
        .map(|m| (m.name().to_owned(), m.client_streaming()))
        .collect()
}

/// Calls `method` with one empty message (as a stream for a streaming method), with `key`.
async fn call(channel: &Channel, method: &str, streaming: bool, key: Option<&str>) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::try_from(format!("{}{method}", authz::SERVICE)).unwrap();
    let authorize = |md: &mut tonic::metadata::MetadataMap| {
        if let Some(k) = key {
            let v: MetadataValue<_> = format!("Bearer {k}").parse().unwrap();
            md.insert("authorization", v);
        }
    };
    let result = if streaming {
        let mut r = Request::new(tokio_stream::iter(vec![Vec::<u8>::new()]));
        authorize(r.metadata_mut());
        grpc.client_streaming(r, path, Raw).await.map(drop)
    } else {
        let mut r = Request::new(Vec::<u8>::new());
        authorize(r.metadata_mut());
        grpc.unary(r, path, Raw).await.map(drop)
    };
    match result {
        Ok(()) => Status::ok(""),
        Err(s) => s,
    }
}

fn needed(method: &str) -> Option<Role> {
    authz::TABLE
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, r)| *r)
}

#[tokio::test]
async fn every_method_of_the_descriptor_is_in_the_table_and_enforced() {
    let methods = methods();
    assert!(methods.len() >= 16, "{methods:?}");
    for (m, _) in &methods {
        assert!(
            needed(m).is_some(),
            "{m} is in the service but not in the authorization table (src/api/authz.rs)"
        );
    }
    for (m, _) in authz::TABLE {
        assert!(
            methods.iter().any(|(x, _)| x == m),
            "{m} is in the authorization table but not in the service"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.auth.keys = vec![
        ApiKey {
            name: "reports".into(),
            sha256: hash_key("read-secret"),
            role: Role::Read,
        },
        ApiKey {
            name: "ops".into(),
            sha256: hash_key("admin-secret"),
            role: Role::Admin,
        },
    ];
    let app = TestApp::start_with(config).await;
    let channel = Channel::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let refused = [Code::Unauthenticated, Code::PermissionDenied];
    for (m, streaming) in &methods {
        let s = call(&channel, m, *streaming, None).await;
        assert_eq!(s.code(), Code::Unauthenticated, "{m} without a key: {s:?}");
        let s = call(&channel, m, *streaming, Some("not-a-key")).await;
        assert_eq!(
            s.code(),
            Code::Unauthenticated,
            "{m} with an unknown key: {s:?}"
        );
        let s = call(&channel, m, *streaming, Some("read-secret")).await;
        if needed(m) > Some(Role::Read) {
            assert_eq!(
                s.code(),
                Code::PermissionDenied,
                "{m} with a read key: {s:?}"
            );
        } else {
            assert!(!refused.contains(&s.code()), "{m} with a read key: {s:?}");
        }
        let s = call(&channel, m, *streaming, Some("admin-secret")).await;
        assert!(!refused.contains(&s.code()), "{m} with an admin key: {s:?}");
    }
    // A method the table does not know is refused to everyone, admin included.
    let s = call(&channel, "NoSuchMethod", false, Some("admin-secret")).await;
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
    // Health and reflection stay open.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let h = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
    assert_eq!(h.into_inner().status, 1, "SERVING");
    app.stop().await;
}

#[tokio::test]
async fn keeping_a_score_needs_write() {
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
    let score = |keep: bool, key: &str| {
        let mut r = Request::new(pb::ScoreCustomerRequest {
            subject: Some(pb::score_customer_request::Subject::Customer(
                common::customer("c-1"),
            )),
            keep,
            ..Default::default()
        });
        let v: MetadataValue<_> = format!("Bearer {key}").parse().unwrap();
        r.metadata_mut().insert("authorization", v);
        r
    };
    assert!(app
        .client
        .score_customer(score(false, "read-secret"))
        .await
        .is_ok());
    let err = app
        .client
        .score_customer(score(true, "read-secret"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("keep: true"), "{}", err.message());
    assert!(app
        .client
        .score_customer(score(true, "write-secret"))
        .await
        .is_ok());
    app.stop().await;
}
