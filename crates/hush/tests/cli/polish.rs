//! The CLI around the commands (issue 18's polish): `whoami`, `logout`, shell completions,
//! manual pages, and the commit in `--version`.

use crate::common::Home;
use crate::server::Server;

#[test]
fn whoami_names_the_token_never_shows_it_and_logout_forgets_it() {
    let server = Server::start();
    let h = Home::empty();
    let cfg = h.path().join("cfg.json");
    let mut c = h.command(&["login", &server.base]);
    c.env("HUSH_CONFIG", &cfg);
    h.run_with(c, Some(format!("{}\n", server.admin).as_bytes()))
        .ok();
    let mut c = h.command(&["whoami", "-o", "json"]);
    c.env("HUSH_CONFIG", &cfg);
    let out = h.run_with(c, None).ok();
    let j = out.json();
    assert_eq!(j["token"]["role"], "admin", "{j}");
    assert_eq!(j["workspace"], "default");
    assert!(j["token"]["id"].as_str().unwrap().starts_with("tok_"));
    assert!(
        !out.all().contains(&server.admin),
        "whoami printed the token"
    );
    let mut c = h.command(&["whoami"]);
    c.env("HUSH_CONFIG", &cfg);
    let table = h.run_with(c, None).ok().text();
    assert!(table.contains("role") && table.contains("admin"), "{table}");
    // logout removes the saved login; after it, commands no longer reach the server.
    let mut c = h.command(&["logout"]);
    c.env("HUSH_CONFIG", &cfg);
    let out = h.run_with(c, None).ok();
    assert!(out.stderr.contains("logged out"), "{}", out.stderr);
    assert!(!cfg.exists());
    let mut c = h.command(&["logout"]);
    c.env("HUSH_CONFIG", &cfg);
    assert!(h.run_with(c, None).ok().stderr.contains("not logged in"));
}

#[test]
fn whoami_on_the_embedded_store_is_the_local_user() {
    let h = Home::new();
    let j = h.run(&["whoami", "-o", "json"], None).ok().json();
    assert_eq!(j["token"], serde_json::Value::Null);
    assert!(j["local"].as_str().unwrap().starts_with("local:"), "{j}");
}

#[test]
fn completions_man_pages_and_version() {
    let h = Home::empty();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = h.run(&["completions", shell], None).ok();
        let script = out.text();
        assert!(
            script.contains("secrets") && script.contains("rollback"),
            "{shell}"
        );
    }
    h.run(&["completions", "tcsh"], None).code(2);
    let page = h.run(&["man"], None).ok().text();
    assert!(page.contains(".TH hush 1"), "{page}");
    let dir = h.path().join("man");
    h.run(&["man", "--dir", dir.to_str().unwrap()], None).ok();
    for page in [
        "hush.1",
        "hush-secrets.1",
        "hush-secrets-set.1",
        "hush-run.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.starts_with(".ie"), "{page}");
    }
    let version = h.run(&["--version"], None).ok().text();
    assert!(
        version.starts_with("hush 0.") && version.contains("(commit "),
        "{version}"
    );
}
