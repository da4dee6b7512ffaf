//! A streaming masker for workload output (`hush run`): every injected value is replaced by
//! `***` in the forms a program is likely to print it in — also when a value is split across
//! reads:
//!
//! It owns the masking of a workload's output. It must never write what it masks anywhere but
//! as `***`, keep a value beyond the masker's life (patterns are zeroized on drop), or spend
//! unbounded memory or time on hostile output.
//!
//! - as written, and without trailing whitespace (a token read from a file with its newline);
//! - hex (lower- and uppercase), base64 (standard and URL-safe, padded or not), URL-encoded
//!   and JSON-escaped as common encoders write them;
//! - inside base64 of longer text (`Authorization: Basic base64(user:TOKEN)`): the value
//!   starts at an offset of 0, 1 or 2 modulo 3 in the encoded text, and for each the run of
//!   base64 characters that depends on the value's bytes alone (its *core*) is masked, in both
//!   alphabets, when it is at least [`MIN_CORE`] characters (36 bits of the value; shorter
//!   runs would turn up in unrelated base64); the character at each end that also holds bits
//!   of the text around it stays (it gives away at most 4 bits of the value);
//! - for a multi-line value that is not JSON, each line of at least [`MIN_LINE`] bytes
//!   (trimmed, `\r` included), except PEM armour lines (`-----BEGIN PRIVATE KEY-----`), which
//!   every key shares;
//! - for a JSON object or array, the strings of its **secret-material fields**, each with
//!   every form above (so one line of a service account's `private_key`). A string is secret
//!   material when its field's name says so — a word `key`, `keys`, `pass`, `pw`, `pwd`,
//!   `pin`, `dsn`, `otp`, `seed`, or `secret`, `password`, `passwd`, `passphrase`, `token`,
//!   `credential`, `apikey`, `privatekey`, `privkey`, `accesskey`, `signingkey`, `cookie`,
//!   `mnemonic`, `bearer`, `authorization` anywhere in it, unless its last word says it
//!   describes a secret (`token_uri`, `key_type`, `secret_name`, `password_file`, …) or a word
//!   is `public` — or it holds a PEM private key, or it looks like a random token (24 or more
//!   base64 characters with upper- and lowercase letters and digits), or it has no name (the
//!   document is an array of strings). Other strings (`"type": "service_account"`, a project
//!   id, an e-mail address, a URL) are not masked alone, only as part of the whole document:
//!   masking every string of a key file hid ordinary words in every log line.
//!
//! **Bounds.** The work is bounded for any input, so that a JSON secret of 100,000 strings
//! costs no more than a small one: at most [`MAX_FIELDS`] strings per JSON value get forms of
//! their own (the rest are masked within the whole document); values and fields over
//! [`ENCODE_MAX`] bytes are masked as written and line by line, not encoded; derived forms
//! share [`FORM_BUDGET`] bytes and [`HEAD_BUDGET`] bytes of automaton patterns, filled in
//! the order common encodings, then JSON fields and lines, then rare encoder variants, with
//! what does not fit counted in [`Patterns::dropped`]. The values themselves are always
//! masked.
//!
//! All forms go into one Aho-Corasick automaton with leftmost-longest matching, asked only at
//! positions whose first bytes pass a bit filter of the forms' beginnings. A form enters the
//! automaton by its first 64 bytes; where those match a longer form, it is compared in full,
//! so a 1 MiB value costs the automaton no more than a short one. A chunk is
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
//! hidden `fuzz_check`, which derives values, a stream and split points from the input
//! (splicing in values, their forms, prefixes of them and base64 of text around them) and
//! checks that any split gives the output of [`mask_all`], that [`mask_all`] is
//! leftmost-longest over all forms, that no masked form survives, and that every value has the
//! forms listed above (hex, base64 cores derived independently, lines). From the repository
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
use zeroize::Zeroizing;

mod forms;
mod fuzz;
use forms::HEAD;
pub use forms::{
    ENCODE_MAX, FORM_BUDGET, FORM_OVERHEAD, HEAD_BUDGET, MAX_FIELDS, MIN_CORE, MIN_LINE,
};
#[doc(hidden)]
pub use fuzz::fuzz_check;

/// Values shorter than this are not masked (they would mask ordinary text); callers warn.
pub const MIN_LEN: usize = 4;
/// What a masked value becomes.
pub const MASK: &[u8] = b"***";

/// The patterns for a set of values; shared by every stream of one run.
pub struct Patterns {
    /// The first [`HEAD`] bytes of every form, distinct, in sorted order.
    ac: Option<AhoCorasick>,
    /// Per automaton pattern: whether some form is longer than it (so a match is checked
    /// against the forms in full).
    truncated: Vec<bool>,
    /// One bit per hash of every form's first [`MIN_LEN`] bytes: where no bit is set, no form
    /// starts, and the automaton is not asked.
    starts: Box<[u64]>,
    /// Where a bit of `starts` is set, a second look before the automaton: one bit per hash
    /// of the first [`LONG_START`] bytes of every form that long ...
    long_starts: Box<[u64]>,
    /// ... and one per hash of the first [`MIN_LEN`] bytes of every shorter form.
    short_starts: Box<[u64]>,
    longest: usize,
    /// How many values were too short to mask.
    pub too_short: usize,
    /// How many derived forms and JSON fields the bounds left out (see the module docs); the
    /// values themselves are always masked.
    pub dropped: usize,
    /// Every form, sorted: to tell whether a stream's tail could be the start of one, and
    /// to check forms longer than the automaton's patterns.
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

/// How many first bytes the second look of the start filter hashes.
const LONG_START: usize = 8;

/// The second look's slot of a form's first [`LONG_START`] bytes.
fn long_slot(head: [u8; LONG_START]) -> usize {
    (u64::from_le_bytes(head).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - 18)) as usize
}

fn bit(set: &[u64], slot: usize) -> bool {
    set[slot / 64] & (1 << (slot % 64)) != 0
}

fn set_bit(set: &mut [u64], slot: usize) {
    set[slot / 64] |= 1 << (slot % 64);
}

/// The first position in `from..until` whose next [`MIN_LEN`] bytes pass the start filter
/// (`until + MIN_LEN - 1 <= buf.len()`). The hot loop, kept apart so that it holds nothing
/// else in registers.
fn next_start(starts: &[u64], buf: &[u8], from: usize, until: usize) -> Option<usize> {
    buf[from..until + MIN_LEN - 1]
        .windows(MIN_LEN)
        .position(|w| {
            let head: [u8; MIN_LEN] = w.try_into().unwrap_or_default();
            bit(starts, start_slot(head))
        })
        .map(|p| from + p)
}

impl Patterns {
    /// Whether a form may start with these bytes (no false negatives).
    fn may_start(&self, head: [u8; MIN_LEN]) -> bool {
        bit(&self.starts, start_slot(head))
    }

    /// Where [`Patterns::may_start`] said yes, a second look at more bytes (no false
    /// negatives either): hex forms start with digits that logs are full of, and each
    /// needless automaton call costs a cache miss or more.
    fn may_start_at(&self, buf: &[u8], i: usize, head: [u8; MIN_LEN]) -> bool {
        match buf.get(i..).and_then(<[u8]>::first_chunk::<LONG_START>) {
            Some(long) => {
                bit(&self.long_starts, long_slot(*long))
                    || bit(&self.short_starts, start_slot(head))
            }
            None => true,
        }
    }

    /// The leftmost-longest match in `buf` starting in `from..until`. Every form is at least
    /// [`MIN_LEN`] bytes, so a position whose next bytes hash to an empty slot starts none:
    /// the scan checks one bit per byte (independent loads the CPU overlaps, where walking an
    /// automaton is a chain of dependent ones), takes a second look at the next
    /// [`LONG_START`] bytes where a bit is set, and asks the automaton, anchored, only where
    /// both pass. The first position where it answers is the leftmost match; its answer is
    /// the longest there, unless it is the head of longer forms, which are then compared.
    fn next_match(&self, buf: &[u8], from: usize, until: usize) -> Option<(usize, usize)> {
        let ac = self.ac.as_ref()?;
        let until = until.min(buf.len().saturating_sub(MIN_LEN - 1));
        if from >= until {
            return None;
        }
        let mut at = from;
        while let Some(i) = next_start(&self.starts, buf, at, until) {
            at = i + 1;
            let head = buf[i..]
                .first_chunk::<MIN_LEN>()
                .copied()
                .unwrap_or_default();
            if !self.may_start_at(buf, i, head) {
                continue;
            }
            let input = Input::new(buf).span(i..buf.len()).anchored(Anchored::Yes);
            // The automaton is built for anchored searches, so this cannot fail; if it ever
            // did, the pump stops (losing output) rather than pass it through unmasked.
            #[allow(clippy::expect_used)]
            let found = ac
                .try_find(input)
                .expect("anchored search on an anchored automaton");
            let Some(m) = found else { continue };
            if !self.truncated[m.pattern().as_usize()] {
                return Some((m.start(), m.end()));
            }
            if let Some(len) = self.longest_at(&buf[i..]) {
                return Some((i, i + len));
            }
        }
        None
    }

    /// The length of the longest form `rest` starts with, given that it starts with a
    /// [`HEAD`]-byte automaton pattern that some longer form has: those longer forms are
    /// compared in full, and if none is there, each shorter length is looked up.
    fn longest_at(&self, rest: &[u8]) -> Option<usize> {
        let head = &rest[..HEAD];
        let from = self.sorted.partition_point(|p| p.as_slice() < head);
        let long = self.sorted[from..]
            .iter()
            .take_while(|p| p.starts_with(head))
            .filter(|p| rest.starts_with(p))
            .map(|p| p.len())
            .max();
        long.or_else(|| {
            (MIN_LEN..HEAD).rev().find(|&n| {
                self.sorted
                    .binary_search_by(|p| p.as_slice().cmp(&rest[..n]))
                    .is_ok()
            })
        })
    }

    /// Whether `tail` is a proper prefix of some form (so a match may start there and end in
    /// data not yet seen).
    fn could_continue(&self, tail: &[u8]) -> bool {
        if let Some(head) = tail.first_chunk::<MIN_LEN>() {
            if !self.may_start(*head) {
                return false;
            }
        }
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
        let forms::Forms {
            all,
            too_short,
            dropped,
        } = forms::collect(values);
        let longest = all.iter().map(|p| p.len()).max().unwrap_or(0);
        // The automaton holds each form's first HEAD bytes; forms sharing them are adjacent
        // in sorted order, so one pass makes the distinct heads.
        let mut heads: Vec<&[u8]> = Vec::new();
        let mut truncated: Vec<bool> = Vec::new();
        for p in &all {
            let head = &p[..p.len().min(HEAD)];
            if heads.last() != Some(&head) {
                heads.push(head);
                truncated.push(false);
            }
            if p.len() > HEAD {
                if let Some(t) = truncated.last_mut() {
                    *t = true;
                }
            }
        }
        let ac = if heads.is_empty() {
            None
        } else {
            // Asked only where a form may start (anchored). A DFA answers fastest but takes
            // about (bytes of all heads) × 512 bytes; past DFA_BUDGET a contiguous NFA, a
            // fraction of that.
            let bytes: usize = heads.iter().map(|p| p.len()).sum();
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
                    .build(&heads)
            };
            build(Some(kind)).or_else(|_| build(None)).ok()
        };
        let empty = || vec![0u64; START_BITS / 64].into_boxed_slice();
        let (mut starts, mut long_starts, mut short_starts) = (empty(), empty(), empty());
        for p in &heads {
            if let Some(head) = p.first_chunk::<MIN_LEN>() {
                set_bit(&mut starts, start_slot(*head));
                match p.first_chunk::<LONG_START>() {
                    Some(long) => set_bit(&mut long_starts, long_slot(*long)),
                    None => set_bit(&mut short_starts, start_slot(*head)),
                }
            }
        }
        drop(heads);
        Patterns {
            ac,
            truncated,
            starts,
            long_starts,
            short_starts,
            longest,
            too_short,
            dropped,
            sorted: all,
        }
    }

    /// What the patterns take (for tests and diagnostics).
    #[doc(hidden)]
    pub fn sizes(&self) -> Sizes {
        Sizes {
            forms: self.sorted.len(),
            form_bytes: self.sorted.iter().map(|p| p.len()).sum(),
            automaton_patterns: self.truncated.len(),
            automaton_bytes: self.ac.as_ref().map_or(0, AhoCorasick::memory_usage),
        }
    }
}

/// What a [`Patterns`] takes.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Distinct forms masked.
    pub forms: usize,
    /// Their bytes.
    pub form_bytes: usize,
    /// Distinct heads in the automaton.
    pub automaton_patterns: usize,
    /// The automaton's heap memory.
    pub automaton_bytes: usize,
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

    /// A masker for a stream whose patterns grew (`hush run --watch` learnt new values): it
    /// goes on from `pending`, what the previous masker held back ([`Masker::into_pending`]).
    pub fn resume(patterns: &'p Patterns, pending: Zeroizing<Vec<u8>>) -> Self {
        Masker { patterns, pending }
    }

    /// What is held back, undecided (to go on with [`Masker::resume`]).
    pub fn into_pending(mut self) -> Zeroizing<Vec<u8>> {
        std::mem::take(&mut self.pending)
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
    use base64::Engine as _;
    use proptest::prelude::*;

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    /// A large value (a 100 KB certificate bundle) enters the automaton by its first HEAD
    /// bytes, so the automaton stays small, and is masked all the same, split or not, beside
    /// a small value.
    #[test]
    fn large_values_are_masked_by_their_heads() {
        let bundle: Vec<u8> = (0..100_000u32)
            .map(|i| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n"[(i * 7 % 37) as usize])
            .collect();
        let p = Patterns::new([&bundle[..], &b"tok-12345"[..]]);
        assert!(p.sizes().automaton_bytes < 1 << 20, "{:?}", p.sizes());
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
    fn hex_forms_are_masked() {
        let p = Patterns::new([&b"tok\x00\xffen-1"[..]]);
        let out = mask_all(
            &p,
            b"lower 746f6b00ff656e2d31 upper 746F6B00FF656E2D31 mixed 746f6B00ff656e2d31",
        );
        assert_eq!(out, b"lower *** upper *** mixed 746f6B00ff656e2d31");
    }

    /// `Authorization: Basic base64(user:TOKEN)`: the value sits at any offset inside the
    /// encoded text, so the characters that depend on it alone are masked, in both alphabets,
    /// and what is around them is kept.
    #[test]
    fn base64_of_text_containing_the_value_is_masked() {
        let token = "ghp_R2d2C3poB8b8TOKEN";
        let p = Patterns::new([token.as_bytes()]);
        for user in ["", "u", "us", "use", "user:", "alice:", "bob@example.com:"] {
            for after in ["", "!", "?x", "\n"] {
                let text = format!("{user}{token}{after}");
                for e in [
                    &base64::engine::general_purpose::STANDARD,
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ] {
                    let header = format!("Authorization: Basic {}\n", e.encode(&text));
                    let out = String::from_utf8(mask_all(&p, header.as_bytes())).unwrap();
                    assert!(out.starts_with("Authorization: Basic "), "{out}");
                    assert!(out.contains("***"), "{header} → {out}");
                    // At most the characters that also hold bits of the text around the
                    // value survive: the whole prefix's encoding plus one, and at most
                    // three after.
                    let kept = out.len() - "Authorization: Basic \n".len() - 3;
                    let around = (user.len() * 4).div_ceil(3) + 1 + after.len() * 2 + 4;
                    assert!(kept <= around, "{header} → {out}");
                    for core in fuzz::determined_base64(token.as_bytes()) {
                        assert!(!contains(out.as_bytes(), &core), "{out}");
                    }
                }
            }
        }
        assert_eq!(
            mask_all(
                &p,
                b"Authorization: Basic dXNlcjpnaHBfUjJkMkMzcG9COGI4VE9LRU4=\n"
            ),
            b"Authorization: Basic dXNlcjp***4=\n"
        );
        // The same value as a whole base64 text is still masked whole.
        let b64 = base64::engine::general_purpose::STANDARD.encode(token);
        assert_eq!(mask_all(&p, format!("[{b64}]").as_bytes()), b"[***]");
    }

    /// A core short enough to turn up in unrelated base64 is not masked: a 4-byte value
    /// has none (its raw form is still masked).
    #[test]
    fn short_values_get_no_base64_core() {
        let p = Patterns::new([&b"abcd"[..]]);
        let other = base64::engine::general_purpose::STANDARD.encode("xabcdx");
        assert_eq!(mask_all(&p, other.as_bytes()), other.as_bytes());
        assert_eq!(mask_all(&p, b"abcd"), b"***");
    }

    const PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7q9Zk3Jx0bW1m\n\
        YXNrZWQtaW4tdGVzdHMtb25seS1ub3QtYS1yZWFsLWtleS0xMjM0NTY3ODkwYWJj\n\
        ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=\n\
        -----END PRIVATE KEY-----\n";

    /// One line of a PEM key printed alone is masked; the armour lines, which every key has,
    /// and lines under 8 bytes are not.
    #[test]
    fn each_line_of_a_multi_line_value_is_masked() {
        let crlf = PEM.replace('\n', "\r\n");
        for value in [
            PEM,
            crlf.as_str(),
            "user=admin\nshort\npass=hunter2-not-real\n",
        ] {
            let p = Patterns::new([value.as_bytes()]);
            for line in value.lines() {
                let line = line.trim();
                let out = mask_all(&p, format!("got {line} here\n").as_bytes());
                if line.len() >= MIN_LINE && !line.starts_with("-----") {
                    assert_eq!(out, b"got *** here\n", "{line}");
                } else {
                    assert_eq!(out, format!("got {line} here\n").as_bytes(), "{line}");
                }
            }
            assert_eq!(mask_all(&p, value.as_bytes()), b"***");
        }
    }

    const SERVICE_ACCOUNT: &str = r#"{
  "type": "service_account",
  "project_id": "my-project-123",
  "private_key_id": "3f1e9c0b7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
  "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7q9Zk3Jx0bW1m\nYXNrZWQtaW4tdGVzdHMtb25seS1ub3QtYS1yZWFsLWtleS0xMjM0NTY3ODkwYWJj\nZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=\n-----END PRIVATE KEY-----\n",
  "client_email": "deployer@my-project-123.iam.gserviceaccount.com",
  "client_id": "113027182818284590452",
  "auth_uri": "https://accounts.google.com/o/oauth2/auth",
  "token_uri": "https://oauth2.googleapis.com/token",
  "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
  "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/deployer%40my-project-123.iam.gserviceaccount.com",
  "universe_domain": "googleapis.com"
}
"#;

    /// Regression (issue 13): every string field of a JSON secret was masked, so a log line
    /// naming the project or the account type lost them. Only secret material is masked.
    #[test]
    fn a_service_account_key_masks_its_secret_material_only() {
        let p = Patterns::new([SERVICE_ACCOUNT.as_bytes()]);
        for public in [
            "a line mentioning service_account and my-project-123",
            "as deployer@my-project-123.iam.gserviceaccount.com (113027182818284590452)",
            "token from https://oauth2.googleapis.com/token on googleapis.com",
            "certs at https://www.googleapis.com/oauth2/v1/certs",
            "-----BEGIN PRIVATE KEY-----",
        ] {
            assert_eq!(
                String::from_utf8(mask_all(&p, public.as_bytes())).unwrap(),
                public
            );
        }
        let json: serde_json::Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
        let key = json["private_key"].as_str().unwrap();
        let escaped = serde_json::to_string(key).unwrap();
        let mut secret = vec![
            SERVICE_ACCOUNT.to_string(),
            SERVICE_ACCOUNT.trim_end().to_string(),
            key.to_string(),
            key.trim_end().to_string(),
            escaped[1..escaped.len() - 1].to_string(),
            base64::engine::general_purpose::STANDARD.encode(key),
            "3f1e9c0b7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f".to_string(),
        ];
        secret.extend(
            key.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_string),
        );
        for s in secret {
            let out = mask_all(&p, format!("<{s}>").as_bytes());
            assert_eq!(out, b"<***>", "{s}");
        }
    }

    /// Regression (issue 13): a JSON secret of 100,000 strings made `hush run` take 5 s and
    /// 421 MB building forms for every string. At most MAX_FIELDS strings get forms of their
    /// own, and the document (longer than ENCODE_MAX) is masked as written.
    #[test]
    fn a_json_value_with_100000_strings_stays_within_the_bounds() {
        let mut named = b"{".to_vec();
        for i in 0..100_000 {
            let comma = if i == 0 { "" } else { "," };
            named.extend(format!(r#"{comma}"api_key_{i}":"v{i:07}""#).into_bytes());
        }
        named.push(b'}');
        let unnamed =
            serde_json::to_vec(&(0..100_000).map(|i| format!("v{i:07}")).collect::<Vec<_>>())
                .unwrap();
        for doc in [named, unnamed] {
            let p = Patterns::new([&doc[..]]);
            let s = p.sizes();
            eprintln!(
                "{} bytes of JSON: {} forms of {} bytes, {} automaton patterns in {} bytes, {} left out",
                doc.len(),
                s.forms,
                s.form_bytes,
                s.automaton_patterns,
                s.automaton_bytes,
                p.dropped
            );
            // Each field has at most 2 × 26 forms (as written and trimmed, each with 13
            // common and 12 rare encodings); the document 2 (as written and trimmed).
            assert!(s.forms <= 2 + MAX_FIELDS * 52, "{s:?}");
            assert!(s.form_bytes <= doc.len() + MAX_FIELDS * 52 * 64, "{s:?}");
            assert!(s.automaton_bytes <= 8 << 20, "{s:?}");
            assert_eq!(p.dropped, 100_000 - MAX_FIELDS);
            assert_eq!(mask_all(&p, &doc), b"***");
            // A field with forms of its own, and one past the cap, masked only in the
            // document.
            assert_eq!(mask_all(&p, b"[v0000007]"), b"[***]");
            assert_eq!(mask_all(&p, b"[v0099999]"), b"[v0099999]");
        }
    }

    /// Past the budgets, derived forms are dropped (and counted); every value is still
    /// masked as written.
    #[test]
    fn many_values_keep_their_raw_form_past_the_budget() {
        let values: Vec<String> = (0..20_000)
            .map(|i| format!("value-{i:05}-with/some+url&json<chars>"))
            .collect();
        let p = Patterns::new(values.iter().map(|v| v.as_bytes()));
        assert!(p.dropped > 0);
        // Past the DFA budget: the compact automaton.
        assert!(matches!(
            p.ac.as_ref().map(|a| a.kind()),
            Some(AhoCorasickKind::ContiguousNFA)
        ));
        let heads: usize = p.sorted.iter().map(|f| f.len().min(HEAD)).sum();
        let raw: usize = values.iter().map(|v| v.len().min(HEAD)).sum();
        assert!(heads <= raw + HEAD_BUDGET);
        for v in values.iter().step_by(997) {
            assert_eq!(mask_all(&p, format!("({v})").as_bytes()), b"(***)");
        }
    }

    /// Forms longer than the automaton's heads: a match of a head is checked against the
    /// forms in full, and the longest that is there wins, or else a shorter one.
    #[test]
    fn long_forms_are_compared_in_full() {
        let a = "a".repeat(HEAD + 10);
        let b = format!("{a}-bbbb");
        let short = "a".repeat(MIN_LEN);
        let p = Patterns::new([a.as_bytes(), b.as_bytes(), short.as_bytes()]);
        assert_eq!(mask_all(&p, format!("<{b}>").as_bytes()), b"<***>");
        assert_eq!(mask_all(&p, format!("<{a}-bbb>").as_bytes()), b"<***-bbb>");
        // HEAD + 5 bytes of `a`: the head matches but neither long form is there, so the
        // 4-byte value is, 17 times, and 1 byte is left.
        let s = "a".repeat(HEAD + 5);
        let out = mask_all(&p, format!("<{s}>").as_bytes());
        assert_eq!(out, format!("<{}a>", "***".repeat(17)).as_bytes());
        let mut m = Masker::new(&p);
        let mut out = Vec::new();
        for c in format!("<{b}>").as_bytes().chunks(7) {
            out.extend(m.push(c));
        }
        out.extend(m.finish());
        assert_eq!(out, b"<***>");
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

    /// How the property test writes a value into the stream.
    #[derive(Debug, Clone)]
    enum Render {
        Raw,
        HexLower,
        HexUpper,
        /// Base64 of text around the value, in the standard or URL-safe alphabet.
        Base64 {
            before: String,
            after: String,
            url: bool,
        },
        /// One line of the value.
        Line(prop::sample::Index),
    }

    fn render(value: &str, how: &Render) -> Vec<u8> {
        match how {
            Render::Raw => value.as_bytes().to_vec(),
            Render::HexLower => value
                .bytes()
                .flat_map(|b| format!("{b:02x}").into_bytes())
                .collect(),
            Render::HexUpper => value
                .bytes()
                .flat_map(|b| format!("{b:02X}").into_bytes())
                .collect(),
            Render::Base64 { before, after, url } => {
                let text = format!("{before}{value}{after}");
                let e = if *url {
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD
                } else {
                    &base64::engine::general_purpose::STANDARD
                };
                e.encode(text).into_bytes()
            }
            Render::Line(i) => {
                let lines: Vec<&str> = value.lines().collect();
                lines[i.index(lines.len())].as_bytes().to_vec()
            }
        }
    }

    fn renders() -> impl Strategy<Value = Render> {
        prop_oneof![
            Just(Render::Raw),
            Just(Render::HexLower),
            Just(Render::HexUpper),
            ("[a-z:@]{0,7}", "[a-z\n]{0,3}", any::<bool>())
                .prop_map(|(before, after, url)| Render::Base64 { before, after, url }),
            any::<prop::sample::Index>().prop_map(Render::Line),
        ]
    }

    proptest! {
        /// Values (some of several lines) written raw, in hex, as base64 of text around them
        /// or one line at a time, between filler: any split of the stream gives the output of
        /// the whole, and none of those forms survives.
        #[test]
        fn any_split_gives_the_same_output(
            secrets in proptest::collection::vec(
                proptest::collection::vec("[a-zA-Z0-9/+=_-]{4,24}", 1..4).prop_map(|l| l.join("\n")),
                1..5,
            ),
            filler in proptest::collection::vec("[a-z /+=\n]{0,12}", 1..8),
            how in proptest::collection::vec(renders(), 1..8),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut input = Vec::new();
            for (i, f) in filler.iter().enumerate() {
                input.extend_from_slice(f.as_bytes());
                input.extend(render(&secrets[i % secrets.len()], &how[i % how.len()]));
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
                let mut gone = vec![
                    s.as_bytes().to_vec(),
                    render(s, &Render::HexLower),
                    render(s, &Render::HexUpper),
                ];
                gone.extend(fuzz::determined_base64(s.as_bytes()));
                if s.contains('\n') {
                    gone.extend(s.lines().filter(|l| l.len() >= MIN_LINE).map(|l| l.as_bytes().to_vec()));
                }
                for g in gone {
                    prop_assert!(!contains(&out, &g), "{:?} left in the output", String::from_utf8_lossy(&g));
                }
            }
        }
    }
}
