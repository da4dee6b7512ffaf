//! Where a value comes from: a file (exact bytes), `--stdin` (one trailing newline stripped),
//! a no-echo prompt on a terminal, or standard input when it is not a terminal (exact bytes).

use std::io::{IsTerminal as _, Read as _};

use anyhow::Result;
use hush_core::model::MAX_VALUE_LEN;
use hush_core::SecretBytes;

use crate::cli::ValueSource;
use crate::fail::Failure;

/// Reads at most 1 MiB + 1 byte, so an oversize value is refused without reading it all.
fn read_limited(mut r: impl std::io::Read, what: &str) -> Result<SecretBytes> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(MAX_VALUE_LEN as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Failure::new(1, format!("cannot read {what}: {e}")))?;
    Ok(SecretBytes::new(buf))
}

fn strip_one_newline(v: SecretBytes) -> SecretBytes {
    // EXPOSE: trimming needs to look at the last bytes.
    let b = v.expose_secret();
    let cut = if b.ends_with(b"\r\n") {
        2
    } else if b.ends_with(b"\n") {
        1
    } else {
        0
    };
    if cut == 0 {
        v
    } else {
        SecretBytes::new(b[..b.len() - cut].to_vec())
    }
}

pub fn read(src: &ValueSource, key: &str) -> Result<SecretBytes> {
    if let Some(path) = &src.from_file {
        let f = std::fs::File::open(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
        return read_limited(f, &path.display().to_string());
    }
    let stdin = std::io::stdin();
    if src.stdin {
        return Ok(strip_one_newline(read_limited(
            stdin.lock(),
            "standard input",
        )?));
    }
    if stdin.is_terminal() {
        let text = rpassword::prompt_password(format!("Value for {key} (input hidden): "))
            .map_err(|e| {
                Failure::new(1, format!("cannot read the value from the terminal: {e}"))
            })?;
        return Ok(SecretBytes::new(text.into_bytes()));
    }
    read_limited(stdin.lock(), "standard input")
}
