//! The checks behind the fuzz target (`fuzz/fuzz_targets/mask.rs`), also run by the stable
//! test suite (`tests/random_inputs.rs`).

use base64::Engine as _;

use crate::{forms, mask_all, Masker, Patterns, MASK, MIN_CORE, MIN_LEN, MIN_LINE};

/// In the stream part of the input, `WHOLE, i` splices in candidate form `i` whole.
const WHOLE: u8 = 0xFE;
/// In the stream part of the input, `PREFIX, i, n` splices in a proper prefix of form `i`.
const PREFIX: u8 = 0xFD;
/// In the stream part of the input, `BASE64, i, k` splices in candidate `i` base64-encoded
/// inside other text (see [`embed_base64`]).
const BASE64: u8 = 0xFC;
/// The stream is cut off here, so that the reference masker below stays cheap.
const MAX_STREAM: usize = 1 << 16;

/// Reads the fuzz input front to back; past the end every byte is 0.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// Derives values, a stream and split points from `data` and checks the masker on them.
///
/// Layout of `data` (every field is optional; missing bytes read as 0):
/// - one byte: the number of values, modulo 5;
/// - per value, one length byte (modulo 49) and that many bytes;
/// - one byte: the number of split points, modulo 9, then two bytes (little-endian) per
///   split point, taken modulo the stream length plus one;
/// - the rest is the stream, where `0xFE i` is replaced by candidate `i` (every masked form
///   of every value, and each raw value, also a too-short one), `0xFD i n` by a proper
///   prefix of candidate `i`, and `0xFC i k` by candidate `i` base64-encoded inside other
///   text (`k` picks the bytes around it and the alphabet), so that random inputs contain
///   values, their encodings and near-misses. An index one past the last candidate stands
///   for the escape byte itself.
///
/// Asserts that
/// 1. pushing the stream in the chunks given by the split points, or one byte at a time, and
///    then calling [`Masker::finish`] gives exactly [`mask_all`] of the whole stream, and no
///    more than `longest - 1` bytes are ever held back;
/// 2. [`mask_all`] equals a naive leftmost-longest reference masker over the same forms;
/// 3. no masked form (so no raw value of at least [`MIN_LEN`] bytes) occurs in the output
///    unless it contains `*`: output is unmatched stretches of input, in none of which a
///    form starts, separated by `***`, so a form found in the output overlaps a `***`
///    (a value `a*b*` can legitimately be produced from `a` + value + `b*`);
/// 4. [`Patterns::too_short`] counts the values shorter than [`MIN_LEN`], and a non-empty set
///    of forms always builds an automaton (masking never silently turns off);
/// 5. the masked forms include, for every value of at least [`MIN_LEN`] bytes, the value, its
///    hex in both cases, its base64, the base64 characters it determines at each of the three
///    alignments inside longer text (derived here independently, by encoding it between
///    all-zero and all-one bytes) when there are [`MIN_CORE`] of them, and, for a multi-line
///    value that is not JSON, each line of [`MIN_LINE`] bytes or more that is not PEM armour.
///
/// Panics if a check fails; deterministic.
pub fn fuzz_check(data: &[u8]) {
    let mut input = Input(data);

    let n_values = usize::from(input.byte() % 5);
    let values: Vec<&[u8]> = (0..n_values)
        .map(|_| {
            let len = usize::from(input.byte() % 49);
            input.take(len)
        })
        .collect();

    let n_cuts = usize::from(input.byte() % 9);
    let cuts: Vec<usize> = (0..n_cuts)
        .map(|_| usize::from(u16::from_le_bytes([input.byte(), input.byte()])))
        .collect();

    // Everything the automaton should contain.
    let masked: Vec<Vec<u8>> = forms::collect(values.iter().copied())
        .all
        .iter()
        .map(|f| f.to_vec())
        .collect();

    // What the stream may splice in.
    let mut candidates: Vec<Vec<u8>> = masked.clone();
    candidates.extend(values.iter().map(|v| v.to_vec()));
    candidates.retain(|c| !c.is_empty());

    let mut stream = Vec::new();
    while stream.len() < MAX_STREAM {
        let b = match input.0.first() {
            Some(&b) => b,
            None => break,
        };
        input.byte();
        if b != WHOLE && b != PREFIX && b != BASE64 {
            stream.push(b);
            continue;
        }
        let i = usize::from(input.byte()) % (candidates.len() + 1);
        let Some(c) = candidates.get(i) else {
            stream.push(b);
            continue;
        };
        if b == WHOLE {
            stream.extend_from_slice(c);
        } else if b == BASE64 {
            stream.extend(embed_base64(c, input.byte()));
        } else {
            let n = usize::from(input.byte()) % c.len();
            stream.extend_from_slice(&c[..n]);
        }
    }
    let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.sort_unstable();

    let patterns = Patterns::new(values.iter().copied());
    assert_eq!(
        patterns.too_short,
        values.iter().filter(|v| v.len() < MIN_LEN).count(),
        "too_short miscounted"
    );
    assert_eq!(
        patterns.ac.is_some(),
        !masked.is_empty(),
        "automaton missing for a non-empty set of forms"
    );
    assert_eq!(
        patterns.longest,
        masked.iter().map(Vec::len).max().unwrap_or(0),
        "wrong longest form"
    );

    let whole = mask_all(&patterns, &stream);

    // 5. The forms every value must have.
    for v in values.iter().filter(|v| v.len() >= MIN_LEN) {
        let mut must = vec![
            v.to_vec(),
            hex(v, false),
            hex(v, true),
            base64::engine::general_purpose::STANDARD
                .encode(v)
                .into_bytes(),
        ];
        must.extend(determined_base64(v));
        if forms::json_fields(v).is_none() && v.trim_ascii().contains(&b'\n') {
            must.extend(
                v.split(|&b| b == b'\n')
                    .map(<[u8]>::trim_ascii)
                    .filter(|l| l.len() >= MIN_LINE)
                    .filter(|l| !(l.starts_with(b"-----") && l.ends_with(b"-----")))
                    .map(<[u8]>::to_vec),
            );
        }
        for f in must {
            assert!(masked.binary_search(&f).is_ok(), "a form is missing");
        }
    }

    // 1. Any split gives the same output.
    let mut m = Masker::new(&patterns);
    let mut out = Vec::new();
    let mut prev = 0;
    for c in cuts {
        out.extend(m.push(&stream[prev..c]));
        assert!(
            m.pending.len() < patterns.longest.max(1),
            "held back too much"
        );
        prev = c;
    }
    out.extend(m.push(&stream[prev..]));
    out.extend(m.finish());
    assert!(out == whole, "split output differs from mask_all");

    let mut m = Masker::new(&patterns);
    let mut out = Vec::new();
    for b in &stream {
        out.extend(m.push(std::slice::from_ref(b)));
        assert!(
            m.pending.len() < patterns.longest.max(1),
            "held back too much"
        );
    }
    out.extend(m.finish());
    assert!(out == whole, "byte-at-a-time output differs from mask_all");

    // 2. Leftmost-longest, as documented.
    assert!(
        mask_reference(&masked, &stream) == whole,
        "mask_all differs from the reference masker"
    );

    // 3. Nothing that is masked survives, except by overlapping a `***`.
    for f in masked.iter().filter(|f| !f.contains(&b'*')) {
        assert!(
            !whole.windows(f.len()).any(|w| w == f.as_slice()),
            "a masked form is in the output"
        );
    }
}

/// At each position, the longest form starting there becomes `***`; else the byte is kept.
fn mask_reference(forms: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        match forms
            .iter()
            .filter(|f| rest.starts_with(f))
            .map(Vec::len)
            .max()
        {
            Some(n) => {
                out.extend_from_slice(MASK);
                i += n;
            }
            None => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    out
}

/// `c` base64-encoded inside other text: `k % 3` bytes before it, `k / 3 % 3` after it, in
/// the URL-safe alphabet when `k & 0x80`, without padding when `k & 0x40`.
fn embed_base64(c: &[u8], k: u8) -> Vec<u8> {
    let mut text = vec![k; usize::from(k % 3)];
    text.extend_from_slice(c);
    text.extend(std::iter::repeat_n(!k, usize::from(k / 3 % 3)));
    let e = match (k & 0x80 != 0, k & 0x40 != 0) {
        (false, false) => &base64::engine::general_purpose::STANDARD,
        (false, true) => &base64::engine::general_purpose::STANDARD_NO_PAD,
        (true, false) => &base64::engine::general_purpose::URL_SAFE,
        (true, true) => &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    };
    e.encode(text).into_bytes()
}

fn hex(v: &[u8], upper: bool) -> Vec<u8> {
    v.iter()
        .flat_map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
            .into_bytes()
        })
        .collect()
}

/// For `v` at byte offset 0, 1 and 2 (mod 3) inside longer text, the base64 characters that
/// are the same whatever the text around it, when there are at least [`MIN_CORE`] of them,
/// in the standard and URL-safe alphabets. Found by encoding `v` between all-zero and
/// all-one bytes: a character that holds any bit from outside differs between the two.
pub(crate) fn determined_base64(v: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for r in 0..3 {
        let around = |fill: u8| {
            let mut text = vec![fill; r];
            text.extend_from_slice(v);
            text.extend_from_slice(&[fill; 2]);
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(text)
        };
        let (zeros, ones) = (around(0), around(0xFF));
        let same: Vec<u8> = zeros
            .bytes()
            .zip(ones.bytes())
            .filter(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect();
        if same.len() >= MIN_CORE {
            let url = same
                .iter()
                .map(|&c| match c {
                    b'+' => b'-',
                    b'/' => b'_',
                    c => c,
                })
                .collect();
            out.push(same);
            out.push(url);
        }
    }
    out
}
