//! Where a value comes from: a file (`-f`/`--from-file`, always exact bytes), a no-echo prompt
//! on a terminal, or standard input when it is piped or `--stdin` is given. Piped input loses
//! one trailing newline (`\n` or `\r\n`): `echo "$TOKEN" | hush secrets set k` stores the
//! token, not the newline `echo` added. `--raw` keeps standard input's bytes exactly.

use std::io::{IsTerminal as _, Read as _};

use anyhow::Result;
use hush_core::model::MAX_VALUE_LEN;
use hush_core::SecretBytes;

use crate::cli::ValueSource;
use crate::fail::Failure;

/// Room for the largest value plus a trailing `\r\n` that is stripped from piped input.
const READ_LIMIT: usize = MAX_VALUE_LEN + 2;

/// Reads the whole input, refusing it as soon as it is over the limit. The buffer is sized once
/// up front, so no freed reallocation is left holding part of the value.
fn read_limited(r: impl std::io::Read, what: &str) -> Result<SecretBytes> {
    let mut buf = Vec::with_capacity(READ_LIMIT + 1);
    r.take(READ_LIMIT as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Failure::new(1, format!("cannot read {what}: {e}")))?;
    let over = buf.len() > READ_LIMIT;
    let value = SecretBytes::new(buf);
    if over {
        return Err(Failure::usage(format!(
            "the value from {what} is larger than 1 MiB (1048576 bytes), the limit; nothing was stored"
        ))
        .into());
    }
    Ok(value)
}

fn strip_one_newline(mut v: SecretBytes) -> SecretBytes {
    // EXPOSE: trimming needs to look at the last bytes.
    let b = v.expose_secret();
    let cut = if b.ends_with(b"\r\n") {
        2
    } else if b.ends_with(b"\n") {
        1
    } else {
        0
    };
    let keep = b.len() - cut;
    v.truncate(keep);
    v
}

pub fn read(src: &ValueSource, key: &str) -> Result<SecretBytes> {
    if let Some(path) = &src.from_file {
        let f = std::fs::File::open(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
        return read_limited(f, &path.display().to_string());
    }
    let stdin = std::io::stdin();
    if !src.stdin && !src.raw && stdin.is_terminal() {
        let text = rpassword::prompt_password(format!("Value for {key} (input hidden): "))
            .map_err(|e| {
                Failure::new(1, format!("cannot read the value from the terminal: {e}"))
            })?;
        return Ok(SecretBytes::new(text.into_bytes()));
    }
    let piped = read_limited(stdin.lock(), "standard input")?;
    if src.raw {
        Ok(piped)
    } else {
        Ok(strip_one_newline(piped))
    }
}
