//! Where the root key comes from: the one joint for key sources.
//!
//! Three sources ship: a key file written by `hush init` (the default, mode 0600, holding one
//! or more versions), a passphrase (`HUSH_PASSPHRASE`, stretched with Argon2id using a salt
//! recorded in the store), and a raw key in the environment (`HUSH_ROOT_KEY`, base64 of 32
//! bytes). A Shamir-split source can plug in here later without touching the rest.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use hush_crypto::{derive_from_passphrase, KdfParams, Key};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::store::{RootKeyKind, RootKeyRow};

/// A key source could not give a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeySourceError {
    /// The key file does not exist.
    #[error("the root key file {path} does not exist: restore it from your backup, or set HUSH_ROOT_KEY or HUSH_PASSPHRASE if this store uses one")]
    KeyFileMissing {
        /// Its path.
        path: PathBuf,
    },
    /// The key file cannot be read or written.
    #[error("cannot access the root key file {path}: {reason}")]
    KeyFileIo {
        /// Its path.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The key file is not in the expected format.
    #[error("the root key file {path} is damaged: {reason}")]
    KeyFileInvalid {
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The source has no key for a version the store uses.
    #[error("{source_name} has no root key version {version}, which this store uses: restore the matching key file or key")]
    VersionMissing {
        /// The source.
        source_name: String,
        /// The version.
        version: u32,
    },
    /// `HUSH_ROOT_KEY` (or `HUSH_NEW_ROOT_KEY`) does not hold a key.
    #[error("{var} is not a valid root key ({reason}): give the standard base64 of 32 random bytes, e.g. from `openssl rand -base64 32`")]
    BadRawKey {
        /// The variable.
        var: &'static str,
        /// What is wrong (never the text itself).
        reason: String,
    },
    /// Rotation of an environment root key needs the new key, which only the operator can keep.
    #[error("rotating a root key that comes from HUSH_ROOT_KEY needs the new key in HUSH_NEW_ROOT_KEY (base64 of 32 random bytes, e.g. from `openssl rand -base64 32`): store it safely first; nothing was changed")]
    NextKeyNeeded,
    /// The store's root key is passphrase-derived but no passphrase was given.
    #[error("this store's root key comes from a passphrase: set HUSH_PASSPHRASE")]
    PassphraseNeeded,
    /// The store's root key is raw but a passphrase was given.
    #[error("this store's root key is not passphrase-derived: unset HUSH_PASSPHRASE and use the key file or HUSH_ROOT_KEY")]
    RawKeyNeeded,
    /// A passphrase store row lacks its salt or parameters.
    #[error(
        "the store's record of root key version {version} lacks its Argon2id salt or parameters"
    )]
    MissingKdf {
        /// The version.
        version: u32,
    },
    /// Argon2id failed.
    #[error("cannot derive the root key from the passphrase: {0}")]
    Kdf(#[from] hush_crypto::KdfError),
    /// No randomness.
    #[error(transparent)]
    Random(#[from] hush_crypto::SealError),
}

/// A source of root keys.
pub trait KeySource: Send + Sync {
    /// How people name it in messages (`the key file /x/root.key`, `HUSH_PASSPHRASE`).
    fn name(&self) -> String;

    /// The kind of root key it gives.
    fn kind(&self) -> RootKeyKind;

    /// The key recorded as `row`.
    fn key_for(&self, row: &RootKeyRow) -> Result<Key, KeySourceError>;

    /// Makes root key `version` (for `init` or rotation) and keeps it where later calls of
    /// [`KeySource::key_for`] find it. Returns the key and the record to store; the record's
    /// `check` is left empty for the caller to fill.
    fn create_version(
        &mut self,
        version: u32,
        now: i64,
    ) -> Result<(Key, RootKeyRow), KeySourceError>;

    /// Called once the store has committed `version` as the current root key: versions before
    /// it may be forgotten.
    fn retire_before(&mut self, version: u32) -> Result<(), KeySourceError>;
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    hush_root_key_file: u32,
    keys: Vec<KeyFileEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileEntry {
    version: u32,
    key: String,
}

impl Drop for KeyFileEntry {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

/// The default source: a JSON key file (mode 0600) holding one or more root key versions.
pub struct KeyFileSource {
    path: PathBuf,
    keys: Vec<(u32, Key)>,
}

impl KeyFileSource {
    /// Reads the key file at `path`.
    pub fn open(path: &Path) -> Result<Self, KeySourceError> {
        let text = match std::fs::read(path) {
            Ok(t) => Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeySourceError::KeyFileMissing {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => {
                return Err(KeySourceError::KeyFileIo {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        };
        let invalid = |reason: String| KeySourceError::KeyFileInvalid {
            path: path.to_path_buf(),
            reason,
        };
        // serde_json's error messages quote no input for these shapes beyond positions.
        let parsed: KeyFileJson = serde_json::from_slice(&text).map_err(|e| {
            invalid(format!(
                "not a hush key file (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if parsed.hush_root_key_file != 1 {
            return Err(invalid(format!(
                "unknown key file format {}",
                parsed.hush_root_key_file
            )));
        }
        let mut keys = Vec::with_capacity(parsed.keys.len());
        for entry in &parsed.keys {
            let key = Key::from_base64(&entry.key)
                .map_err(|e| invalid(format!("key version {}: {e}", entry.version)))?;
            keys.push((entry.version, key));
        }
        Ok(KeyFileSource {
            path: path.to_path_buf(),
            keys,
        })
    }

    /// A source for a key file that does not exist yet (for `hush init`).
    pub fn new_file(path: &Path) -> Self {
        KeyFileSource {
            path: path.to_path_buf(),
            keys: Vec::new(),
        }
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the file atomically: a private temporary file, flushed to disk, renamed over.
    fn save(&self) -> Result<(), KeySourceError> {
        let io = |e: std::io::Error| KeySourceError::KeyFileIo {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let json = KeyFileJson {
            hush_root_key_file: 1,
            keys: self
                .keys
                .iter()
                .map(|(v, k)| KeyFileEntry {
                    version: *v,
                    key: k.to_base64().to_string(),
                })
                .collect(),
        };
        let mut body = Zeroizing::new(
            serde_json::to_vec_pretty(&json).map_err(|e| io(std::io::Error::other(e)))?,
        );
        body.push(b'\n');
        // A name of its own per write, so two writers never share a temporary file.
        let mut nonce = [0u8; 8];
        hush_crypto::fill_random(&mut nonce).map_err(|e| io(std::io::Error::other(e)))?;
        let suffix: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let mut tmp_name = self.path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".{suffix}.tmp"));
        let tmp = self.path.with_file_name(tmp_name);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl KeySource for KeyFileSource {
    fn name(&self) -> String {
        format!("the key file {}", self.path.display())
    }

    fn kind(&self) -> RootKeyKind {
        RootKeyKind::Raw
    }

    fn key_for(&self, row: &RootKeyRow) -> Result<Key, KeySourceError> {
        if row.kind != RootKeyKind::Raw {
            return Err(KeySourceError::PassphraseNeeded);
        }
        let find = |keys: &[(u32, Key)]| {
            keys.iter()
                .find(|(v, _)| *v == row.version)
                .map(|(_, k)| k.clone())
        };
        if let Some(k) = find(&self.keys) {
            return Ok(k);
        }
        // Another process may have rotated since this file was read: read it again.
        let fresh = KeyFileSource::open(&self.path)?;
        find(&fresh.keys).ok_or_else(|| KeySourceError::VersionMissing {
            source_name: self.name(),
            version: row.version,
        })
    }

    fn create_version(
        &mut self,
        version: u32,
        now: i64,
    ) -> Result<(Key, RootKeyRow), KeySourceError> {
        // Start from what is on disk now, so no version another process added is dropped.
        if self.path.exists() {
            self.keys = KeyFileSource::open(&self.path)?.keys;
        }
        let key = Key::generate()?;
        self.keys.retain(|(v, _)| *v != version);
        self.keys.push((version, key.clone()));
        // Written before the store records the version, so a crash in between leaves a file
        // that still opens both the old and the new state.
        self.save()?;
        Ok((key, raw_row(version, now)))
    }

    fn retire_before(&mut self, version: u32) -> Result<(), KeySourceError> {
        if self.path.exists() {
            self.keys = KeyFileSource::open(&self.path)?.keys;
        }
        let before = self.keys.len();
        self.keys.retain(|(v, _)| *v >= version);
        if self.keys.len() != before {
            self.save()?;
        }
        Ok(())
    }
}

fn raw_row(version: u32, now: i64) -> RootKeyRow {
    RootKeyRow {
        version,
        kind: RootKeyKind::Raw,
        salt: None,
        kdf: None,
        check: Vec::new(),
        created_at: now,
    }
}

/// A raw root key from the environment (`HUSH_ROOT_KEY`).
pub struct EnvKeySource {
    key: Key,
    next: Option<Key>,
    created: Option<(u32, Key)>,
}

impl EnvKeySource {
    /// Parses the base64 text of `HUSH_ROOT_KEY`; `next` is the key to rotate to, if given.
    pub fn new(text: &str, next: Option<&str>) -> Result<Self, KeySourceError> {
        let key = Key::from_base64(text).map_err(|e| KeySourceError::BadRawKey {
            var: "HUSH_ROOT_KEY",
            reason: e.to_string(),
        })?;
        let next = next
            .map(|t| {
                Key::from_base64(t).map_err(|e| KeySourceError::BadRawKey {
                    var: "HUSH_NEW_ROOT_KEY",
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        Ok(EnvKeySource {
            key,
            next,
            created: None,
        })
    }
}

impl KeySource for EnvKeySource {
    fn name(&self) -> String {
        "HUSH_ROOT_KEY".into()
    }

    fn kind(&self) -> RootKeyKind {
        RootKeyKind::Raw
    }

    fn key_for(&self, row: &RootKeyRow) -> Result<Key, KeySourceError> {
        if row.kind != RootKeyKind::Raw {
            return Err(KeySourceError::PassphraseNeeded);
        }
        match &self.created {
            Some((v, k)) if *v == row.version => Ok(k.clone()),
            // The environment holds one key: the caller verifies it against the row's check.
            _ => Ok(self.key.clone()),
        }
    }

    fn create_version(
        &mut self,
        version: u32,
        now: i64,
    ) -> Result<(Key, RootKeyRow), KeySourceError> {
        let key = if version == 1 {
            self.key.clone()
        } else {
            // Never generated here: a key nobody has written down would lock the store.
            self.next.clone().ok_or(KeySourceError::NextKeyNeeded)?
        };
        self.created = Some((version, key.clone()));
        Ok((key, raw_row(version, now)))
    }

    fn retire_before(&mut self, _version: u32) -> Result<(), KeySourceError> {
        Ok(())
    }
}

/// A root key derived from a passphrase (`HUSH_PASSPHRASE`) with Argon2id.
pub struct PassphraseSource {
    passphrase: Zeroizing<String>,
    next: Option<Zeroizing<String>>,
    params: KdfParams,
    created: Option<(u32, Key)>,
}

impl PassphraseSource {
    /// `next` is the passphrase to rotate to; without it rotation keeps the passphrase and
    /// draws a new salt, which still gives a new root key.
    pub fn new(passphrase: Zeroizing<String>, next: Option<Zeroizing<String>>) -> Self {
        PassphraseSource {
            passphrase,
            next,
            params: KdfParams::default(),
            created: None,
        }
    }
}

impl KeySource for PassphraseSource {
    fn name(&self) -> String {
        "HUSH_PASSPHRASE".into()
    }

    fn kind(&self) -> RootKeyKind {
        RootKeyKind::Passphrase
    }

    fn key_for(&self, row: &RootKeyRow) -> Result<Key, KeySourceError> {
        if row.kind != RootKeyKind::Passphrase {
            return Err(KeySourceError::RawKeyNeeded);
        }
        if let Some((v, k)) = &self.created {
            if *v == row.version {
                return Ok(k.clone());
            }
        }
        let (Some(salt), Some((m, t, p))) = (&row.salt, row.kdf) else {
            return Err(KeySourceError::MissingKdf {
                version: row.version,
            });
        };
        // EXPOSE: the KDF needs the passphrase bytes.
        Ok(derive_from_passphrase(
            self.passphrase.as_bytes(),
            salt,
            KdfParams { m_kib: m, t, p },
        )?)
    }

    fn create_version(
        &mut self,
        version: u32,
        now: i64,
    ) -> Result<(Key, RootKeyRow), KeySourceError> {
        let mut salt = vec![0u8; 16];
        hush_crypto::fill_random(&mut salt)?;
        let pass = if version == 1 {
            &self.passphrase
        } else {
            self.next.as_ref().unwrap_or(&self.passphrase)
        };
        // EXPOSE: the KDF needs the passphrase bytes.
        let key = derive_from_passphrase(pass.as_bytes(), &salt, self.params)?;
        self.created = Some((version, key.clone()));
        let p = self.params;
        Ok((
            key,
            RootKeyRow {
                version,
                kind: RootKeyKind::Passphrase,
                salt: Some(salt),
                kdf: Some((p.m_kib, p.t, p.p)),
                check: Vec::new(),
                created_at: now,
            },
        ))
    }

    fn retire_before(&mut self, _version: u32) -> Result<(), KeySourceError> {
        if let Some(n) = self.next.take() {
            self.passphrase = n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_keeps_versions_and_retires() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let mut src = KeyFileSource::new_file(&path);
        let (k1, row1) = src.create_version(1, 0).unwrap();
        let (k2, row2) = src.create_version(2, 0).unwrap();
        let reread = KeyFileSource::open(&path).unwrap();
        assert_eq!(
            reread.key_for(&row1).unwrap().expose_secret(),
            k1.expose_secret()
        );
        assert_eq!(
            reread.key_for(&row2).unwrap().expose_secret(),
            k2.expose_secret()
        );
        src.retire_before(2).unwrap();
        let reread = KeyFileSource::open(&path).unwrap();
        assert!(reread.key_for(&row1).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn damaged_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        std::fs::write(&path, b"{not json").unwrap();
        let err = KeyFileSource::open(&path).err().unwrap().to_string();
        assert!(err.contains("damaged"), "{err}");
    }

    #[test]
    fn bad_env_key_never_echoes_its_text() {
        let err = EnvKeySource::new("c2VjcmV0LXBsYW50ZWQ=", None)
            .err()
            .unwrap()
            .to_string();
        assert!(!err.contains("c2VjcmV0LXBsYW50ZWQ="));
        assert!(err.contains("32"), "{err}");
    }
}
