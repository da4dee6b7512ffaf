//! Which byte strings are masked for a set of values, and what bounds them (the crate docs
//! say what and why).
//!
//! Every value is masked as written (and without trailing whitespace): that form is never
//! dropped. Derived forms are added in three tiers, each over all values before the next, so
//! that when the budgets run out it is the least likely forms that are left out:
//!
//! 1. the common encodings of each value up to [`ENCODE_MAX`] bytes: JSON-escaped, base64,
//!    hex and the base64 cores;
//! 2. what is inside a value: the secret-material strings of a JSON value (at most
//!    [`MAX_FIELDS`]) with all their forms, or the lines of any other multi-line value;
//! 3. the rarer encoder variants of each value: URL encodings, and JSON as Go, PHP and
//!    Python escape it.
//!
//! Derived forms share two budgets: [`FORM_BUDGET`] bytes of stored forms (each counted with
//! [`FORM_OVERHEAD`]) and [`HEAD_BUDGET`] bytes that go into the automaton (a form enters it
//! by its first [`HEAD`] bytes). A form that does not fit is dropped and counted.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use base64::Engine as _;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use zeroize::Zeroizing;

use crate::MIN_LEN;

/// How many bytes of a form go into the automaton; longer forms are checked in full where
/// their head matches.
pub(crate) const HEAD: usize = 64;
/// Values (and JSON fields) longer than this are masked as written and line by line, not in
/// encoded forms (a certificate bundle is not printed in base64 in one piece; the encodings
/// of a 1 MiB document would take tens of megabytes).
pub const ENCODE_MAX: usize = 64 * 1024;
/// At most this many secret-material strings of one JSON value get forms of their own; the
/// rest are still masked inside the whole document.
pub const MAX_FIELDS: usize = 256;
/// Lines of a multi-line value shorter than this (after trimming) are not masked alone.
pub const MIN_LINE: usize = 8;
/// Base64 cores shorter than this many characters (36 bits of the value) are not masked:
/// fewer would turn up in unrelated base64.
pub const MIN_CORE: usize = 6;
/// Bytes of derived forms kept, each counted with [`FORM_OVERHEAD`].
pub const FORM_BUDGET: usize = 8 << 20;
/// What a stored form costs beyond its bytes (its allocation and index entries).
pub const FORM_OVERHEAD: usize = 64;
/// Bytes of derived forms' heads in the automaton. Building it takes about 50 bytes per
/// byte of random patterns at its peak, so this keeps the build near 25 MB at worst.
pub const HEAD_BUDGET: usize = 512 << 10;

/// One form, zeroized on drop, hashed and compared by its bytes.
struct Form(Zeroizing<Vec<u8>>);

impl Hash for Form {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_slice().hash(state);
    }
}

impl PartialEq for Form {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_slice() == other.0.as_slice()
    }
}

impl Eq for Form {}

impl Borrow<[u8]> for Form {
    fn borrow(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// The forms to mask for a set of values.
pub(crate) struct Forms {
    /// Every form, distinct and sorted.
    pub(crate) all: Vec<Zeroizing<Vec<u8>>>,
    /// Values shorter than [`MIN_LEN`], not masked.
    pub(crate) too_short: usize,
    /// Derived forms and JSON fields left out by the bounds.
    pub(crate) dropped: usize,
}

/// The forms being collected, with what the budgets have used.
#[derive(Default)]
struct Collect {
    seen: HashSet<Form>,
    stored: usize,
    heads: usize,
    dropped: usize,
}

impl Collect {
    /// A value as written: always kept.
    fn always(&mut self, f: &[u8]) {
        if f.len() >= MIN_LEN && !self.seen.contains(f) {
            self.seen.insert(Form(Zeroizing::new(f.to_vec())));
        }
    }

    /// A derived form: kept if new and within the budgets.
    fn add(&mut self, f: &[u8]) {
        if f.len() < MIN_LEN || self.seen.contains(f) {
            return;
        }
        let stored = f.len() + FORM_OVERHEAD;
        let head = f.len().min(HEAD);
        if self.stored + stored > FORM_BUDGET || self.heads + head > HEAD_BUDGET {
            self.dropped += 1;
            return;
        }
        self.stored += stored;
        self.heads += head;
        self.seen.insert(Form(Zeroizing::new(f.to_vec())));
    }

    fn add_all(&mut self, forms: Vec<Zeroizing<Vec<u8>>>) {
        for f in forms {
            self.add(&f);
        }
    }

    /// Every form a value (or a field) has, for tier 2.
    fn add_everything(&mut self, v: &[u8]) {
        for t in variants(v) {
            self.add(t);
            self.add_all(common(t));
            self.add_all(rare(t));
        }
        for l in lines(v) {
            self.add(l);
        }
    }
}

/// Collects the forms of `values`, as the module docs say.
pub(crate) fn collect<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Forms {
    let mut c = Collect::default();
    let mut too_short = 0;
    let mut kept = Vec::new();
    for v in values {
        if v.len() < MIN_LEN {
            too_short += 1;
            continue;
        }
        for t in variants(v) {
            c.always(t);
        }
        kept.push(v);
    }
    for v in &kept {
        for t in variants(v) {
            c.add_all(common(t));
        }
    }
    for v in &kept {
        match json_fields(v) {
            Some(fields) => {
                c.dropped += fields.skipped;
                for s in &fields.kept {
                    c.add_everything(s.as_bytes());
                }
            }
            None => {
                for l in lines(v) {
                    c.add(l);
                }
            }
        }
    }
    for v in &kept {
        for t in variants(v) {
            c.add_all(rare(t));
        }
    }
    let mut all: Vec<Zeroizing<Vec<u8>>> = c.seen.into_iter().map(|f| f.0).collect();
    all.sort_unstable_by(|a, b| a.as_slice().cmp(b.as_slice()));
    Forms {
        all,
        too_short,
        dropped: c.dropped,
    }
}

/// The value, and without trailing whitespace (a value read from a file with its newline,
/// which workloads strip) when that is still long enough to mask.
fn variants(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    let trimmed = v.trim_ascii_end();
    let other = (trimmed.len() != v.len() && trimmed.len() >= MIN_LEN).then_some(trimmed);
    std::iter::once(v).chain(other)
}

/// Each line of a multi-line value, trimmed, of at least [`MIN_LINE`] bytes; PEM armour
/// lines (`-----BEGIN …-----`) are public and left out.
fn lines(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    let multi = v.trim_ascii().contains(&b'\n');
    v.split(move |&b| multi && b == b'\n')
        .filter(move |_| multi)
        .map(<[u8]>::trim_ascii)
        .filter(|l| l.len() >= MIN_LINE && !(l.starts_with(b"-----") && l.ends_with(b"-----")))
}

const BASE64: [&base64::engine::GeneralPurpose; 4] = [
    &base64::engine::general_purpose::STANDARD,
    &base64::engine::general_purpose::STANDARD_NO_PAD,
    &base64::engine::general_purpose::URL_SAFE,
    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
];

/// Tier 1: JSON-escaped, base64, hex and the base64 cores.
fn common(v: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    if v.len() > ENCODE_MAX {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Ok(text) = std::str::from_utf8(v) {
        if let Ok(json) = serde_json::to_string(text).map(Zeroizing::new) {
            out.push(Zeroizing::new(json.as_bytes()[1..json.len() - 1].to_vec()));
        }
    }
    for e in BASE64 {
        out.push(Zeroizing::new(e.encode(v).into_bytes()));
    }
    out.push(hex(v, b"0123456789abcdef"));
    out.push(hex(v, b"0123456789ABCDEF"));
    out.extend(base64_cores(v));
    out
}

fn hex(v: &[u8], digits: &[u8; 16]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(v.len() * 2));
    for b in v {
        out.push(digits[usize::from(b >> 4)]);
        out.push(digits[usize::from(b & 15)]);
    }
    out
}

/// For `v` at byte offset 0, 1 and 2 (mod 3) inside a longer text that is base64-encoded, the
/// characters that depend on `v`'s bytes alone, in the standard and URL-safe alphabets.
/// Character `k` of an encoding holds bits `6k..6k+6`; with `r` bytes before the value, those
/// of the value are bits `8r..8(r+len)`.
pub(crate) fn base64_cores(v: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out = Vec::new();
    for r in 0..3 {
        let mut text = Zeroizing::new(vec![0u8; r]);
        text.extend_from_slice(v);
        let enc = Zeroizing::new(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(text.as_slice())
                .into_bytes(),
        );
        let first = (8 * r).div_ceil(6);
        let end = 8 * (r + v.len()) / 6;
        if end < first + MIN_CORE {
            continue;
        }
        let core = Zeroizing::new(enc[first..end].to_vec());
        let url = Zeroizing::new(
            core.iter()
                .map(|&c| match c {
                    b'+' => b'-',
                    b'/' => b'_',
                    c => c,
                })
                .collect(),
        );
        out.push(core);
        out.push(url);
    }
    out
}

/// RFC 3986 unreserved characters: what most URL encoders leave alone.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The same, keeping `/` (Python's `quote` default, JavaScript's `encodeURI`).
const UNRESERVED_SLASH: &percent_encoding::AsciiSet = &UNRESERVED.remove(b'/');

/// Tier 3: percent-encoded forms as common encoders write them (everything but
/// alphanumerics encoded, or the unreserved set kept, with and without `/`; `+` for a space;
/// upper- and lowercase hex) and JSON as Go, PHP and Python escape it.
fn rare(v: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    if v.len() > ENCODE_MAX {
        return Vec::new();
    }
    let mut out = Vec::new();
    for set in [
        percent_encoding::NON_ALPHANUMERIC,
        UNRESERVED,
        UNRESERVED_SLASH,
    ] {
        let upper = Zeroizing::new(percent_encoding::percent_encode(v, set).to_string());
        let lower = Zeroizing::new(lower_hex(&upper));
        let form = Zeroizing::new(upper.replace("%20", "+"));
        for f in [&upper, &lower, &form] {
            out.push(Zeroizing::new(f.as_bytes().to_vec()));
        }
    }
    if let Ok(text) = std::str::from_utf8(v) {
        out.extend(json_variants(text));
    }
    out
}

/// `%2F` → `%2f`.
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_percent = 0;
    for c in s.chars() {
        if c == '%' {
            after_percent = 2;
            out.push(c);
        } else if after_percent > 0 {
            after_percent -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON string escapes (without the quotes) as Go (`<`, `>`, `&` as `\u003c`…), PHP (`\/`)
/// and Python's default `ensure_ascii` (non-ASCII as `\uXXXX`) write them.
fn json_variants(text: &str) -> Vec<Zeroizing<Vec<u8>>> {
    let Ok(json) = serde_json::to_string(text).map(Zeroizing::new) else {
        return Vec::new();
    };
    let plain = Zeroizing::new(json[1..json.len() - 1].to_string());
    let go = Zeroizing::new(
        plain
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
    );
    let php = Zeroizing::new(plain.replace('/', "\\/"));
    let mut ascii = Zeroizing::new(String::with_capacity(plain.len()));
    for c in plain.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                ascii.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    [&go, &php, &ascii]
        .iter()
        .map(|f| Zeroizing::new(f.as_bytes().to_vec()))
        .collect()
}

/// The secret-material strings of a JSON value, in document order.
pub(crate) struct Fields {
    /// The first [`MAX_FIELDS`] of them.
    pub(crate) kept: Vec<Zeroizing<String>>,
    /// How many more there were.
    pub(crate) skipped: usize,
}

/// The secret-material strings of `v` if it is a JSON object, array or string; `None` for
/// anything else (including JSON numbers and text that does not parse).
pub(crate) fn json_fields(v: &[u8]) -> Option<Fields> {
    if !matches!(v.trim_ascii_start().first(), Some(b'{' | b'[' | b'"')) {
        return None;
    }
    let mut fields = Fields {
        kept: Vec::new(),
        skipped: 0,
    };
    let mut de = serde_json::Deserializer::from_slice(v);
    Walk {
        name: Name::None,
        out: &mut fields,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(fields)
}

/// The name of the object field that holds a value (for an array, the field that holds the
/// array), judged once per field.
#[derive(Clone, Copy)]
enum Name {
    /// At the top of the document.
    None,
    /// A name [`secret_name`] accepts.
    Secret,
    /// Any other name.
    Other,
}

impl Name {
    fn of(name: &str) -> Name {
        if secret_name(name) {
            Name::Secret
        } else {
            Name::Other
        }
    }
}

/// Walks a JSON document without building it, keeping the strings [`secret_string`] picks.
struct Walk<'o> {
    name: Name,
    out: &'o mut Fields,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        if s.chars().count() >= MIN_LEN && secret_string(self.name, s) {
            if self.out.kept.len() < MAX_FIELDS {
                self.out.kept.push(Zeroizing::new(s.to_owned()));
            } else {
                self.out.skipped += 1;
            }
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Walk {
                name: self.name,
                out: &mut *self.out,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            map.next_value_seed(Walk {
                name: Name::of(&key),
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }
}

/// Words that make a field name secret material, alone (`key`, `api_key`, `accessKeyId`).
const SECRET_WORDS: &[&str] = &[
    "key", "keys", "pass", "pw", "pwd", "pin", "dsn", "otp", "seed",
];
/// Stems that make a field name secret material anywhere in it, its words joined
/// (`client_secret`, `refresh_token`, `PASSWORD`, `privateKey`, `APIKEY`).
const SECRET_STEMS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "passphrase",
    "token",
    "credential",
    "apikey",
    "privatekey",
    "privkey",
    "accesskey",
    "signingkey",
    "cookie",
    "mnemonic",
    "bearer",
    "authorization",
];
/// A last word that makes a field name describe a secret rather than hold it (`token_uri`,
/// `key_type`, `password_file`, `secret_name`, `token_expires_at`).
const DESCRIPTOR_WORDS: &[&str] = &[
    "uri",
    "url",
    "urls",
    "endpoint",
    "type",
    "kind",
    "path",
    "file",
    "name",
    "format",
    "alg",
    "algorithm",
    "expiry",
    "expires",
    "expiration",
    "at",
    "ttl",
    "length",
    "size",
    "version",
    "count",
    "host",
];

/// Whether a JSON string carries secret material: its field's name says so ([`secret_name`]),
/// or it has no name (the document is a string or an array of them), or it holds a PEM
/// private key, or it looks like a random token ([`looks_random`]).
fn secret_string(name: Name, s: &str) -> bool {
    match name {
        Name::None | Name::Secret => true,
        Name::Other => s.contains("PRIVATE KEY-----") || looks_random(s),
    }
}

/// Whether a field name says it holds secret material: a word of [`SECRET_WORDS`] or a stem
/// of [`SECRET_STEMS`], unless the last word is one of [`DESCRIPTOR_WORDS`] or a word is
/// `public`.
fn secret_name(name: &str) -> bool {
    let words = words(name);
    let Some(last) = words.last() else {
        return false;
    };
    if DESCRIPTOR_WORDS.contains(&last.as_str()) || words.iter().any(|w| w == "public") {
        return false;
    }
    let joined = words.concat();
    words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
        || SECRET_STEMS.iter().any(|s| joined.contains(s))
}

/// A field name's words, lowercase: split at anything but letters and digits, and where a
/// lowercase letter or digit is followed by an uppercase one (`privateKeyId`).
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// At least 24 characters, all of the base64 alphabets, with upper- and lowercase letters and
/// digits: how API keys and random tokens look, and how project ids, e-mail addresses, URLs,
/// host names, UUIDs and numeric ids do not.
fn looks_random(s: &str) -> bool {
    s.len() >= 24
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
        && s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && s.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_field(name: Option<&str>, s: &str) -> bool {
        secret_string(name.map_or(Name::None, Name::of), s)
    }

    #[test]
    fn field_names() {
        for name in [
            "private_key",
            "private_key_id",
            "client_secret",
            "secret",
            "password",
            "DB_PASSWORD",
            "token",
            "refresh_token",
            "api_key",
            "apiKey",
            "APIKEY",
            "key",
            "accessKeyId",
            "SecretAccessKey",
            "pass",
            "pw",
            "dsn",
        ] {
            assert!(secret_field(Some(name), "some value"), "{name}");
        }
        for name in [
            "type",
            "project_id",
            "client_email",
            "client_id",
            "auth_uri",
            "token_uri",
            "auth_provider_x509_cert_url",
            "client_x509_cert_url",
            "universe_domain",
            "key_type",
            "public_key",
            "secret_name",
            "password_file",
            "monkey",
            "user",
            "host",
        ] {
            assert!(!secret_field(Some(name), "some value"), "{name}");
        }
        assert!(secret_field(None, "some value"));
        assert!(secret_field(Some("d"), "nU0kjGfY7K2vQpV5xT8hR3mZ1wB6yD9e"));
        assert!(secret_field(
            Some("pem"),
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
        ));
        for s in [
            "my-project-123",
            "service_account",
            "svc@my-project-123.iam.gserviceaccount.com",
            "113027182818284590452",
            "https://oauth2.googleapis.com/token",
            "5f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
            "db-01.prod.eu-west-1.example.com",
        ] {
            assert!(!secret_field(Some("x"), s), "{s}");
        }
    }

    #[test]
    fn base64_cores_are_what_any_surrounding_text_leaves_alone() {
        let v = b"TOKEN-0123456789";
        let cores = base64_cores(v);
        for prefix in [&b""[..], b"u", b"us", b"user:", b"\xff\xff\xff\xff"] {
            for suffix in [&b""[..], b"x", b"\n\xff"] {
                let mut text = prefix.to_vec();
                text.extend_from_slice(v);
                text.extend_from_slice(suffix);
                let enc = base64::engine::general_purpose::STANDARD.encode(&text);
                assert!(
                    cores
                        .iter()
                        .any(|c| enc.contains(std::str::from_utf8(c).expect("base64 is ASCII"))),
                    "{enc}"
                );
            }
        }
        // Three alignments, two alphabets (equal here, so the set has three distinct).
        assert_eq!(cores.len(), 6);
        // A value too short for a core of MIN_CORE characters in some alignment gets none
        // there: 4 bytes give 5, 4 and 5 characters.
        assert!(base64_cores(b"abcd").is_empty());
        assert_eq!(base64_cores(b"abcde").len(), 6);
    }

    #[test]
    fn lines_of_a_multi_line_value() {
        let v = b"-----BEGIN PRIVATE KEY-----\r\nMIIEvQIBADANBgkqhkiG9w0B\r\n  short\r\nAQEFAASCBKcwggSjAgEAAoIBAQ\n-----END PRIVATE KEY-----\n";
        let got: Vec<&[u8]> = lines(v).collect();
        assert_eq!(
            got,
            [
                &b"MIIEvQIBADANBgkqhkiG9w0B"[..],
                b"AQEFAASCBKcwggSjAgEAAoIBAQ"
            ]
        );
        assert_eq!(lines(b"one line of text\n").count(), 0);
    }
}
