//! The bootstrap admin token: from the configuration, or generated on first start and kept in
//! `<data-dir>/admin-token` (mode 0600). It signs in the bootstrap admin account (username
//! `admin`, created on first start with this token as its password), as
//! `Authorization: Bearer <token>` or through the admin panel's token sign-in; sessions and
//! every other credential are the application layer's (`orders::identity`).

use std::path::Path;

use anyhow::Context;
use rand::RngCore;

/// The admin token.
pub struct AdminToken {
    token: String,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken").finish_non_exhaustive()
    }
}

impl AdminToken {
    /// The token.
    pub fn secret(&self) -> &str {
        &self.token
    }

    /// The configured token, or the one stored in `<data_dir>/admin-token`, created with a new
    /// random value (mode 0600) when missing. Logs where to find it, never the token itself.
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(token) = configured.map(str::trim).filter(|t| !t.is_empty()) {
            return Ok(Self {
                token: token.to_owned(),
            });
        }
        let path = data_dir.join("admin-token");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let token = existing.trim().to_owned();
            if !token.is_empty() {
                tracing::info!(path = %path.display(), "admin token loaded from file");
                return Ok(Self { token });
            }
        }
        let token = random_hex(32);
        write_secret(&path, &token)
            .with_context(|| format!("cannot write the admin token to {}", path.display()))?;
        tracing::warn!(
            path = %path.display(),
            "generated an admin token; find it in this file (or set EVENTIDE_ADMIN_TOKEN)"
        );
        Ok(Self { token })
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_token_file_is_private() {
        let dir = std::env::temp_dir().join(format!("eventide_admin_{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = AdminToken::load_or_create(None, &dir).unwrap();
        let second = AdminToken::load_or_create(None, &dir).unwrap();
        assert_eq!(first.token, second.token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("admin-token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
