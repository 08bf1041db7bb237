//! Error mapping: every rejected input becomes `INVALID_ARGUMENT` with a `google.rpc.BadRequest`
//! that names each bad field; storage failures become `INTERNAL` without internals leaking.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

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

/// A request with exactly one bad field.
pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Status {
    let mut v = Violations::new();
    v.add(field, description);
    v.into_status()
}

/// Storage failures: logged in full, reported to the caller without internals. A load that
/// named a customer twice is the caller's error, reported as such.
pub fn storage(e: StoreError) -> Status {
    if let StoreError::DuplicateInLoad { id, first, second } = &e {
        return invalid(
            format!("customers[{second}].id"),
            format!("customer \"{id}\" appears twice: also customers[{first}]"),
        );
    }
    tracing::error!(error = %e, "storage failure");
    if let StoreError::Flush(_) = e {
        // Applied in memory, but not known to be on disk: it may or may not survive a crash.
        return Status::internal(
            "storage failure: the write could not be made durable and may be lost; read it back before relying on it",
        );
    }
    Status::internal("storage failure; the operation was not applied")
}
