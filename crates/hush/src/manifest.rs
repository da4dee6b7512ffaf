//! `hush.toml`: finding and reading the file. Parsing and checking it is
//! [`hush_core::manifest`] (a library, so the fuzz target reaches it); this module adds the
//! file name to its errors and the exit code.

use std::path::{Path, PathBuf};

use anyhow::Result;
use hush_wire::AppManifest;

use crate::fail::Failure;

pub use hush_core::manifest::{parse, parse_local, Local};

/// The manifest `hush run`/`check`/`apps register` use: `explicit`, else `./hush.toml` when
/// present, else none.
pub fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>> {
    match explicit {
        Some(p) => {
            if !p.is_file() {
                return Err(Failure::usage(format!(
                    "no manifest at {}: check the --manifest path",
                    p.display()
                ))
                .into());
            }
            Ok(Some(p.to_path_buf()))
        }
        None => {
            let p = PathBuf::from("hush.toml");
            Ok(p.is_file().then_some(p))
        }
    }
}

/// Reads and checks a manifest file.
pub fn load(path: &Path) -> Result<AppManifest> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("cannot read manifest {}: {e}", path.display())))?;
    parse(&text).map_err(|e| Failure::usage(format!("{} {e}", path.display())).into())
}

/// Reads and checks a manifest file for a local run, keeping `inherit`.
pub fn load_local(path: &Path) -> Result<Local> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("cannot read manifest {}: {e}", path.display())))?;
    parse_local(&text).map_err(|e| Failure::usage(format!("{} {e}", path.display())).into())
}
