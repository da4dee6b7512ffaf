//! The checks behind the fuzz target `secrets_file` (`fuzz/fuzz_targets/secrets_file.rs` at
//! the repository root), also run by this crate's tests on a few inputs. Not part of the API.

use std::path::Path;

use crate::secrets::{lookup_dotenv_text, read_dotenv_text, valid_key, Error};

/// Parses `data` as a `.secrets` file the way [`crate::secrets::read_dotenv`] and
/// [`crate::secrets::get`] do, and panics when they disagree or break their promises: every
/// key is a hush key given once (the last line wins), a lookup of each key
/// finds the value the full read found, a lookup of an absent key fails exactly when the
/// full read fails, and a refusal is a parse error naming a line of the file and carrying
/// no text of it.
pub fn secrets_file_check(data: &[u8]) {
    let path = Path::new("fuzz.secrets");
    let absent = "hush_fuzz_absent_key";
    let full = read_dotenv_text(data, path);
    let looked = lookup_dotenv_text(data, path, absent);
    match &full {
        Ok(entries) => {
            let mut seen = std::collections::HashSet::new();
            for (k, _) in entries {
                assert!(valid_key(k), "key {k:?} is not a hush key");
                assert!(seen.insert(k.as_str()), "key {k:?} given twice");
            }
            for (k, v) in entries.iter().take(8) {
                match lookup_dotenv_text(data, path, k) {
                    Ok(Ok(found)) => assert_eq!(
                        found.as_slice(),
                        v.expose_bytes(),
                        "lookup of {k:?} disagrees with the full read"
                    ),
                    other => panic!("lookup of {k:?} found nothing: {other:?}"),
                }
            }
            if !seen.contains(absent) {
                assert!(
                    matches!(looked, Ok(Err(_))),
                    "lookup of an absent key: {looked:?}"
                );
            }
        }
        Err(e) => {
            // Line breaks as the parser counts them: `\n`, `\r\n`, and a lone `\r`.
            let lone_cr = data
                .iter()
                .enumerate()
                .filter(|(i, b)| **b == b'\r' && data.get(i + 1) != Some(&b'\n'))
                .count();
            let lines = data.iter().filter(|b| **b == b'\n').count() + lone_cr + 1;
            match e {
                Error::SecretsFile { line, .. } => {
                    assert!(
                        (1..=lines).contains(&(*line as usize)),
                        "line {line} of {lines}"
                    )
                }
                _ => panic!("not a parse error: {e:?}"),
            }
            assert!(looked.is_err(), "the full read failed, a lookup did not");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_pass_the_checks() {
        for seed in [
            &b""[..],
            b"a=1\nb='x$y'\nc=\"${a}-2\"\ngcs-key=x\n",
            b"\xef\xbb\xbfk=v\nk=w\n",
            b"multi=\"l1\nl2\"\nexport e=1 # c\n",
            b"bad=\"unclosed\n",
            b"1x=2\n",
            b"\xff\xfe=\n",
            // Regression (fuzz crash): a key found before a line that does not parse was
            // served by a lookup although the file as a whole is refused.
            b"a=1\nexport hush_fuzz_absent_key=bexporta=1\nexportpowob-a}+\"\"t\n",
            // Regression (fuzz crash): lone carriage returns end lines too, so a parse error
            // on "line 5" of a file with no `\n` is right.
            b"a=1}=1\r\r\r\r\x12\r\x0f\r\r\r\r\x0f\x002\0\0\0\0r",
        ] {
            secrets_file_check(seed);
        }
    }

    /// Regression: with substitution (dotenvy), this 300-byte file asked for 4^30 bytes (each
    /// line names the one before four times); now a `$` is a `$`.
    #[test]
    fn dollars_are_never_expanded() {
        let mut text = String::from("a0=0123456789abcdef\n");
        for i in 1..30 {
            let p = i - 1;
            text.push_str(&format!("a{i}=${{a{p}}}${{a{p}}}${{a{p}}}${{a{p}}}\n"));
        }
        let entries = read_dotenv_text(text.as_bytes(), Path::new(".secrets")).unwrap();
        assert_eq!(entries[29].1.expose_bytes(), b"${a28}${a28}${a28}${a28}");
        secrets_file_check(text.as_bytes());
    }

    /// A file with many entries is read in linear time (a key is looked up in a set, not in
    /// every earlier entry).
    #[test]
    fn many_entries_are_read() {
        let text: String = (0..50_000).map(|i| format!("k{i}=v\n")).collect();
        let entries = read_dotenv_text(text.as_bytes(), Path::new(".secrets")).unwrap();
        assert_eq!(entries.len(), 50_000);
    }
}
