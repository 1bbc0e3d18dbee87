//! Password hashing: argon2id with the OWASP parameters (19 MiB, 2 iterations, 1 lane, which
//! are the `argon2` crate's defaults), a random salt per hash, PHC strings in the database.
//! Hashing takes tens of milliseconds on purpose, so it runs on the blocking pool.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password accepted, in characters.
pub const MIN_LEN: usize = 8;
/// Longest password accepted, in characters (bounds the work of one hash).
pub const MAX_LEN: usize = 128;

/// Why a password is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRule {
    /// Fewer than [`MIN_LEN`] characters.
    #[error("A password needs at least {MIN_LEN} characters.")]
    TooShort,
    /// More than [`MAX_LEN`] characters.
    #[error("A password can be at most {MAX_LEN} characters long.")]
    TooLong,
}

/// Checks the length rule (NIST 800-63B: length, no composition rules).
pub fn check(password: &str) -> Result<(), PasswordRule> {
    let len = password.chars().count();
    if len < MIN_LEN {
        Err(PasswordRule::TooShort)
    } else if len > MAX_LEN {
        Err(PasswordRule::TooLong)
    } else {
        Ok(())
    }
}

fn argon2() -> Argon2<'static> {
    // m = 19 MiB, t = 2, p = 1: OWASP's first recommendation for argon2id.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` with a fresh salt.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
    })
    .await?
}

/// Whether `password` matches the PHC string `phc`. `None` (no such account) still spends the
/// time of one verification, so a response time does not tell which usernames exist.
pub async fn verify(password: String, phc: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| dummy_hash().to_owned());
        let parsed =
            PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        let matches = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"not a password of anyone", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let a = hash("correct horse".into()).await.unwrap();
        let b = hash("correct horse".into()).await.unwrap();
        assert_ne!(a, b, "a fresh salt per hash");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(
            verify("correct horse".into(), Some(a.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse".into(), Some(a)).await.unwrap());
        assert!(!verify("correct horse".into(), None).await.unwrap());
    }

    #[test]
    fn length_rule() {
        assert_eq!(check("short"), Err(PasswordRule::TooShort));
        assert_eq!(check("long enough"), Ok(()));
        assert_eq!(check(&"x".repeat(MAX_LEN + 1)), Err(PasswordRule::TooLong));
    }
}
