//! Every walkthrough in `examples/` (one per seed) runs green against the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::BIN;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn walkthrough(name: &str) {
    let script = root().join("examples").join(name).join("run.sh");
    let mut c = Command::new("bash");
    c.arg(&script).env("HUSH", BIN).env_remove("HUSH_HOME");
    // `cargo test --workspace` builds the SDK's examples beside the binary; use it when there.
    let ductape = Path::new(BIN)
        .parent()
        .unwrap()
        .join("examples")
        .join("ductape");
    if ductape.is_file() {
        c.env("DUCTAPE_BIN", ductape);
    }
    let out = c.output().expect("run bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} failed:\n{text}");
    assert!(
        text.contains("walkthrough: ok"),
        "{name} did not finish:\n{text}"
    );
}

#[test]
fn mini_loader() {
    walkthrough("mini-loader");
}

#[test]
fn tensorleap() {
    walkthrough("tensorleap");
}

#[test]
fn union() {
    walkthrough("union");
}

#[test]
fn ductape() {
    walkthrough("ductape");
}

#[test]
fn tooljump() {
    walkthrough("tooljump");
}
