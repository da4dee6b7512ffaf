//! Values go in and come out byte for byte.

use crate::common::Home;

#[test]
fn piped_text_round_trips_exactly() {
    let h = Home::new();
    h.set("t", b"line one\nline two\n");
    assert_eq!(
        h.get("t"),
        b"line one\nline two\n",
        "implicit stdin keeps every byte"
    );
}

#[test]
fn piped_binary_round_trips_exactly() {
    let h = Home::new();
    let all: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    h.set("bin", &all);
    assert_eq!(h.get("bin"), all);
    let j = h
        .run(&["secrets", "get", "bin", "-o", "json"], None)
        .ok()
        .json();
    assert!(
        j.get("value").is_none(),
        "non-UTF-8 bytes are not put in `value`"
    );
    assert!(j["value_base64"].as_str().is_some());
}

#[test]
fn stdin_flag_strips_exactly_one_trailing_newline() {
    let h = Home::new();
    h.run(&["secrets", "set", "a", "--stdin"], Some(b"tok\n"))
        .ok();
    assert_eq!(h.get("a"), b"tok");
    h.run(&["secrets", "set", "b", "--stdin"], Some(b"tok\n\n"))
        .ok();
    assert_eq!(h.get("b"), b"tok\n");
    h.run(&["secrets", "set", "c", "--stdin"], Some(b"tok\r\n"))
        .ok();
    assert_eq!(h.get("c"), b"tok");
    h.run(&["secrets", "set", "d", "--stdin"], Some(b"tok"))
        .ok();
    assert_eq!(h.get("d"), b"tok");
}

#[test]
fn file_values_round_trip_exactly() {
    let h = Home::new();
    let json = b"{\n  \"type\": \"service_account\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIplanted\\n\"\n}\n";
    let f = h.path().join("key.json");
    std::fs::write(&f, json).unwrap();
    h.run(
        &[
            "secrets",
            "create",
            "gcp-key",
            "--from-file",
            f.to_str().unwrap(),
            "--type",
            "access",
            "--envs",
            "prd",
            "--scope",
            "ingest",
        ],
        None,
    )
    .ok();
    assert_eq!(h.get("gcp-key"), json);

    let bin: Vec<u8> = (0..=255u8).rev().cycle().take(10_000).collect();
    let fb = h.path().join("blob.bin");
    std::fs::write(&fb, &bin).unwrap();
    h.run(
        &[
            "secrets",
            "set",
            "blob",
            "--from-file",
            fb.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    assert_eq!(h.get("blob"), bin);
}

#[test]
fn a_value_of_exactly_one_mebibyte_is_accepted() {
    let h = Home::new();
    let v = vec![b'x'; 1024 * 1024];
    h.set("big", &v);
    assert_eq!(h.get("big").len(), v.len());
}

#[test]
fn get_json_carries_value_and_the_contract_fields() {
    let h = Home::new();
    h.set("k", b"hello");
    let j = h
        .run(&["secrets", "get", "k", "-o", "json"], None)
        .ok()
        .json();
    for f in [
        "id",
        "workspace",
        "key",
        "description",
        "token_type",
        "scope",
        "envs",
        "expires_at",
        "status",
        "version",
        "created_at",
        "updated_at",
    ] {
        assert!(j.get(f).is_some(), "field {f} missing in {j}");
    }
    assert_eq!(j["value"], "hello");
    assert_eq!(j["workspace"], "default");
    assert_eq!(j["status"], "active");
    assert_eq!(j["version"], 1);
}
