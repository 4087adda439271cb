//! Password hashing with argon2 (defaults: Argon2id, a fresh salt per hash) and the
//! strength rule shared by the command line and the admin pages.

use anyhow::anyhow;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::Rng;
use rand::distr::Alphanumeric;

pub const MIN_PASSWORD_LEN: usize = 10;

/// Refuses passwords a person could guess quickly.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "the password must be at least {MIN_PASSWORD_LEN} characters long"
        ));
    }
    if password.chars().count() > 1024 {
        return Err("the password must be at most 1024 characters long".to_owned());
    }
    Ok(())
}

pub fn hash(password: &str) -> anyhow::Result<String> {
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow!("hashing the password failed: {e}"))?;
    Ok(hash.to_string())
}

/// True when `password` matches the stored PHC string.
pub fn verify(password: &str, stored_hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), stored_hash)
        .is_ok()
}

/// A hash of a password nobody has, verified against when the email is unknown so that a
/// failed sign-in takes as long whether or not the account exists.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&generate(24)).unwrap_or_default())
}

/// A random password of letters and digits.
pub fn generate(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_strength("short").is_err());
        assert!(check_strength("123456789").is_err());
        assert!(check_strength("1234567890").is_ok());
        assert_eq!(generate(16).len(), 16);
    }
}
