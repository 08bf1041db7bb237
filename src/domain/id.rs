//! Identifiers chosen by calling systems: customer ids and portfolio names.
//!
//! They are opaque to the service but end up in storage keys, logs and page tokens, so they are
//! restricted to a small, printable set. The separator byte of the storage keys (`0x00`) can
//! never occur in a valid identifier.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest identifier accepted, in bytes (all allowed characters are ASCII).
pub const MAX_ID_LEN: usize = 128;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("is {0} characters long; at most {MAX_ID_LEN} are allowed")]
    TooLong(usize),
    #[error("contains {0:?}; only A-Z a-z 0-9 and - _ . : @ / are allowed")]
    BadChar(char),
}

fn check(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    let len = s.chars().count();
    if len > MAX_ID_LEN {
        return Err(IdError::TooLong(len));
    }
    match s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@' | '/')))
    {
        Some(c) => Err(IdError::BadChar(c)),
        None => Ok(()),
    }
}

/// A printable, bounded rendering of an untrusted string for messages: at most 40 characters,
/// control characters escaped, so that a caller's garbage cannot flood or corrupt a log line
/// or an error message.
pub fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s`: 1 to 128 characters from `A-Z a-z 0-9 - _ . : @ /`.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check(s)?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                check(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

identifier!(
    /// A customer id, unique within a portfolio.
    CustomerId
);
identifier!(
    /// A portfolio name: a named set of customers (a business unit, a region, a company).
    PortfolioName
);

impl PortfolioName {
    /// The portfolio used when a request names none.
    pub fn default_portfolio() -> Self {
        Self("default".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_set() {
        assert!(CustomerId::parse("c-1").is_ok());
        assert!(CustomerId::parse("Acme_Corp.EU:42@crm/7").is_ok());
        assert!(CustomerId::parse(&"x".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn rejects_empty_long_and_odd_characters() {
        assert_eq!(CustomerId::parse(""), Err(IdError::Empty));
        assert_eq!(
            CustomerId::parse(&"x".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong(MAX_ID_LEN + 1))
        );
        assert_eq!(CustomerId::parse("a b"), Err(IdError::BadChar(' ')));
        assert_eq!(CustomerId::parse("a\0b"), Err(IdError::BadChar('\0')));
        assert_eq!(PortfolioName::parse("é"), Err(IdError::BadChar('é')));
    }

    #[test]
    fn shown_is_bounded_and_printable() {
        assert_eq!(shown("a\u{0}b\u{7}"), "a\\0b\\u{7}");
        assert_eq!(shown(&"x".repeat(100)).chars().count(), 41);
    }

    #[test]
    fn deserialising_validates() {
        let bad: Result<CustomerId, _> = serde_json::from_str("\"a b\"");
        assert!(bad.is_err());
        let good: CustomerId = serde_json::from_str("\"c-1\"").unwrap();
        assert_eq!(good.as_str(), "c-1");
    }
}
