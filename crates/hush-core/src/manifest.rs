//! `hush.toml`: an app's declaration of the secrets it needs, parsed into a checked
//! [`AppManifest`].
//!
//! ```toml
//! app = "github-stats"
//! env = "prd"
//!
//! [secrets.GITHUB_TOKEN]            # the env var name the workload sees
//! key = "githubtoken"               # the secret's key (default: the table name)
//! required = true                   # default true
//! fallback = ["githubtoken-backup"] # tried in order when key is missing, revoked or expired
//! as = "file"                       # or "env" (the default)
//! ```
//!
//! A top-level `inherit = true` is for local runs only (`hush run`, `hush check`): a declared
//! variable already set in hush's environment supplies its secret when no other source has
//! it. [`parse_local`] returns it; it is not part of the app's registered manifest.
//!
//! Parsed with the `toml` crate; every error names the line. It lives in the core, beside
//! [`crate::app::validate_manifest`] whose rules it applies, rather than in the binary, so the
//! fuzz target (`fuzz/fuzz_targets/manifest.rs`) can reach it; finding and reading the file
//! stays in the binary.

use std::collections::BTreeMap;

use hush_wire::{AppManifest, Delivery, SecretDecl};
use serde::Deserialize;
use toml::Spanned;

/// Why a manifest was refused, and on which line. The message names the table and field; it
/// may quote a name or key from the file (never a value: a manifest holds none).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The 1-based line the error is on (1 for errors about the whole file).
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    app: Spanned<String>,
    #[serde(default)]
    env: Option<Spanned<String>>,
    #[serde(default)]
    inherit: Option<bool>,
    #[serde(default)]
    secrets: BTreeMap<Spanned<String>, Spanned<RawDecl>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecl {
    #[serde(default)]
    key: Option<Spanned<String>>,
    #[serde(default)]
    required: Option<bool>,
    #[serde(default)]
    fallback: Option<Spanned<Vec<String>>>,
    #[serde(rename = "as", default)]
    delivery: Option<Spanned<String>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Parses and checks manifest text: the manifest is accepted only when
/// [`crate::app::validate_manifest`] accepts it.
pub fn parse(text: &str) -> Result<AppManifest, ParseError> {
    parse_local(text).map(|l| l.manifest)
}

/// A manifest with the settings that only local runs read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// The app's manifest, as registered.
    pub manifest: AppManifest,
    /// `inherit = true`: a declared variable already set in the environment may supply it.
    pub inherit: bool,
}

/// [`parse`], keeping the local-run settings.
pub fn parse_local(text: &str) -> Result<Local, ParseError> {
    parse_raw(text).map_err(|(line, message)| ParseError { line, message })
}

fn parse_raw(text: &str) -> Result<Local, (usize, String)> {
    let raw: RawManifest = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        (line, e.message().trim().to_string())
    })?;
    let at = |span: std::ops::Range<usize>, msg: String| (line_of(text, span.start), msg);
    let mut m = AppManifest {
        app: raw.app.get_ref().clone(),
        env: raw.env.as_ref().map(|e| e.get_ref().clone()),
        secrets: Vec::new(),
    };
    crate::model::validate_app(&m.app).map_err(|e| at(raw.app.span(), e.to_string()))?;
    if let Some(env) = &raw.env {
        crate::model::validate_env(env.get_ref()).map_err(|e| at(env.span(), e.to_string()))?;
    }
    // Declaration order, as written.
    let mut decls: Vec<_> = raw.secrets.iter().collect();
    decls.sort_by_key(|(name, _)| name.span().start);
    for (name, decl) in decls {
        crate::app::validate_var_name(name.get_ref())
            .map_err(|e| at(name.span(), format!("[secrets.{}]: {e}", name.get_ref())))?;
        let d = decl.get_ref();
        let key = match &d.key {
            Some(k) => {
                crate::model::validate_key(k.get_ref())
                    .map_err(|e| at(k.span(), format!("[secrets.{}] key: {e}", name.get_ref())))?;
                k.get_ref().clone()
            }
            None => {
                crate::model::validate_key(name.get_ref()).map_err(|e| {
                    at(
                        name.span(),
                        format!(
                            "[secrets.{}]: no `key`, and the name is not a valid key: {e}",
                            name.get_ref()
                        ),
                    )
                })?;
                name.get_ref().clone()
            }
        };
        let delivery = match &d.delivery {
            None => Delivery::Env,
            Some(s) => match s.get_ref().as_str() {
                "env" => Delivery::Env,
                "file" => Delivery::File,
                other => {
                    return Err(at(
                        s.span(),
                        format!(
                            "[secrets.{}] as = {other:?}: use \"env\" or \"file\"",
                            name.get_ref()
                        ),
                    ))
                }
            },
        };
        let fallback = d
            .fallback
            .as_ref()
            .map(|f| f.get_ref().clone())
            .unwrap_or_default();
        if let Some(f) = &d.fallback {
            for (i, k) in fallback.iter().enumerate() {
                let what = format!("[secrets.{}] fallback", name.get_ref());
                crate::model::validate_key(k).map_err(|e| at(f.span(), format!("{what}: {e}")))?;
                if *k == key || fallback[..i].contains(k) {
                    return Err(at(
                        f.span(),
                        format!("{what}: {k:?} is listed twice (or is the key itself)"),
                    ));
                }
            }
        }
        let decl = SecretDecl {
            name: name.get_ref().clone(),
            key,
            required: d.required.unwrap_or(true),
            fallback,
            delivery,
        };
        m.secrets.push(decl);
    }
    // What is left to check spans the whole file (such as the number of secrets).
    crate::app::validate_manifest(&m).map_err(|e| (1, e.to_string()))?;
    Ok(Local {
        manifest: m,
        inherit: raw.inherit.unwrap_or(false),
    })
}

/// The fuzz target `manifest` (`fuzz/fuzz_targets/manifest.rs` at the repository root), also
/// run by this module's tests: parses `data` (as UTF-8, invalid bytes replaced) and panics
/// when an error names no line of the text, or when an accepted manifest breaks a rule (by
/// this function's own reading of the rules), does not survive the JSON wire type, or does
/// not parse back to itself when printed as TOML. Not part of the API.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let m = match parse(&text) {
        Ok(m) => m,
        Err(e) => {
            let lines = text.bytes().filter(|b| *b == b'\n').count() + 1;
            assert!(
                (1..=lines).contains(&e.line),
                "line {} of {lines}: {}",
                e.line,
                e.message
            );
            assert!(!e.message.is_empty());
            return;
        }
    };
    let name_ok = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && !s.starts_with(['.', '-'])
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    };
    let var_ok = |s: &str| {
        let mut b = s.bytes();
        matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
            && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
            && !s.starts_with("HUSH_")
    };
    use crate::model::{MAX_KEY_LEN, MAX_NAME_LEN};
    assert!(name_ok(&m.app, MAX_NAME_LEN), "app {:?}", m.app);
    if let Some(env) = &m.env {
        assert!(name_ok(env, MAX_NAME_LEN), "env {env:?}");
    }
    assert!(m.secrets.len() <= crate::app::MAX_DECLARED);
    let mut names = std::collections::HashSet::new();
    for d in &m.secrets {
        assert!(var_ok(&d.name), "variable {:?}", d.name);
        assert!(names.insert(d.name.as_str()), "{:?} twice", d.name);
        assert!(name_ok(&d.key, MAX_KEY_LEN), "key {:?}", d.key);
        for (i, f) in d.fallback.iter().enumerate() {
            assert!(name_ok(f, MAX_KEY_LEN), "fallback {f:?}");
            assert!(
                *f != d.key && !d.fallback[..i].contains(f),
                "fallback {f:?} twice"
            );
        }
    }
    // `hush apps register` sends it as JSON; the server reads the same manifest.
    let json = serde_json::to_vec(&m).expect("a manifest serialises");
    let back: AppManifest = serde_json::from_slice(&json).expect("and parses back");
    assert_eq!(back, m);
    // Printed as TOML (every name is a bare key or needs no escape), it parses to itself.
    let mut toml = format!("app = \"{}\"\n", m.app);
    if let Some(env) = &m.env {
        toml.push_str(&format!("env = \"{env}\"\n"));
    }
    for d in &m.secrets {
        let fallback: Vec<String> = d.fallback.iter().map(|f| format!("\"{f}\"")).collect();
        let delivery = match d.delivery {
            Delivery::Env => "env",
            Delivery::File => "file",
        };
        toml.push_str(&format!(
            "[secrets.{}]\nkey = \"{}\"\nrequired = {}\nfallback = [{}]\nas = \"{delivery}\"\n",
            d.name,
            d.key,
            d.required,
            fallback.join(", ")
        ));
    }
    assert_eq!(parse(&toml), Ok(m), "printed as:\n{toml}");
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
app = "github-stats"
env = "prd"

[secrets.GITHUB_TOKEN]
key = "githubtoken"
required = true
fallback = ["githubtoken-backup"]

[secrets.AUTH_SECRET]
key = "gcs-creds"

[secrets.GCP_KEY_FILE]
key = "gcp-json"
as = "file"

[secrets.plain]
required = false
"#;

    #[test]
    fn the_issue_example_parses() {
        let m = parse_raw(GOOD).unwrap().manifest;
        assert_eq!(m.app, "github-stats");
        assert_eq!(m.env.as_deref(), Some("prd"));
        let names: Vec<&str> = m.secrets.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            ["GITHUB_TOKEN", "AUTH_SECRET", "GCP_KEY_FILE", "plain"]
        );
        assert_eq!(m.secrets[0].fallback, ["githubtoken-backup"]);
        assert_eq!(m.secrets[2].delivery, Delivery::File);
        assert_eq!(m.secrets[3].key, "plain");
        assert!(!m.secrets[3].required);
    }

    #[test]
    fn fuzz_seeds_pass_the_checks() {
        for seed in [
            GOOD,
            "",
            "app = \"a\"\n[secrets.X]\nkey = \"x\"\nfallback = [\"x\"]\n",
            "app = \"a\"\n[secrets.\"\"]\n",
            "app = \"a\"\r\n[secrets.A]\r\nas = \"file\"\r\n",
            "app = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            "\u{feff}app = \"a\"\n",
        ] {
            fuzz_check(seed.as_bytes());
        }
        fuzz_check(b"app = \"\xff\"\n");
    }

    /// `inherit = true` is read for local runs and left out of the registered manifest.
    #[test]
    fn inherit_is_a_local_setting() {
        assert!(!parse_local(GOOD).unwrap().inherit);
        let text = "app = \"tl\"\ninherit = true\n[secrets.AUTH_SECRET]\n";
        let l = parse_local(text).unwrap();
        assert!(l.inherit);
        assert_eq!(parse(text).unwrap(), l.manifest);
        assert_eq!(
            parse_local("app = \"a\"\ninherit = \"yes\"\n")
                .unwrap_err()
                .line,
            2
        );
    }

    #[test]
    fn parse_error_says_the_line() {
        let e = parse("app = \"a\"\nenv = \"\"\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("line 2: "), "{e}");
    }

    #[test]
    fn errors_name_the_line() {
        let unknown = "app = \"a\"\n\n[secrets.X]\nkey = \"x\"\nrequried = true\n";
        let (line, msg) = parse_raw(unknown).unwrap_err();
        assert_eq!(line, 5, "{msg}");
        assert!(msg.contains("requried"), "{msg}");

        let bad_name = "app = \"a\"\n[secrets.\"GITHUB-TOKEN\"]\nkey = \"x\"\n";
        let (line, msg) = parse_raw(bad_name).unwrap_err();
        assert_eq!(line, 2, "{msg}");
        assert!(
            msg.contains("not a valid environment variable name"),
            "{msg}"
        );

        let top = "app = \"a\"\nenvironment = \"prd\"\n";
        assert_eq!(parse_raw(top).unwrap_err().0, 2);

        let bad_as = "app = \"a\"\n[secrets.X]\nkey = \"x\"\nas = \"volume\"\n";
        let (line, msg) = parse_raw(bad_as).unwrap_err();
        assert_eq!(line, 4, "{msg}");

        let bad_key = "app = \"a\"\n[secrets.X]\nkey = \"../etc\"\n";
        assert_eq!(parse_raw(bad_key).unwrap_err().0, 3);

        let no_app = "[secrets.X]\nkey = \"x\"\n";
        assert!(parse_raw(no_app).unwrap_err().1.contains("app"));
    }
}
