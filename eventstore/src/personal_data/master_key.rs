//! The master key: wraps every data key. From the configuration (64 hex digits) or a file in
//! the data directory that is created on first start (mode 0600).

use std::path::Path;

use anyhow::{Context as _, bail};
use rand::RngCore as _;

/// 32 bytes; never printed (its `Debug` says only that it is set).
#[derive(Clone)]
pub struct MasterKey(pub(super) [u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A key from its 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("a master key is 64 hex digits (32 bytes)");
        }
        let mut key = [0_u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&text[2 * i..2 * i + 2], 16).context("master key: not hex")?;
        }
        Ok(Self(key))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = [0_u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self(key)
    }

    /// The key in `path`, created there (readable by the owner only) when the file is missing.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                Self::from_hex(&text).with_context(|| format!("master key file {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                write_private(path, &key.hex())
                    .with_context(|| format!("writing the master key to {}", path.display()))?;
                tracing::info!(path = %path.display(), "created a new master key for personal data");
                Ok(key)
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// HMAC-SHA256 of a fixed text under the key, hex: names the key without revealing it.
    pub(super) fn fingerprint(&self) -> String {
        use hmac::{Hmac, Mac as _};
        let Ok(mut mac) = <Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(b"eventide master key fingerprint v1");
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::MasterKey;

    #[test]
    fn hex_round_trip_and_refusals() {
        let key = MasterKey::generate();
        let again = MasterKey::from_hex(&key.hex()).map(|k| k.0).ok();
        assert_eq!(again, Some(key.0));
        assert!(MasterKey::from_hex("abc").is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
        assert_eq!(format!("{key:?}"), "MasterKey(..)");
    }

    #[test]
    fn created_once_then_loaded() {
        let dir = std::env::temp_dir().join(format!("eventide-mk-{}", uuid::Uuid::now_v7()));
        let path = dir.join("master.key");
        let first = MasterKey::load_or_create(&path).map(|k| k.0).ok();
        let second = MasterKey::load_or_create(&path).map(|k| k.0).ok();
        assert!(first.is_some());
        assert_eq!(first, second);
        let _ = std::fs::remove_dir_all(dir);
    }
}
