//! Smoke test of the harness itself: the `mask` scenario, which needs neither wrk nor a hush
//! binary, runs on a small stream and ends with its RESULT line.

use std::process::Command;

#[test]
fn mask_on_two_megabytes_prints_a_result_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_hush-bench"))
        .args(["mask", "--megabytes", "2", "--passes", "1"])
        .output()
        .expect("hush-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "hush-bench mask failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = stdout.lines().last().expect("hush-bench printed something");
    assert!(
        result.starts_with("RESULT scenario=mask figure="),
        "last line: {result}"
    );
    for key in [" floor=", " ratio=", " target=", " met="] {
        assert!(result.contains(key), "no{key} in {result}");
    }
    assert!(stdout.contains("floor:"), "{stdout}");
}
