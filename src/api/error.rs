//! Error mapping, in one place: every [`OracleError`] becomes its gRPC status here, and every
//! rejected input becomes `INVALID_ARGUMENT` with a `google.rpc.BadRequest` that names each
//! bad field. Storage failures become `INTERNAL` without internals leaking (they are logged in
//! full, with their chain of causes).

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::domain::customer::Violation;
use crate::oracle::OracleError;
use crate::store::StoreError;

/// Collects field violations across a whole request, so the caller learns every problem at
/// once instead of fixing them one round trip at a time.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `Ok(())` when nothing was found, else the `INVALID_ARGUMENT` status.
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            return Ok(());
        }
        Err(self.into_status())
    }

    /// `Ok(value)` when nothing was found and the value was made, else the status. A value
    /// missing without a violation is a bug of the conversion, reported as INTERNAL.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Status> {
        self.into_result()?;
        value.ok_or_else(|| Status::internal("request validated but incomplete"))
    }

    pub fn into_status(self) -> Status {
        let summary = match self.0.as_slice() {
            [one] => format!("invalid {}: {}", one.field, one.description),
            many => format!(
                "{} invalid fields, first {}: {}",
                many.len(),
                many[0].field,
                many[0].description
            ),
        };
        Status::with_error_details(
            Code::InvalidArgument,
            summary,
            ErrorDetails::with_bad_request(self.0),
        )
    }
}

impl Extend<Violation> for Violations {
    fn extend<I: IntoIterator<Item = Violation>>(&mut self, iter: I) {
        for v in iter {
            self.add(v.field, v.reason);
        }
    }
}

/// A request with exactly one bad field.
pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Status {
    let mut v = Violations::new();
    v.add(field, description);
    v.into_status()
}

impl From<OracleError> for Status {
    fn from(e: OracleError) -> Status {
        match e {
            OracleError::Invalid(list) => {
                let mut v = Violations::new();
                v.extend(list);
                v.into_status()
            }
            OracleError::NotFound(m) => Status::not_found(m),
            OracleError::FailedPrecondition(m) => Status::failed_precondition(m),
            OracleError::Store(e) => storage(e),
            OracleError::Internal(m) => {
                tracing::error!(error = %m, "internal failure");
                Status::internal(m)
            }
        }
    }
}

/// Storage failures: logged in full, reported to the caller without internals. A load that
/// named a customer twice is the caller's error, reported as such.
fn storage(e: StoreError) -> Status {
    if let StoreError::DuplicateInLoad { id, first, second } = &e {
        return invalid(
            format!("customers[{second}].id"),
            format!("customer \"{id}\" appears twice: also customers[{first}]"),
        );
    }
    tracing::error!(error = %chain(&e), "storage failure");
    if let StoreError::Flush(_) = e {
        // Applied in memory, but not known to be on disk: it may or may not survive a crash.
        return Status::internal(
            "storage failure: the write could not be made durable and may be lost; read it back before relying on it",
        );
    }
    Status::internal("storage failure; the operation was not applied")
}

/// An error and its causes, outermost first.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_oracle_error_has_its_code() {
        let cases = [
            (
                OracleError::invalid("scheme", "unknown"),
                Code::InvalidArgument,
            ),
            (OracleError::NotFound("x".into()), Code::NotFound),
            (
                OracleError::FailedPrecondition("x".into()),
                Code::FailedPrecondition,
            ),
            (OracleError::Internal("x".into()), Code::Internal),
            (
                OracleError::Store(StoreError::Flush("disk".into())),
                Code::Internal,
            ),
            (
                OracleError::Store(StoreError::DuplicateInLoad {
                    id: "a".into(),
                    first: 0,
                    second: 2,
                }),
                Code::InvalidArgument,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(Status::from(e).code(), code);
        }
        let s = Status::from(OracleError::invalid("scheme", "unknown"));
        let bad = s.get_details_bad_request().unwrap();
        assert_eq!(bad.field_violations[0].field, "scheme");
        let s = Status::from(OracleError::Store(StoreError::DuplicateInLoad {
            id: "a".into(),
            first: 0,
            second: 2,
        }));
        let bad = s.get_details_bad_request().unwrap();
        assert_eq!(bad.field_violations[0].field, "customers[2].id");
    }
}
