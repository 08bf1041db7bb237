//! Server-wide protections, as one tower layer around every service ([`GuardLayer`]):
//!
//! - Load shedding: at most N calls run at once across all connections; a call beyond that is
//!   refused at once with RESOURCE_EXHAUSTED instead of queueing, so a flood gets fast answers
//!   and the calls already running keep their resources. Health checks and reflection are not
//!   counted and never refused: an orchestrator that probes an overloaded server must hear
//!   "serving", not restart it, and an operator must still be able to look at it.
//! - Deadline: a call running longer than the configured timeout is answered with
//!   DEADLINE_EXCEEDED (tonic's own server timeout answers CANCELLED, which tells a client
//!   nothing about why).
//! - A request message over the size limit is answered with RESOURCE_EXHAUSTED, as the gRPC
//!   status codes prescribe, where tonic says OUT_OF_RANGE.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tonic::{Code, Status};
use tower::{Layer, Service};

use super::authz::{access, Access};

/// The protections of the module docs: at most `max_calls` calls at once (shared by all
/// connections), each within `timeout`.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    timeout: Duration,
    slots: Arc<Semaphore>,
    max_calls: usize,
}

impl GuardLayer {
    pub fn new(timeout: Duration, max_calls: usize) -> Self {
        Self {
            timeout,
            slots: Arc::new(Semaphore::new(max_calls)),
            max_calls,
        }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    layer: GuardLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<http::Request<B>> for Guard<S>
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
        // The open services (health, reflection) are never shed.
        let slot = if access(path) == Some(Access::Open) {
            None
        } else {
            match self.layer.slots.clone().try_acquire_owned() {
                Ok(slot) => Some(slot),
                Err(_) => {
                    let max = self.layer.max_calls;
                    return Box::pin(async move {
                        Ok(Status::resource_exhausted(format!(
                            "the server is running its limit of {max} calls; retry with backoff"
                        ))
                        .into_http())
                    });
                }
            }
        };
        let after = self.layer.timeout;
        let call = self.inner.call(req);
        Box::pin(async move {
            let response = match tokio::time::timeout(after, call).await {
                Ok(result) => result.map(too_large_is_resource_exhausted),
                Err(_) => Ok(Status::deadline_exceeded(format!(
                    "the call took longer than the server's limit of {after:?}"
                ))
                .into_http()),
            };
            // The slot is taken until the call is answered.
            drop(slot);
            response
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
