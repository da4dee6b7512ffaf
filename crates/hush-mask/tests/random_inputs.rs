//! Runs the fuzz target's checks (`hush_mask::fuzz_check`) on random inputs, so the stable
//! test suite covers what `cargo +nightly fuzz run mask` does.

use proptest::prelude::*;

/// Appends the `0xFE i` escape: candidate `i` (see `fuzz_check`) spliced in whole.
fn whole(stream: &mut Vec<u8>, i: u8) {
    stream.extend_from_slice(&[0xFE, i]);
}

#[test]
fn hand_made_inputs() {
    // Nothing at all, and no values.
    hush_mask::fuzz_check(&[]);
    hush_mask::fuzz_check(&[0, 0, b'a', b'b', 0xFE, 0, 0xFD]);

    // Two values, one a prefix of the other, a too-short one, and a JSON one; three cuts.
    let mut data = vec![4];
    for v in [
        &b"secret"[..],
        b"secret-longer",
        b"abc",
        br#"{"key": "field-value", "id": "not-secret"}"#,
    ] {
        data.push(v.len() as u8);
        data.extend_from_slice(v);
    }
    data.extend_from_slice(&[3, 1, 0, 7, 0, 30, 0]);
    data.extend_from_slice(b"x secret-long secret-longer ");
    for i in 0..40 {
        whole(&mut data, i);
        data.extend_from_slice(&[0xFD, i, 5, b' ']);
    }
    hush_mask::fuzz_check(&data);

    // A multi-line value (one line PEM armour) and a token, spliced in base64 inside other
    // text at every alignment and in both alphabets, and line by line.
    let mut data = vec![2];
    for v in [
        &b"-----BEGIN KEY-----\r\nMIIEvQIBADANBgkqhkiG9w0B\r\nAQEFAASCBKcwggSj\r\n"[..],
        b"ghp_0123456789abcdef",
    ] {
        data.push(v.len() as u8);
        data.extend_from_slice(v);
    }
    data.extend_from_slice(&[2, 5, 0, 40, 0]);
    for i in 0..60 {
        for k in [0u8, 1, 2, 4, 0x45, 0x86, 0xC8] {
            data.extend_from_slice(&[b' ', 0xFC, i, k]);
        }
        whole(&mut data, i);
    }
    hush_mask::fuzz_check(&data);

    // Values made of `*`, which masking can recreate.
    let mut data = vec![
        2, 4, b'*', b'*', b'*', b'*', 5, b'a', b'*', b'*', b'*', b'b', 0,
    ];
    data.extend_from_slice(b"****** a***b a******b *");
    hush_mask::fuzz_check(&data);
}

/// Inputs whose stream is mostly escapes, so that values and near-misses meet often.
fn escape_heavy() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(any::<u8>(), 0..120),
        proptest::collection::vec(
            prop_oneof![
                any::<u8>().prop_map(|b| vec![b]),
                any::<u8>().prop_map(|i| vec![0xFE, i]),
                (any::<u8>(), any::<u8>()).prop_map(|(i, k)| vec![0xFC, i, k]),
                (any::<u8>(), any::<u8>()).prop_map(|(i, n)| vec![0xFD, i, n]),
            ],
            0..60,
        ),
    )
        .prop_map(|(head, stream)| {
            let mut data = head;
            data.extend(stream.into_iter().flatten());
            data
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_inputs(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        hush_mask::fuzz_check(&data);
    }

    #[test]
    fn escape_heavy_inputs(data in escape_heavy()) {
        hush_mask::fuzz_check(&data);
    }
}
