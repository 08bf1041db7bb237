//! Authorization in one place: the table of what every call needs, applied by one layer in
//! front of every service, before any handler runs.
//!
//! A method of the cvo service that is missing from [`TABLE`] is refused to everyone
//! (fail closed), and the test that walks the service descriptor fails, so a new RPC cannot
//! ship without a decision. The one finer rule: `ScoreCustomer` reads, but with `keep: true`
//! it writes; the layer puts the [`Caller`] into the request so that its handler can require
//! `write` for that field (see [`caller`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::Status;
use tower::{Layer, Service};

use super::auth::{Authenticator, Caller, Role};

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key: health checking and server reflection, so that orchestrators can probe and
    /// operators can look without credentials.
    Open,
    /// A key of at least this role.
    Key(Role),
}

/// The prefix of every method of the cvo service.
pub const SERVICE: &str = "/cvo.v1.CustomerValueService/";

/// Services open to every caller.
const OPEN: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Every method of the cvo service and the role it needs.
pub const TABLE: &[(&str, Role)] = &[
    ("UpsertCustomers", Role::Write),
    ("GetCustomer", Role::Read),
    // keep: true needs Write, checked by the handler.
    ("ScoreCustomer", Role::Read),
    ("GetCustomerValue", Role::Read),
    ("ListCustomerHistory", Role::Read),
    ("GetPolicy", Role::Read),
    ("LoadCustomers", Role::Write),
    ("TierPortfolio", Role::Write),
    ("GetTierRun", Role::Read),
    ("ListTierRuns", Role::Read),
    ("ListTierMembers", Role::Read),
    ("CompareTierRuns", Role::Read),
    ("ListSchemes", Role::Read),
    ("FitValueModel", Role::Write),
    ("GetValueModel", Role::Read),
    ("PredictCustomers", Role::Read),
];

/// What the call at `path` (`/package.Service/Method`) needs; `None` for a cvo method missing
/// from the table (refused) and for paths of no known service (left to the router, which
/// answers UNIMPLEMENTED).
pub fn access(path: &str) -> Option<Access> {
    if OPEN.iter().any(|p| path.starts_with(p)) {
        return Some(Access::Open);
    }
    let method = path.strip_prefix(SERVICE)?;
    TABLE
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, role)| Access::Key(*role))
}

/// The caller the authorization layer found for this request; anonymous when the request did
/// not pass through the layer (only in unit tests of handlers).
pub fn caller<T>(request: &tonic::Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(Caller::anonymous)
}

/// Applies [`TABLE`] to every request; see the module docs.
#[derive(Debug, Clone)]
pub struct AuthzLayer {
    auth: Arc<Authenticator>,
}

impl AuthzLayer {
    pub fn new(auth: Authenticator) -> Self {
        Self {
            auth: Arc::new(auth),
        }
    }
}

impl<S> Layer<S> for AuthzLayer {
    type Service = Authz<S>;

    fn layer(&self, inner: S) -> Authz<S> {
        Authz {
            inner,
            auth: self.auth.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Authz<S> {
    inner: S,
    auth: Arc<Authenticator>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<http::Request<B>> for Authz<S>
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

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let path = req.uri().path();
        let decided = match access(path) {
            Some(Access::Open) => Ok(None),
            Some(Access::Key(role)) => self.auth.authorize(req.headers(), role).map(Some),
            None if path.starts_with(SERVICE) => Err(Status::permission_denied(format!(
                "{path} is not in the authorization table"
            ))),
            None => Ok(None),
        };
        match decided {
            Ok(caller) => {
                if let Some(caller) = caller {
                    tracing::debug!(caller = %caller.name, "authorized");
                    req.extensions_mut().insert(caller);
                }
                Box::pin(self.inner.call(req))
            }
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_decides_and_unknown_cvo_methods_are_refused() {
        assert_eq!(
            access("/cvo.v1.CustomerValueService/UpsertCustomers"),
            Some(Access::Key(Role::Write))
        );
        assert_eq!(
            access("/cvo.v1.CustomerValueService/GetCustomer"),
            Some(Access::Key(Role::Read))
        );
        assert_eq!(access("/grpc.health.v1.Health/Check"), Some(Access::Open));
        assert_eq!(access("/cvo.v1.CustomerValueService/NoSuchMethod"), None);
        assert_eq!(access("/other.Service/Method"), None);
    }
}
