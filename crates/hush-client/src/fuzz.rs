//! The checks behind the fuzz target `secrets_file` (`fuzz/fuzz_targets/secrets_file.rs` at
//! the repository root), also run by this crate's tests on a few inputs. Not part of the API.

use std::path::Path;

use crate::secrets::{lookup_dotenv_text, read_dotenv_text, Error};

/// A key dotenvy can produce: `[A-Za-z_][A-Za-z0-9_.]*`.
fn dotenv_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Parses `data` as a `.secrets` file the way [`crate::secrets::read_dotenv`] and
/// [`crate::secrets::get`] do, and panics when they disagree or break their promises: every
/// key is a well-formed dotenv key given once (the first line wins), a lookup of each key
/// finds the value the full read found, a lookup of an absent key fails exactly when the
/// full read fails, and a refusal is a parse error (or "not UTF-8") that carries no text of
/// the file.
pub fn secrets_file_check(data: &[u8]) {
    let path = Path::new("fuzz.secrets");
    let absent = "hush_fuzz_absent_key";
    let full = read_dotenv_text(data, path);
    let looked = lookup_dotenv_text(data, path, absent);
    match &full {
        Ok(entries) => {
            let mut seen = std::collections::HashSet::new();
            for (k, _) in entries {
                assert!(dotenv_key(k), "key {k:?} is not a dotenv key");
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
            assert!(
                match e {
                    Error::SecretsFile { .. } | Error::SecretsFileExpands { .. } => true,
                    // Text that is not UTF-8: dotenvy reads lines as `String`.
                    Error::Io { source, .. } => source.kind() == std::io::ErrorKind::InvalidData,
                    _ => false,
                },
                "not a parse error: {e:?}"
            );
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
            b"a=1\nb='x$y'\nc=\"${a}-2\"\n",
            b"\xef\xbb\xbfk=v\nk=w\n",
            b"multi=\"l1\nl2\"\nexport e=1 # c\n",
            b"bad=\"unclosed\n",
            b"1x=2\n",
            b"\xff\xfe=\n",
            // Regression (fuzz crash): a key found before a line that does not parse was
            // served by a lookup although the file as a whole is refused.
            b"a=1\nexport hush_fuzz_absent_key=bexporta=1\nexportpowob-a}+\"\"t\n",
        ] {
            secrets_file_check(seed);
        }
    }

    /// Regression: before the substitution budget, this 300-byte file asked dotenvy for
    /// 4^30 bytes (each line names the one before four times).
    #[test]
    fn substitutions_that_double_are_refused_in_bounded_memory() {
        let mut text = String::from("a0=0123456789abcdef\n");
        for i in 1..30 {
            let p = i - 1;
            text.push_str(&format!("a{i}=${{a{p}}}${{a{p}}}${{a{p}}}${{a{p}}}\n"));
        }
        let e = read_dotenv_text(text.as_bytes(), Path::new(".secrets")).unwrap_err();
        assert!(matches!(e, Error::SecretsFileExpands { .. }), "{e:?}");
        assert!(!e.to_string().contains("0123456789abcdef"), "{e}");
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
