//! A streaming masker for workload output (`hush run`): every injected value, its base64
//! (standard and URL-safe, with and without padding), URL-encoded and JSON-escaped forms, and
//! each string field of at least [`MIN_LEN`] characters inside a JSON-valued secret, is replaced
//! by `***` — also when a value is split across reads.
//!
//! All forms go into one Aho-Corasick automaton with leftmost-longest matching. A chunk is
//! scanned together with the bytes held back from the previous one; matches that start early
//! enough to be complete are replaced, and only the last `longest - 1` bytes are held back,
//! since a match starting there could continue in the next chunk. The result is the same for
//! any split of the stream (a property test checks this). Masking is hygiene, not a boundary:
//! a workload that wants to leak a value can transform it first.
//!
//! # Fuzzing
//!
//! `fuzz/` holds a [cargo-fuzz](https://github.com/rust-fuzz/cargo-fuzz) target, `mask`, kept
//! out of the workspace (it has its own `[workspace]`). It runs the hidden `fuzz_check`, which
//! derives values, a stream and split points from the input and checks that any split gives
//! the output of [`mask_all`], that [`mask_all`] is leftmost-longest over all forms, and that
//! no masked form survives. With a nightly toolchain and `cargo install cargo-fuzz`:
//!
//! ```text
//! cd crates/hush-mask
//! cargo +nightly fuzz run mask                          # until stopped or a failure
//! cargo +nightly fuzz run mask -- -max_total_time=60    # one minute
//! ```
//!
//! The stable test suite runs the same checks on a few thousand random inputs
//! (`tests/random_inputs.rs`).
#![forbid(unsafe_code)]

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use zeroize::Zeroizing;

mod fuzz;
#[doc(hidden)]
pub use fuzz::fuzz_check;

/// Values shorter than this are not masked (they would mask ordinary text); callers warn.
pub const MIN_LEN: usize = 4;
/// What a masked value becomes.
pub const MASK: &[u8] = b"***";

/// Every form of `value` that is masked.
fn forms(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out: Vec<Zeroizing<Vec<u8>>> = vec![Zeroizing::new(value.to_vec())];
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for e in engines {
        out.push(Zeroizing::new(e.encode(value).into_bytes()));
    }
    out.push(Zeroizing::new(
        percent_encoding::percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string()
            .into_bytes(),
    ));
    if let Ok(text) = std::str::from_utf8(value) {
        if let Ok(json) = serde_json::to_string(text) {
            // Without the surrounding quotes.
            out.push(Zeroizing::new(json.as_bytes()[1..json.len() - 1].to_vec()));
        }
        // String fields of a JSON-valued secret (a key file) are masked one by one.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            let mut strings = Vec::new();
            collect_strings(&v, &mut strings);
            for s in strings {
                if s.chars().count() >= MIN_LEN {
                    out.extend(forms_plain(&s));
                }
            }
        }
    }
    out.retain(|f| f.len() >= MIN_LEN);
    out
}

/// Raw and JSON-escaped forms of one JSON string field.
fn forms_plain(s: &str) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out = vec![Zeroizing::new(s.as_bytes().to_vec())];
    if let Ok(json) = serde_json::to_string(s) {
        out.push(Zeroizing::new(json.as_bytes()[1..json.len() - 1].to_vec()));
    }
    out
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// The patterns for a set of values; shared by every stream of one run.
pub struct Patterns {
    ac: Option<AhoCorasick>,
    longest: usize,
    /// How many values were too short to mask.
    pub too_short: usize,
}

impl Patterns {
    /// Builds the automaton for `values`.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut all: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut too_short = 0;
        for v in values {
            if v.len() < MIN_LEN {
                too_short += 1;
                continue;
            }
            all.extend(forms(v));
        }
        all.sort_by(|a, b| a.as_slice().cmp(b.as_slice()));
        all.dedup_by(|a, b| a.as_slice() == b.as_slice());
        let longest = all.iter().map(|p| p.len()).max().unwrap_or(0);
        let ac = if all.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(all.iter().map(|p| p.as_slice()))
                .ok()
        };
        Patterns {
            ac,
            longest,
            too_short,
        }
    }
}

/// One output stream's masker.
pub struct Masker<'p> {
    patterns: &'p Patterns,
    pending: Zeroizing<Vec<u8>>,
}

impl<'p> Masker<'p> {
    /// A masker for one stream.
    pub fn new(patterns: &'p Patterns) -> Self {
        Masker {
            patterns,
            pending: Zeroizing::new(Vec::new()),
        }
    }

    /// Takes the next chunk; returns what can be written out now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let Some(ac) = &self.patterns.ac else {
            return chunk.to_vec();
        };
        self.pending.extend_from_slice(chunk);
        let buf = std::mem::take(&mut *self.pending);
        let buf = Zeroizing::new(buf);
        // Matches starting before `safe` are complete within `buf`; later ones may not be.
        let safe = buf.len().saturating_sub(self.patterns.longest - 1);
        let mut out = Vec::with_capacity(buf.len());
        let mut at = 0;
        for m in ac.find_iter(buf.as_slice()) {
            if m.start() >= safe {
                break;
            }
            out.extend_from_slice(&buf[at..m.start()]);
            out.extend_from_slice(MASK);
            at = m.end();
        }
        let keep_from = at.max(safe);
        out.extend_from_slice(&buf[at..keep_from]);
        self.pending.extend_from_slice(&buf[keep_from..]);
        out
    }

    /// The end of the stream: returns the rest, masked.
    pub fn finish(mut self) -> Vec<u8> {
        let Some(ac) = &self.patterns.ac else {
            return std::mem::take(&mut *self.pending);
        };
        let buf = Zeroizing::new(std::mem::take(&mut *self.pending));
        let mut out = Vec::with_capacity(buf.len());
        let mut at = 0;
        for m in ac.find_iter(buf.as_slice()) {
            out.extend_from_slice(&buf[at..m.start()]);
            out.extend_from_slice(MASK);
            at = m.end();
        }
        out.extend_from_slice(&buf[at..]);
        out
    }
}

/// Masks a whole buffer at once.
pub fn mask_all(patterns: &Patterns, input: &[u8]) -> Vec<u8> {
    let mut m = Masker::new(patterns);
    let mut out = m.push(input);
    out.extend(m.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn every_form_is_masked() {
        let secret = b"sk_live_51ABC/+=?&\"123";
        let p = Patterns::new([&secret[..]]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let url = percent_encoding::percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        let json = serde_json::to_string(std::str::from_utf8(secret).unwrap()).unwrap();
        let input = format!(
            "raw={} b64={b64} url64={b64url} pct={url} json={json} end",
            std::str::from_utf8(secret).unwrap()
        );
        let out = String::from_utf8(mask_all(&p, input.as_bytes())).unwrap();
        assert_eq!(out, "raw=*** b64=*** url64=*** pct=*** json=\"***\" end");
    }

    #[test]
    fn json_secret_fields_are_masked() {
        let key = br#"{"type": "service_account", "private_key": "-----BEGIN KEY-----\nMIIE\n", "id": 7}"#;
        let p = Patterns::new([&key[..]]);
        let out = String::from_utf8(mask_all(
            &p,
            b"key is -----BEGIN KEY-----\nMIIE\n and account service_account",
        ))
        .unwrap();
        assert_eq!(out, "key is *** and account ***");
    }

    #[test]
    fn short_values_are_counted_not_masked() {
        let p = Patterns::new([&b"abc"[..], &b"long-enough"[..]]);
        assert_eq!(p.too_short, 1);
        assert_eq!(mask_all(&p, b"abc long-enough"), b"abc ***");
    }

    #[test]
    fn no_patterns_passes_through() {
        let p = Patterns::new(std::iter::empty::<&[u8]>());
        let mut m = Masker::new(&p);
        assert_eq!(m.push(b"hello"), b"hello");
        assert!(m.finish().is_empty());
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_output(
            secrets in proptest::collection::vec("[a-zA-Z0-9/+=_-]{4,24}", 1..5),
            filler in proptest::collection::vec("[a-z /+=\n]{0,12}", 1..8),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut input = Vec::new();
            for (i, f) in filler.iter().enumerate() {
                input.extend_from_slice(f.as_bytes());
                input.extend_from_slice(secrets[i % secrets.len()].as_bytes());
            }
            let p = Patterns::new(secrets.iter().map(|s| s.as_bytes()));
            let whole = mask_all(&p, &input);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
            points.sort_unstable();
            let mut m = Masker::new(&p);
            let mut out = Vec::new();
            let mut prev = 0;
            for c in points {
                out.extend(m.push(&input[prev..c]));
                prev = c;
            }
            out.extend(m.push(&input[prev..]));
            out.extend(m.finish());
            prop_assert_eq!(&out, &whole);
            for s in &secrets {
                prop_assert!(!contains(&out, s.as_bytes()), "secret left in output");
            }
        }
    }
}
