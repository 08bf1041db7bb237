//! Server-wide protections, as tower layers around every service.
//!
//! - [`DeadlineLayer`]: a call running longer than the configured timeout is answered with
//!   DEADLINE_EXCEEDED (tonic's own server timeout answers CANCELLED, which tells a client
//!   nothing about why).
//! - The same layer answers a request message over the size limit with RESOURCE_EXHAUSTED, as
//!   the gRPC status codes prescribe, where tonic says OUT_OF_RANGE.
//! - [`shedding`]: at most N calls run at once across all connections; a call beyond that is
//!   refused at once with RESOURCE_EXHAUSTED instead of queueing, so a flood gets fast answers
//!   and the calls already running keep their resources.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::{Code, Status};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::{Layer, Service};

/// Answers DEADLINE_EXCEEDED when the inner service takes longer than the duration.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer(pub Duration);

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            after: self.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    after: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<http::Request<B>> for Deadline<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let after = self.after;
        let call = self.inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(after, call).await {
                Ok(result) => result.map(too_large_is_resource_exhausted),
                Err(_) => Ok(Status::deadline_exceeded(format!(
                    "the call took longer than the server's limit of {after:?}"
                ))
                .into_http()),
            }
        })
    }
}

/// Rewrites tonic's OUT_OF_RANGE for an oversized message to RESOURCE_EXHAUSTED.
fn too_large_is_resource_exhausted<RB>(mut response: http::Response<RB>) -> http::Response<RB> {
    let headers = response.headers_mut();
    let out_of_range = headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes() == b"11");
    let too_large = headers.get("grpc-message").is_some_and(|v| {
        let m = String::from_utf8_lossy(v.as_bytes());
        m.contains("length too large") || m.contains("length%20too%20large")
    });
    if out_of_range && too_large {
        headers.insert(
            "grpc-status",
            http::HeaderValue::from(Code::ResourceExhausted as i32),
        );
    }
    response
}

/// Load shedding over a limit shared by all connections: see the module docs.
pub fn shedding(max_calls: usize) -> (LoadShedLayer, GlobalConcurrencyLimitLayer) {
    (
        LoadShedLayer::new(),
        GlobalConcurrencyLimitLayer::new(max_calls),
    )
}
