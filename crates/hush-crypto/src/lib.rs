//! hush's cryptography, with no I/O.
//!
//! It owns every cryptographic operation of hush and nothing else. It must never do I/O or
//! logging, implement a primitive itself (AES-256-GCM, Argon2id, HKDF-SHA256, HMAC-SHA256 and
//! SHA-256 come from RustCrypto), or hand out plaintext or key bytes in a type that does not zeroize.
//!
//! The key hierarchy is envelope encryption (see `docs/key-hierarchy.md`):
//!
//! * a **root key** (256 bits, versioned) comes from outside the store: a key file, a
//!   passphrase run through Argon2id, or an environment variable;
//! * each workspace has **data keys** (256 bits, versioned), stored wrapped by a root key
//!   version;
//! * every **value version** is sealed with AES-256-GCM under a data key, with a fresh random
//!   96-bit nonce;
//! * one **audit key** (256 bits, random, made once per store) authenticates the audit chain
//!   with HMAC-SHA256; it is stored wrapped by the root key like a data key, so it outlives
//!   root key rotations and old rows stay verifiable.
//!
//! Every ciphertext starts with a small header naming the format and the key version that
//! sealed it, and the header is part of the associated data. The associated data also binds a
//! ciphertext to where it lives (workspace, secret id and version for values; workspace and data
//! key version for wrapped keys), so a ciphertext copied into another row does not open.
//!
//! Plaintext and keys live in zeroizing types whose `Debug` prints `[redacted]`; none of them
//! implements `Display` or `Serialize`.
#![forbid(unsafe_code)]

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length of every key in the hierarchy, in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const FORMAT_V1: u8 = 1;
/// Header: format byte, then the sealing key's version as a big-endian u32.
const HEADER_LEN: usize = 1 + 4;

/// Why sealing failed. Sealing only fails when the operating system cannot give randomness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The AEAD refused the input (it is longer than AES-GCM allows).
    #[error("the value is too long to seal")]
    TooLong,
}

/// Decryption failed. It says nothing more, on purpose: wrong key, tampered ciphertext and a
/// ciphertext moved to another row all look the same from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("decryption failed")]
pub struct DecryptError;

/// A key could not be parsed from its text form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyParseError {
    /// The text is not valid standard base64.
    #[error("not valid base64")]
    Base64,
    /// The decoded bytes are not exactly 32 bytes long.
    #[error("decodes to {0} bytes, a key is exactly 32")]
    Length(usize),
}

/// Key derivation from a passphrase failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KdfError {
    /// The stored Argon2id parameters are not valid.
    #[error("invalid Argon2id parameters")]
    Params,
    /// The passphrase is empty.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
}

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<(), SealError> {
    getrandom::fill(buf).map_err(|_| SealError::Random)
}

/// A 256-bit symmetric key. Zeroized on drop; `Debug` prints `[redacted]`. Its cipher state
/// (AES round keys and the GHASH key) is made at its first use and kept with it, so each
/// value sealed or opened does not expand the key again; the cipher's crates clear that state
/// when the key is dropped (their `zeroize` features).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key {
    bytes: [u8; KEY_LEN],
    #[zeroize(skip)]
    cipher: std::sync::OnceLock<Aes256Gcm>,
}

impl Key {
    /// A fresh random key.
    pub fn generate() -> Result<Self, SealError> {
        let mut bytes = [0; KEY_LEN];
        fill_random(&mut bytes)?;
        let k = Key::from_bytes(bytes);
        bytes.zeroize();
        Ok(k)
    }

    /// Takes ownership of raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Key {
            bytes,
            cipher: std::sync::OnceLock::new(),
        }
    }

    /// Parses the standard base64 form (as in `HUSH_ROOT_KEY` and the key file).
    pub fn from_base64(text: &str) -> Result<Self, KeyParseError> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| KeyParseError::Base64)?,
        );
        let arr: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyParseError::Length(bytes.len()))?;
        Ok(Key::from_bytes(arr))
    }

    /// The standard base64 form, in a zeroizing string.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.bytes))
    }

    /// The raw key bytes.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    fn cipher(&self) -> &Aes256Gcm {
        self.cipher.get_or_init(|| {
            // EXPOSE: the AEAD needs the key bytes; its state lives as long as the key.
            Aes256Gcm::new_from_slice(&self.bytes)
                .expect("a 32-byte key is always a valid AES-256 key")
        })
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Plaintext bytes of a secret: zeroized on drop, `Debug` prints `[redacted]`, no `Display`,
/// and no `PartialEq` (comparing values is not something hush does; where a test must, it
/// compares the exposed bytes).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of plaintext bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }

    /// The plaintext. Call sites say why they need it.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Shortens the value in place (no copy of the plaintext is made).
    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        SecretBytes(v)
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A root key version: wraps data keys.
#[derive(Clone, Debug)]
pub struct RootKey {
    /// The version this key is recorded under.
    pub version: u32,
    /// The key.
    pub key: Key,
}

/// A workspace data key version: seals values.
#[derive(Clone, Debug)]
pub struct DataKey {
    /// The version this key is recorded under (per workspace).
    pub version: u32,
    /// The key.
    pub key: Key,
}

/// Where a value ciphertext lives; bound into its associated data.
#[derive(Debug, Clone, Copy)]
pub struct ValueSlot<'a> {
    /// The workspace's id.
    pub workspace_id: &'a str,
    /// The secret's id (not its key name: ids never get reused).
    pub secret_id: &'a str,
    /// The value version.
    pub version: u64,
    /// The environment whose own value this is; empty for the value shared by every
    /// environment (whose associated data is unchanged from before environments had values).
    pub env: &'a str,
}

impl ValueSlot<'_> {
    /// The fields bound into a value's associated data (the environment's only when it has
    /// one), into `out`; returns them.
    fn fields<'b>(&'b self, version: &'b [u8; 8], out: &'b mut [&'b [u8]; 4]) -> &'b [&'b [u8]] {
        *out = [
            self.workspace_id.as_bytes(),
            self.secret_id.as_bytes(),
            version.as_slice(),
            self.env.as_bytes(),
        ];
        if self.env.is_empty() {
            &out[..3]
        } else {
            &out[..]
        }
    }
}

/// Builds associated data: a domain label, then each field length-prefixed so that no two
/// different field lists produce the same bytes.
fn associated_data(label: &str, header: &[u8], fields: &[&[u8]]) -> Vec<u8> {
    // Sized exactly: one allocation for each value sealed or opened.
    let len = label.len() + 1 + header.len() + fields.iter().map(|f| 4 + f.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(label.as_bytes());
    out.push(0);
    out.extend_from_slice(header);
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn header(key_version: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = FORMAT_V1;
    h[1..].copy_from_slice(&key_version.to_be_bytes());
    h
}

fn seal(
    key: &Key,
    key_version: u32,
    label: &str,
    fields: &[&[u8]],
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let h = header(key_version);
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let aad = associated_data(label, &h, fields);
    let ct = key
        .cipher()
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| SealError::TooLong)?;
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ct.len());
    out.extend_from_slice(&h);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open(
    key: &Key,
    label: &str,
    fields: &[&[u8]],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    if sealed.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || sealed[0] != FORMAT_V1 {
        return Err(DecryptError);
    }
    let (h, rest) = sealed.split_at(HEADER_LEN);
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let aad = associated_data(label, h, fields);
    key.cipher()
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
        .map(Zeroizing::new)
        .map_err(|_| DecryptError)
}

/// The version of the key that sealed `sealed`, read from its header.
pub fn sealing_key_version(sealed: &[u8]) -> Option<u32> {
    if sealed.len() < HEADER_LEN || sealed[0] != FORMAT_V1 {
        return None;
    }
    Some(u32::from_be_bytes([
        sealed[1], sealed[2], sealed[3], sealed[4],
    ]))
}

const LABEL_VALUE: &str = "hush/v1/value";
const LABEL_DATA_KEY: &str = "hush/v1/data-key";
const LABEL_ROOT_CHECK: &str = "hush/v1/root-check";
const LABEL_AUDIT_KEY: &str = "hush/v1/audit-key";
const LABEL_AUDIT_ROW: &[u8] = b"hush/v1/audit-row\0";
const LABEL_FALLBACK: &str = "hush/v1/fallback-snapshot";
const INFO_FALLBACK: &[u8] = b"hush fallback v1\0";
/// Length of the random salt at the start of a sealed fallback snapshot.
pub const FALLBACK_SALT_LEN: usize = 32;
const ROOT_CHECK_PLAINTEXT: &[u8] = b"hush root key check";

/// Seals one value version under a data key, bound to its slot.
pub fn seal_value(
    dk: &DataKey,
    slot: ValueSlot<'_>,
    plaintext: &SecretBytes,
) -> Result<Vec<u8>, SealError> {
    let version = slot.version.to_be_bytes();
    // EXPOSE: sealing needs the plaintext.
    seal(
        &dk.key,
        dk.version,
        LABEL_VALUE,
        slot.fields(&version, &mut [&[]; 4]),
        plaintext.expose_secret(),
    )
}

/// Opens one value version. Fails when the key, the slot or any byte is wrong.
pub fn open_value(
    dk: &DataKey,
    slot: ValueSlot<'_>,
    sealed: &[u8],
) -> Result<SecretBytes, DecryptError> {
    if sealing_key_version(sealed) != Some(dk.version) {
        return Err(DecryptError);
    }
    let version = slot.version.to_be_bytes();
    let mut pt = open(
        &dk.key,
        LABEL_VALUE,
        slot.fields(&version, &mut [&[]; 4]),
        sealed,
    )?;
    Ok(SecretBytes(std::mem::take(&mut *pt)))
}

/// Wraps a workspace data key under a root key version.
pub fn wrap_data_key(
    root: &RootKey,
    workspace_id: &str,
    dk: &DataKey,
) -> Result<Vec<u8>, SealError> {
    let v = dk.version.to_be_bytes();
    // EXPOSE: wrapping needs the data key bytes.
    seal(
        &root.key,
        root.version,
        LABEL_DATA_KEY,
        &[workspace_id.as_bytes(), &v],
        dk.key.expose_secret(),
    )
}

/// Unwraps a workspace data key.
pub fn unwrap_data_key(
    root: &RootKey,
    workspace_id: &str,
    dk_version: u32,
    wrapped: &[u8],
) -> Result<DataKey, DecryptError> {
    if sealing_key_version(wrapped) != Some(root.version) {
        return Err(DecryptError);
    }
    let v = dk_version.to_be_bytes();
    let pt = open(
        &root.key,
        LABEL_DATA_KEY,
        &[workspace_id.as_bytes(), &v],
        wrapped,
    )?;
    let arr: [u8; KEY_LEN] = pt.as_slice().try_into().map_err(|_| DecryptError)?;
    Ok(DataKey {
        version: dk_version,
        key: Key::from_bytes(arr),
    })
}

/// A check value recorded beside each root key version, so a wrong root key or passphrase is
/// told apart from a damaged store with a clear message.
pub fn root_check(root: &RootKey) -> Result<Vec<u8>, SealError> {
    seal(
        &root.key,
        root.version,
        LABEL_ROOT_CHECK,
        &[],
        ROOT_CHECK_PLAINTEXT,
    )
}

/// Whether `root` is the key that produced `check`.
pub fn verify_root_check(root: &RootKey, check: &[u8]) -> Result<(), DecryptError> {
    if sealing_key_version(check) != Some(root.version) {
        return Err(DecryptError);
    }
    let pt = open(&root.key, LABEL_ROOT_CHECK, &[], check)?;
    if pt.as_slice() == ROOT_CHECK_PLAINTEXT {
        Ok(())
    } else {
        Err(DecryptError)
    }
}

/// The key that authenticates the audit chain: each row carries HMAC-SHA256 under it of the
/// row and the link to the row before. Zeroized on drop; `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct AuditKey(Key);

impl AuditKey {
    /// A fresh random audit key.
    pub fn generate() -> Result<Self, SealError> {
        Ok(AuditKey(Key::generate()?))
    }

    /// Takes a key (for tests and tools that hold one already).
    pub fn from_key(key: Key) -> Self {
        AuditKey(key)
    }

    /// HMAC-SHA256 of `message` under this key, hex encoded. The message is prefixed with a
    /// fixed label, so a MAC made here means nothing anywhere else.
    pub fn mac_hex(&self, message: &[u8]) -> String {
        // EXPOSE: HMAC needs the key bytes; its state lives only for this call.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.expose_secret())
            .expect("HMAC takes a key of any length");
        mac.update(LABEL_AUDIT_ROW);
        mac.update(message);
        hex(&mac.finalize().into_bytes())
    }

    /// Whether `mac_hex` is this key's MAC of `message`, compared in constant time.
    pub fn verify_hex(&self, message: &[u8], mac_hex: &str) -> bool {
        constant_time_eq(self.mac_hex(message).as_bytes(), mac_hex.as_bytes())
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Wraps the audit key under a root key version, bound to the sequence number from which the
/// chain is keyed (rows before it were written by a hush without the audit key): moving that
/// boundary in the store makes the wrapped key fail to open.
pub fn wrap_audit_key(
    root: &RootKey,
    keyed_from: i64,
    key: &AuditKey,
) -> Result<Vec<u8>, SealError> {
    let from = keyed_from.to_be_bytes();
    // EXPOSE: wrapping needs the audit key bytes.
    seal(
        &root.key,
        root.version,
        LABEL_AUDIT_KEY,
        &[&from],
        key.0.expose_secret(),
    )
}

/// Unwraps the audit key. Fails when the root key, the boundary or any byte is wrong.
pub fn unwrap_audit_key(
    root: &RootKey,
    keyed_from: i64,
    wrapped: &[u8],
) -> Result<AuditKey, DecryptError> {
    if sealing_key_version(wrapped) != Some(root.version) {
        return Err(DecryptError);
    }
    let from = keyed_from.to_be_bytes();
    let pt = open(&root.key, LABEL_AUDIT_KEY, &[&from], wrapped)?;
    let arr: [u8; KEY_LEN] = pt.as_slice().try_into().map_err(|_| DecryptError)?;
    Ok(AuditKey(Key::from_bytes(arr)))
}

/// The key of one fallback snapshot: HKDF-SHA256 of the token, with the snapshot's random
/// salt, and as info a fixed label then `identity` (server, app, environment, manifest).
fn fallback_key(token: &[u8], salt: &[u8], identity: &[u8]) -> Key {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(salt), token);
    let mut info = Vec::with_capacity(INFO_FALLBACK.len() + identity.len());
    info.extend_from_slice(INFO_FALLBACK);
    info.extend_from_slice(identity);
    let mut out = [0u8; KEY_LEN];
    hk.expand(&info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    let key = Key::from_bytes(out);
    out.zeroize();
    key
}

/// Seals a workload's fallback snapshot (what `hush run` resolved against a server) under a
/// key derived from the token with HKDF-SHA256 and a fresh random salt, bound to `identity`.
/// The result is the salt, then an AES-256-GCM ciphertext like every other (header, nonce,
/// ciphertext and tag); without the token it opens to nothing.
pub fn seal_fallback(
    token: &[u8],
    identity: &[u8],
    plaintext: &SecretBytes,
) -> Result<Vec<u8>, SealError> {
    let mut salt = [0u8; FALLBACK_SALT_LEN];
    fill_random(&mut salt)?;
    let key = fallback_key(token, &salt, identity);
    // EXPOSE: sealing needs the plaintext.
    let sealed = seal(
        &key,
        0,
        LABEL_FALLBACK,
        &[&salt, identity],
        plaintext.expose_secret(),
    )?;
    let mut out = Vec::with_capacity(FALLBACK_SALT_LEN + sealed.len());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a fallback snapshot sealed by [`seal_fallback`]. Fails for another token, another
/// identity, or any byte changed.
pub fn open_fallback(
    token: &[u8],
    identity: &[u8],
    sealed: &[u8],
) -> Result<SecretBytes, DecryptError> {
    if sealed.len() < FALLBACK_SALT_LEN {
        return Err(DecryptError);
    }
    let (salt, rest) = sealed.split_at(FALLBACK_SALT_LEN);
    if sealing_key_version(rest) != Some(0) {
        return Err(DecryptError);
    }
    let key = fallback_key(token, salt, identity);
    let mut pt = open(&key, LABEL_FALLBACK, &[salt, identity], rest)?;
    Ok(SecretBytes(std::mem::take(&mut *pt)))
}

/// Argon2id cost parameters, stored beside the salt so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for KdfParams {
    /// OWASP's recommended Argon2id setting: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        KdfParams {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }
}

/// Derives a 256-bit key from a passphrase with Argon2id.
pub fn derive_from_passphrase(
    passphrase: &[u8],
    salt: &[u8],
    params: KdfParams,
) -> Result<Key, KdfError> {
    if passphrase.is_empty() {
        return Err(KdfError::EmptyPassphrase);
    }
    let p = argon2::Params::new(params.m_kib, params.t, params.p, Some(KEY_LEN))
        .map_err(|_| KdfError::Params)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = [0u8; KEY_LEN];
    argon
        .hash_password_into(passphrase, salt, &mut out)
        .map_err(|_| KdfError::Params)?;
    let key = Key::from_bytes(out);
    // Clear intermediates
    out.zeroize();
    Ok(key)
}

/// SHA-256 of `data`, hex encoded. Used for token hashes and the audit rows written before the
/// chain was keyed.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

/// Compares two byte strings in constant time (for the same length).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A snapshot opens with its token and identity only, and holds no plaintext.
    #[test]
    fn fallback_snapshot_needs_its_token() {
        let pt = SecretBytes::new(b"planted-canary-value".to_vec());
        let sealed = seal_fallback(b"hush_token_a", b"id", &pt).unwrap();
        assert!(!sealed.windows(pt.len()).any(|w| w == pt.expose_secret()));
        let back = open_fallback(b"hush_token_a", b"id", &sealed).unwrap();
        assert_eq!(back.expose_secret(), pt.expose_secret());
        assert!(open_fallback(b"hush_token_b", b"id", &sealed).is_err());
        assert!(open_fallback(b"hush_token_a", b"other", &sealed).is_err());
        let mut bad = sealed.clone();
        bad[3] ^= 1;
        assert!(open_fallback(b"hush_token_a", b"id", &bad).is_err());
        let again = seal_fallback(b"hush_token_a", b"id", &pt).unwrap();
        assert_ne!(again[..FALLBACK_SALT_LEN], sealed[..FALLBACK_SALT_LEN]);
    }

    fn dk(v: u32) -> DataKey {
        DataKey {
            version: v,
            key: Key::generate().unwrap(),
        }
    }

    fn slot<'a>(ws: &'a str, id: &'a str, version: u64) -> ValueSlot<'a> {
        ValueSlot {
            workspace_id: ws,
            secret_id: id,
            version,
            env: "",
        }
    }

    #[test]
    fn an_environment_value_is_bound_to_its_environment() {
        let dk = DataKey {
            version: 1,
            key: Key::generate().unwrap(),
        };
        let v = SecretBytes::new(b"postgres://prd".to_vec());
        let prd = ValueSlot {
            env: "prd",
            ..slot("ws", "sec_1", 1)
        };
        let sealed = seal_value(&dk, prd, &v).unwrap();
        assert_eq!(
            open_value(&dk, prd, &sealed).unwrap().expose_secret(),
            b"postgres://prd"
        );
        // Moved to another environment's slot, or to the shared slot, it does not open.
        let dev = ValueSlot { env: "dev", ..prd };
        assert!(open_value(&dk, dev, &sealed).is_err());
        assert!(open_value(&dk, slot("ws", "sec_1", 1), &sealed).is_err());
        let shared = seal_value(&dk, slot("ws", "sec_1", 1), &v).unwrap();
        assert!(open_value(&dk, prd, &shared).is_err());
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(value in proptest::collection::vec(any::<u8>(), 0..4096), version in any::<u64>()) {
            let k = dk(3);
            let sealed = seal_value(&k, slot("ws", "sec", version), &SecretBytes::new(value.clone())).unwrap();
            prop_assert_eq!(sealing_key_version(&sealed), Some(3));
            let opened = open_value(&k, slot("ws", "sec", version), &sealed).unwrap();
            prop_assert_eq!(opened.expose_secret(), value.as_slice());
        }

        #[test]
        fn any_flipped_byte_fails(value in proptest::collection::vec(any::<u8>(), 1..256), pos in any::<prop::sample::Index>()) {
            let k = dk(1);
            let mut sealed = seal_value(&k, slot("ws", "sec", 1), &SecretBytes::new(value)).unwrap();
            let i = pos.index(sealed.len());
            sealed[i] ^= 0x01;
            prop_assert!(open_value(&k, slot("ws", "sec", 1), &sealed).is_err());
        }
    }

    #[test]
    fn ciphertext_moved_to_another_slot_fails() {
        let k = dk(1);
        let v = SecretBytes::new(b"sk_live_planted".to_vec());
        let sealed = seal_value(&k, slot("ws1", "secA", 1), &v).unwrap();
        assert!(
            open_value(&k, slot("ws1", "secB", 1), &sealed).is_err(),
            "other secret"
        );
        assert!(
            open_value(&k, slot("ws1", "secA", 2), &sealed).is_err(),
            "other version"
        );
        assert!(
            open_value(&k, slot("ws2", "secA", 1), &sealed).is_err(),
            "other workspace"
        );
        assert!(open_value(&k, slot("ws1", "secA", 1), &sealed).is_ok());
    }

    #[test]
    fn nonces_are_fresh() {
        let k = dk(1);
        let v = SecretBytes::new(b"same".to_vec());
        let a = seal_value(&k, slot("w", "s", 1), &v).unwrap();
        let b = seal_value(&k, slot("w", "s", 1), &v).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn data_key_wrap_round_trip_and_binding() {
        let root = RootKey {
            version: 2,
            key: Key::generate().unwrap(),
        };
        let d = dk(5);
        let wrapped = wrap_data_key(&root, "ws", &d).unwrap();
        let back = unwrap_data_key(&root, "ws", 5, &wrapped).unwrap();
        assert_eq!(back.key.expose_secret(), d.key.expose_secret());
        assert!(unwrap_data_key(&root, "other", 5, &wrapped).is_err());
        assert!(unwrap_data_key(&root, "ws", 6, &wrapped).is_err());
        let other_root = RootKey {
            version: 2,
            key: Key::generate().unwrap(),
        };
        assert!(unwrap_data_key(&other_root, "ws", 5, &wrapped).is_err());
    }

    #[test]
    fn root_check_tells_wrong_key() {
        let root = RootKey {
            version: 1,
            key: Key::generate().unwrap(),
        };
        let check = root_check(&root).unwrap();
        assert!(verify_root_check(&root, &check).is_ok());
        let wrong = RootKey {
            version: 1,
            key: Key::generate().unwrap(),
        };
        assert!(verify_root_check(&wrong, &check).is_err());
    }

    #[test]
    fn passphrase_derivation_is_deterministic_per_salt() {
        let params = KdfParams {
            m_kib: 64,
            t: 1,
            p: 1,
        };
        let a = derive_from_passphrase(b"correct horse", b"saltsaltsaltsalt", params).unwrap();
        let b = derive_from_passphrase(b"correct horse", b"saltsaltsaltsalt", params).unwrap();
        let c = derive_from_passphrase(b"correct horse", b"othersaltothersa", params).unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.expose_secret(), c.expose_secret());
        assert!(derive_from_passphrase(b"", b"saltsaltsaltsalt", params).is_err());
    }

    #[test]
    fn audit_mac_is_keyed_and_the_wrapped_key_is_bound_to_its_boundary() {
        let k = AuditKey::generate().unwrap();
        let mac = k.mac_hex(b"row 1");
        assert_eq!(mac.len(), 64);
        assert!(k.verify_hex(b"row 1", &mac));
        assert!(!k.verify_hex(b"row 2", &mac), "other message");
        let other = AuditKey::generate().unwrap();
        assert!(!other.verify_hex(b"row 1", &mac), "other key");
        assert_ne!(mac, sha256_hex(b"row 1"), "not a plain hash");
        // RFC 4231 test case 2, with hush's label in front of the message.
        let jefe = {
            let mut b = [0u8; KEY_LEN];
            b[..4].copy_from_slice(b"Jefe");
            b
        };
        let mut expected = <Hmac<Sha256> as Mac>::new_from_slice(&jefe).unwrap();
        expected.update(b"hush/v1/audit-row\0what do ya want for nothing?");
        assert_eq!(
            AuditKey::from_key(Key::from_bytes(jefe)).mac_hex(b"what do ya want for nothing?"),
            hex(&expected.finalize().into_bytes())
        );

        let root = RootKey {
            version: 3,
            key: Key::generate().unwrap(),
        };
        let wrapped = wrap_audit_key(&root, 101, &k).unwrap();
        let back = unwrap_audit_key(&root, 101, &wrapped).unwrap();
        assert!(back.verify_hex(b"row 1", &mac));
        assert!(
            unwrap_audit_key(&root, 1, &wrapped).is_err(),
            "moved boundary"
        );
        let other_root = RootKey {
            version: 3,
            key: Key::generate().unwrap(),
        };
        assert!(unwrap_audit_key(&other_root, 101, &wrapped).is_err());
        assert_eq!(format!("{k:?}"), "[redacted]");
    }

    #[test]
    fn debug_is_redacted() {
        let v = SecretBytes::new(b"hunter2-planted".to_vec());
        let k = Key::generate().unwrap();
        assert_eq!(format!("{v:?}"), "[redacted]");
        assert_eq!(format!("{k:?}"), "[redacted]");
        let root = RootKey { version: 1, key: k };
        assert!(!format!("{root:?}").contains(&*root.key.to_base64()));
    }

    #[test]
    fn key_base64_round_trip_and_errors() {
        let k = Key::generate().unwrap();
        let back = Key::from_base64(&k.to_base64()).unwrap();
        assert_eq!(k.expose_secret(), back.expose_secret());
        assert_eq!(
            Key::from_base64("not base64!").unwrap_err(),
            KeyParseError::Base64
        );
        assert_eq!(
            Key::from_base64("AAAA").unwrap_err(),
            KeyParseError::Length(3)
        );
    }
}
