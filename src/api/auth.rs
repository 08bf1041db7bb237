//! API keys and roles.
//!
//! Keys are configured as SHA-256 hashes (`cvo key hash` prints one), never in clear, each
//! with a role. A caller sends `authorization: Bearer <key>`; the server hashes what it got and
//! compares it with every configured hash in constant time, so neither the comparison nor the
//! position of the matching key shows in the timing. Which role each call needs is decided in
//! one place, the table of [`super::authz`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::Status;

/// What a key may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Get, List, Score without keep, Predict.
    Read,
    /// Also Upsert, Load, Score with keep, Tier, Fit.
    Write,
    /// Everything.
    Admin,
}

/// One configured key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Who holds the key, for the logs.
    pub name: String,
    /// Hex SHA-256 of the key.
    pub sha256: String,
    pub role: Role,
}

/// The SHA-256 of `key`, as lowercase hex: what goes into the configuration.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Who is calling: the key's holder and role, or anonymous when no keys are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// Checks callers against the configured keys.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    keys: Vec<([u8; 32], String, Role)>,
}

/// Why a key configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("auth.keys[{index}] ({name}): sha256 must be 64 hex digits (use `cvo key hash`)")]
pub struct BadKeyHash {
    pub index: usize,
    pub name: String,
}

impl Authenticator {
    pub fn new(keys: &[ApiKey]) -> Result<Self, BadKeyHash> {
        let keys = keys
            .iter()
            .enumerate()
            .map(|(index, k)| {
                parse_hex32(&k.sha256.to_ascii_lowercase())
                    .map(|h| (h, k.name.clone(), k.role))
                    .ok_or(BadKeyHash {
                        index,
                        name: k.name.clone(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// Whether any key is configured; without keys every caller is an anonymous admin (the
    /// server then binds loopback only, unless explicitly allowed otherwise).
    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The caller of a request that needs `needed`: UNAUTHENTICATED without a known key,
    /// PERMISSION_DENIED with a key of a lesser role.
    pub fn authorize(&self, headers: &http::HeaderMap, needed: Role) -> Result<Caller, Status> {
        let caller = self.authenticate(headers)?;
        caller.require(needed, "this call")?;
        Ok(caller)
    }

    /// Who is calling: UNAUTHENTICATED without a known key.
    pub fn authenticate(&self, headers: &http::HeaderMap) -> Result<Caller, Status> {
        if !self.enabled() {
            return Ok(Caller::anonymous());
        }
        let Some(value) = headers.get("authorization") else {
            return Err(Status::unauthenticated(
                "missing `authorization: Bearer <key>` metadata",
            ));
        };
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <key>`"))?;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found: Option<(&str, Role)> = None;
        for (hash, name, role) in &self.keys {
            // No early exit: every key is compared.
            if bool::from(hash.ct_eq(&digest)) && found.is_none() {
                found = Some((name, *role));
            }
        }
        let Some((name, role)) = found else {
            return Err(Status::unauthenticated("unknown API key"));
        };
        Ok(Caller {
            name: name.to_owned(),
            role,
        })
    }
}

impl Caller {
    /// Every caller when no keys are configured.
    pub fn anonymous() -> Self {
        Caller {
            name: "anonymous".to_owned(),
            role: Role::Admin,
        }
    }

    /// PERMISSION_DENIED unless the caller's role includes `needed`; `what` says what needs it
    /// ("this call", "keep: true").
    pub fn require(&self, needed: Role, what: &str) -> Result<(), Status> {
        if self.role < needed {
            return Err(Status::permission_denied(format!(
                "the key of {} has role {:?}; {what} needs {needed:?}",
                self.name, self.role
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn md(auth: Option<&str>) -> http::HeaderMap {
        let mut m = http::HeaderMap::new();
        if let Some(a) = auth {
            m.insert("authorization", a.parse().unwrap());
        }
        m
    }

    fn auth() -> Authenticator {
        Authenticator::new(&[
            ApiKey {
                name: "reports".into(),
                sha256: hash_key("r-key"),
                role: Role::Read,
            },
            ApiKey {
                name: "crm".into(),
                sha256: hash_key("w-key").to_uppercase(),
                role: Role::Write,
            },
        ])
        .unwrap()
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn roles_and_codes() {
        let a = auth();
        assert_eq!(
            a.authorize(&md(None), Role::Read).unwrap_err().code(),
            Code::Unauthenticated
        );
        assert_eq!(
            a.authorize(&md(Some("Bearer nope")), Role::Read)
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
        assert_eq!(
            a.authorize(&md(Some("Basic r-key")), Role::Read)
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
        let c = a.authorize(&md(Some("Bearer r-key")), Role::Read).unwrap();
        assert_eq!((c.name.as_str(), c.role), ("reports", Role::Read));
        assert_eq!(
            a.authorize(&md(Some("Bearer r-key")), Role::Write)
                .unwrap_err()
                .code(),
            Code::PermissionDenied
        );
        assert!(a.authorize(&md(Some("Bearer w-key")), Role::Write).is_ok());
        assert_eq!(
            a.authorize(&md(Some("Bearer w-key")), Role::Admin)
                .unwrap_err()
                .code(),
            Code::PermissionDenied
        );
    }

    #[test]
    fn no_keys_means_anonymous_admin() {
        let a = Authenticator::default();
        assert!(!a.enabled());
        assert_eq!(
            a.authorize(&md(None), Role::Admin).unwrap().role,
            Role::Admin
        );
    }

    #[test]
    fn bad_hashes_are_refused() {
        let err = Authenticator::new(&[ApiKey {
            name: "x".into(),
            sha256: "abc".into(),
            role: Role::Read,
        }])
        .unwrap_err();
        assert!(err.to_string().contains("auth.keys[0] (x)"));
    }
}
