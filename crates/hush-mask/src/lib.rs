//! A streaming masker for workload output (`hush run`): every injected value, its base64
//! (standard and URL-safe, with and without padding), URL-encoded and JSON-escaped forms, and
//! each string field of at least [`MIN_LEN`] characters inside a JSON-valued secret, is replaced
//! by `***` — also when a value is split across reads.
//!
//! All forms go into one Aho-Corasick automaton with leftmost-longest matching, asked only at
//! positions whose first bytes pass a bit filter of the forms' beginnings. A chunk is
//! scanned together with the bytes held back from the previous one; matches that start early
//! enough to be complete are replaced, and only the last `longest - 1` bytes are held back,
//! since a match starting there could continue in the next chunk. The result is the same for
//! any split of the stream (a property test checks this). Masking is hygiene, not a boundary:
//! a workload that wants to leak a value can transform it first.
//!
//! # Fuzzing
//!
//! The repository's `fuzz/` crate (kept out of the workspace, with its own `[workspace]`)
//! holds a [cargo-fuzz](https://github.com/rust-fuzz/cargo-fuzz) target, `mask`. It runs the
//! hidden `fuzz_check`, which derives values, a stream and split points from the input and
//! checks that any split gives the output of [`mask_all`], that [`mask_all`] is
//! leftmost-longest over all forms, and that no masked form survives. From the repository
//! root (nightly toolchain; the script installs cargo-fuzz when missing):
//!
//! ```text
//! scripts/fuzz mask 60                                  # one minute, as CI does
//! cargo +nightly fuzz run mask                          # until stopped or a failure
//! ```
//!
//! The stable test suite runs the same checks on a few thousand random inputs
//! (`tests/random_inputs.rs`).
#![forbid(unsafe_code)]

use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind};
use base64::Engine as _;
use zeroize::Zeroizing;

mod fuzz;
#[doc(hidden)]
pub use fuzz::fuzz_check;

/// Values shorter than this are not masked (they would mask ordinary text); callers warn.
pub const MIN_LEN: usize = 4;
/// What a masked value becomes.
pub const MASK: &[u8] = b"***";

/// Every form of `value` that is masked; for a value ending in whitespace (read from a file
/// with its newline), the forms of the trimmed value too, since workloads strip it.
fn forms(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out = forms_exact(value);
    let trimmed = value.trim_ascii_end();
    if trimmed.len() != value.len() && trimmed.len() >= MIN_LEN {
        out.extend(forms_exact(trimmed));
    }
    out
}

fn forms_exact(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
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
    out.extend(url_forms(value));
    if let Ok(text) = std::str::from_utf8(value) {
        out.extend(json_forms(text));
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

/// RFC 3986 unreserved characters: what most URL encoders leave alone.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The same, keeping `/` (Python's `quote` default, JavaScript's `encodeURI`).
const UNRESERVED_SLASH: &percent_encoding::AsciiSet = &UNRESERVED.remove(b'/');

/// Percent-encoded forms as common encoders write them: everything but alphanumerics
/// encoded, or the unreserved set kept (with and without `/`), form encoding (`+` for a
/// space), each with upper- and lowercase hex.
fn url_forms(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out = Vec::new();
    for set in [
        percent_encoding::NON_ALPHANUMERIC,
        UNRESERVED,
        UNRESERVED_SLASH,
    ] {
        let upper = Zeroizing::new(percent_encoding::percent_encode(value, set).to_string());
        let lower = Zeroizing::new(lower_hex(&upper));
        let form = Zeroizing::new(upper.replace("%20", "+"));
        for f in [&upper, &lower, &form] {
            out.push(Zeroizing::new(f.as_bytes().to_vec()));
        }
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

/// JSON string escapes as common encoders write them (without the quotes): serde/JavaScript,
/// Go (`<`, `>`, `&` as `\u003c`…), PHP (`\/`), Python's default `ensure_ascii` (non-ASCII
/// as `\uXXXX`).
fn json_forms(text: &str) -> Vec<Zeroizing<Vec<u8>>> {
    let Ok(json) = serde_json::to_string(text) else {
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
    [&plain, &go, &php, &ascii]
        .iter()
        .map(|f| Zeroizing::new(f.as_bytes().to_vec()))
        .collect()
}

/// Raw and JSON-escaped forms of one JSON string field.
fn forms_plain(s: &str) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out = vec![Zeroizing::new(s.as_bytes().to_vec())];
    out.extend(json_forms(s));
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
    /// One bit per hash of every form's first [`MIN_LEN`] bytes: where no bit is set, no form
    /// starts, and the automaton is not asked.
    starts: Box<[u64]>,
    longest: usize,
    /// How many values were too short to mask.
    pub too_short: usize,
    /// Every form, sorted: to tell whether a stream's tail could be the start of one.
    sorted: Vec<Zeroizing<Vec<u8>>>,
}

/// Most memory the masker's automaton may take as a DFA.
const DFA_BUDGET: usize = 32 << 20;

/// Bits in the start filter: 32 KiB, which stays in the L1 cache.
const START_BITS: usize = 1 << 18;

/// The filter slot of a form's first bytes (a multiplicative hash).
fn start_slot(head: [u8; MIN_LEN]) -> usize {
    (u32::from_le_bytes(head).wrapping_mul(0x9E37_79B1) >> (32 - 18)) as usize
}

impl Patterns {
    /// The leftmost-longest match in `buf` starting in `from..until`. Every form is at least
    /// [`MIN_LEN`] bytes, so a position whose next bytes hash to an empty slot starts none:
    /// the scan checks one bit per byte (independent loads the CPU overlaps, where walking an
    /// automaton is a chain of dependent ones) and asks the automaton, anchored, only where a
    /// bit is set. The first position where it answers is the leftmost match; its answer is
    /// the longest there.
    fn next_match(&self, buf: &[u8], from: usize, until: usize) -> Option<(usize, usize)> {
        let ac = self.ac.as_ref()?;
        let until = until.min(buf.len().saturating_sub(MIN_LEN - 1));
        if from >= until {
            return None;
        }
        for (i, head) in (from..).zip(buf[from..until + MIN_LEN - 1].windows(MIN_LEN)) {
            let head: [u8; MIN_LEN] = head.try_into().unwrap_or_default();
            let slot = start_slot(head);
            if self.starts[slot / 64] & (1 << (slot % 64)) == 0 {
                continue;
            }
            let input = Input::new(buf).span(i..buf.len()).anchored(Anchored::Yes);
            // The automaton is built for anchored searches, so this cannot fail; if it ever
            // did, the pump stops (losing output) rather than pass it through unmasked.
            #[allow(clippy::expect_used)]
            let found = ac
                .try_find(input)
                .expect("anchored search on an anchored automaton");
            if let Some(m) = found {
                return Some((m.start(), m.end()));
            }
        }
        None
    }

    /// Whether `tail` is a proper prefix of some form (so a match may start there and end in
    /// data not yet seen).
    fn could_continue(&self, tail: &[u8]) -> bool {
        let from = self.sorted.partition_point(|p| p.as_slice() < tail);
        self.sorted[from..]
            .iter()
            .take_while(|p| p.starts_with(tail))
            .any(|p| p.len() > tail.len())
    }
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
            // Asked only where a form may start (anchored). A DFA answers fastest but takes
            // about (bytes of all forms) × 512 bytes; past DFA_BUDGET (a certificate bundle
            // among the values, say) a contiguous NFA, a fraction of that.
            let bytes: usize = all.iter().map(|p| p.len()).sum();
            let kind = if bytes.saturating_mul(512) <= DFA_BUDGET {
                AhoCorasickKind::DFA
            } else {
                AhoCorasickKind::ContiguousNFA
            };
            let build = |kind| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .start_kind(StartKind::Anchored)
                    .kind(kind)
                    .build(all.iter().map(|p| p.as_slice()))
            };
            build(Some(kind)).or_else(|_| build(None)).ok()
        };
        let mut starts = vec![0u64; START_BITS / 64].into_boxed_slice();
        for p in &all {
            if let Some(head) = p.first_chunk::<MIN_LEN>() {
                let slot = start_slot(*head);
                starts[slot / 64] |= 1 << (slot % 64);
            }
        }
        Patterns {
            ac,
            starts,
            longest,
            too_short,
            sorted: all,
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
        if self.patterns.ac.is_none() {
            return chunk.to_vec();
        }
        // Scan the chunk in place when nothing is held back (the common case); join the two
        // only when a form may straddle them.
        let joined;
        let buf: &[u8] = if self.pending.is_empty() {
            chunk
        } else {
            self.pending.extend_from_slice(chunk);
            joined = Zeroizing::new(std::mem::take(&mut *self.pending));
            joined.as_slice()
        };
        // Bytes from the first position whose rest could begin a form are held back until
        // more data (or the end) decides; every match starting before it is final: no form
        // starting there can extend past the data seen. Nothing else is held, so output is
        // not delayed.
        let window = buf.len().saturating_sub(self.patterns.longest - 1);
        let safe = (window..buf.len())
            .find(|&i| self.patterns.could_continue(&buf[i..]))
            .unwrap_or(buf.len());
        let mut out = Vec::with_capacity(buf.len());
        let mut at = 0;
        while let Some((start, end)) = self.patterns.next_match(buf, at, safe) {
            out.extend_from_slice(&buf[at..start]);
            out.extend_from_slice(MASK);
            at = end;
        }
        let keep_from = at.max(safe);
        out.extend_from_slice(&buf[at..keep_from]);
        self.pending.extend_from_slice(&buf[keep_from..]);
        out
    }

    /// The end of the stream: returns the rest, masked.
    pub fn finish(mut self) -> Vec<u8> {
        if self.patterns.ac.is_none() {
            return std::mem::take(&mut *self.pending);
        }
        let buf = Zeroizing::new(std::mem::take(&mut *self.pending));
        let mut out = Vec::with_capacity(buf.len());
        let mut at = 0;
        while let Some((start, end)) = self.patterns.next_match(&buf, at, buf.len()) {
            out.extend_from_slice(&buf[at..start]);
            out.extend_from_slice(MASK);
            at = end;
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

    /// A value too big for the DFA budget (a 100 KB certificate bundle) gets the compact
    /// automaton and is masked all the same, split or not, beside a small value.
    #[test]
    fn large_values_are_masked_with_the_compact_automaton() {
        let bundle: Vec<u8> = (0..100_000u32)
            .map(|i| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n"[(i * 7 % 37) as usize])
            .collect();
        let p = Patterns::new([&bundle[..], &b"tok-12345"[..]]);
        assert!(matches!(
            p.ac.as_ref().map(|a| a.kind()),
            Some(AhoCorasickKind::ContiguousNFA)
        ));
        let mut stream = b"cert: ".to_vec();
        stream.extend_from_slice(&bundle);
        stream.extend_from_slice(b" then tok-12345.");
        assert_eq!(mask_all(&p, &stream), b"cert: *** then ***.");
        let mut m = Masker::new(&p);
        let mut out = Vec::new();
        for chunk in stream.chunks(4096) {
            out.extend(m.push(chunk));
        }
        out.extend(m.finish());
        assert_eq!(out, b"cert: *** then ***.");
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
    fn common_encoder_variants_are_masked() {
        let secret = "sk-live_abc/def+ghi=é<&>";
        let p = Patterns::new([secret.as_bytes()]);
        for form in [
            "sk-live_abc%2Fdef%2Bghi%3D%C3%A9%3C%26%3E", // quote(v, safe="")
            "sk-live_abc/def%2Bghi%3D%C3%A9%3C%26%3E",   // quote(v)
            "sk-live_abc%2fdef%2bghi%3d%c3%a9%3c%26%3e", // lowercase hex
            r"sk-live_abc/def+ghi=é\u003c\u0026\u003e",  // Go
            r"sk-live_abc\/def+ghi=é<&>",                // PHP
            r"sk-live_abc/def+ghi=\u00e9<&>",            // Python ensure_ascii
        ] {
            let out = mask_all(&p, format!("[{form}]").as_bytes());
            assert_eq!(out, b"[***]", "{form}");
        }
        // A value stored from a file with its newline is also masked without it.
        let p = Patterns::new([&b"ghp_filetoken_0123\n"[..]]);
        assert_eq!(
            mask_all(&p, b"{\"t\": \"ghp_filetoken_0123\"}"),
            b"{\"t\": \"***\"}"
        );
    }

    #[test]
    fn only_a_possible_start_of_a_value_is_held_back() {
        let p = Patterns::new([&b"secret-value-1234"[..]]);
        let mut m = Masker::new(&p);
        assert_eq!(
            m.push(b"server listening on :8080\n"),
            b"server listening on :8080\n"
        );
        assert_eq!(m.push(b"token secret-val"), b"token ");
        assert_eq!(m.push(b"ue-1234 ok"), b"*** ok");
        assert_eq!(m.finish(), b"");
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
