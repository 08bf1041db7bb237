//! Server-wide protections, as tower layers around every service.
//!
//! - [`DeadlineLayer`]: a call running longer than the configured timeout is answered with
//!   DEADLINE_EXCEEDED (tonic's own server timeout answers CANCELLED, which tells a client
//!   nothing about why).
//! - The same layer answers a request message over the size limit with RESOURCE_EXHAUSTED, as
//!   the gRPC status codes prescribe, where tonic says OUT_OF_RANGE.
//! - [`SheddingLayer`]: at most N calls run at once across all connections; a call beyond
//!   that is refused at once with RESOURCE_EXHAUSTED instead of queueing, so a flood gets fast
//!   answers and the calls already running keep their resources. Health checks and reflection
//!   are not counted and never refused: an orchestrator that probes an overloaded server must
//!   hear "serving", not restart it, and an operator must still be able to look at it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tonic::{Code, Status};
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

/// Services whose calls are never shed: health checking and server reflection.
const UNLIMITED: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Load shedding over a limit shared by all connections: see the module docs.
#[derive(Debug, Clone)]
pub struct SheddingLayer {
    slots: Arc<Semaphore>,
    max_calls: usize,
}

impl SheddingLayer {
    pub fn new(max_calls: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_calls)),
            max_calls,
        }
    }
}

impl<S> Layer<S> for SheddingLayer {
    type Service = Shedding<S>;

    fn layer(&self, inner: S) -> Shedding<S> {
        Shedding {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Shedding<S> {
    inner: S,
    layer: SheddingLayer,
}

impl<S, B, RB> Service<http::Request<B>> for Shedding<S>
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
        let path = req.uri().path();
        if UNLIMITED.iter().any(|prefix| path.starts_with(prefix)) {
            return Box::pin(self.inner.call(req));
        }
        match self.layer.slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let call = self.inner.call(req);
                Box::pin(async move {
                    let response = call.await;
                    drop(slot);
                    response
                })
            }
            Err(_) => {
                let max = self.layer.max_calls;
                Box::pin(async move {
                    Ok(Status::resource_exhausted(format!(
                        "the server is running its limit of {max} calls; retry with backoff"
                    ))
                    .into_http())
                })
            }
        }
    }
}
