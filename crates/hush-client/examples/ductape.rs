//! The Ductape document's walkthrough with the hush SDK: create a secret with metadata, list
//! (metadata only), fetch (decrypted), update value and metadata, revoke, delete, and the 409
//! and 403 error handling.
//!
//! Run against a server:
//!
//! ```sh
//! hush server &                      # prints a first admin token
//! HUSH_ADDR=http://127.0.0.1:8270 HUSH_TOKEN=hush_… cargo run -p hush-client --example ductape
//! ```

use hush_client::{Client, Error, MetadataPatch, TokenType, ValueBytes as _};

/// The whole walkthrough; returns the lines it printed, for tests.
pub async fn walkthrough(client: &Client) -> Result<Vec<String>, Error> {
    let mut said = Vec::new();
    let mut say = |s: String| {
        println!("{s}");
        said.push(s);
    };
    let in_a_year = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64 + 365 * 24 * 60 * 60)
        .unwrap_or(0);

    // Create a secret.
    let secret = client
        .create(
            "STRIPE_API_KEY",
            b"sk_live_51ABC123",
            MetadataPatch {
                description: Some(Some(
                    "Production Stripe API key for payment processing".into(),
                )),
                token_type: Some(Some(TokenType::Api)),
                scope: Some(vec!["stripe_payments".into(), "checkout_service".into()]),
                envs: Some(vec!["prd".into(), "staging".into()]),
                expires_at: Some(Some(in_a_year)),
                ..MetadataPatch::default()
            },
        )
        .await?;
    say(format!("Secret created: {}", secret.key));

    // List all secrets: metadata only.
    for s in client.list(&Default::default()).await? {
        say(format!(
            "{}: {}",
            s.key,
            s.description
                .clone()
                .unwrap_or_else(|| "No description".into())
        ));
        say(format!(
            "  Type: {}",
            s.token_type
                .clone()
                .unwrap_or_else(|| "Not specified".into())
        ));
        say(format!(
            "  Scope: {}",
            if s.scope.is_empty() {
                "All apps".into()
            } else {
                s.scope.join(", ")
            }
        ));
        say(format!(
            "  Environments: {}",
            if s.envs.is_empty() {
                "All environments".into()
            } else {
                s.envs.join(", ")
            }
        ));
    }

    // Fetch a single secret, decrypted.
    let fetched = client.fetch("STRIPE_API_KEY", None).await?;
    let value = fetched.bytes()?;
    say(format!(
        "Key: {} (value of {} bytes fetched)",
        fetched.meta.key,
        value.len()
    ));

    // Update the value and extend the expiration.
    let updated = client
        .update(
            "STRIPE_API_KEY",
            Some(b"sk_live_51NEW_KEY"),
            MetadataPatch {
                description: Some(Some("Rotated Stripe API key".into())),
                expires_at: Some(Some(in_a_year / 2 + in_a_year / 2)),
                ..MetadataPatch::default()
            },
            None,
        )
        .await?;
    say(format!(
        "Secret updated: {} (version {})",
        updated.key, updated.version
    ));

    // Update metadata only.
    let updated = client
        .update(
            "STRIPE_API_KEY",
            None,
            MetadataPatch {
                scope: Some(vec![
                    "stripe_payments".into(),
                    "subscription_service".into(),
                    "invoice_service".into(),
                ]),
                envs: Some(vec!["dev".into(), "staging".into(), "prd".into()]),
                ..MetadataPatch::default()
            },
            None,
        )
        .await?;
    say(format!(
        "Metadata updated: scope {}",
        updated.scope.join(", ")
    ));

    // Error handling: 409 when the key exists.
    match client
        .create("STRIPE_API_KEY", b"secret_value", MetadataPatch::default())
        .await
    {
        Err(Error::Conflict { .. }) => say("Secret with this key already exists".into()),
        other => say(format!("unexpected: {:?}", other.map(|m| m.key))),
    }

    // Revoke: kept, but no longer served (403).
    client.revoke("STRIPE_API_KEY").await?;
    say("Secret has been revoked".into());
    match client.fetch("STRIPE_API_KEY", None).await {
        Err(Error::Forbidden { .. }) => say("Reading a revoked secret is forbidden".into()),
        other => say(format!(
            "unexpected: {:?}",
            other.map(|m| m.meta.key.clone())
        )),
    }

    // Delete.
    client.delete("STRIPE_API_KEY", false).await?;
    say("Secret successfully deleted".into());
    match client.fetch("STRIPE_API_KEY", None).await {
        Err(Error::NotFound(_)) => say("It is gone".into()),
        other => say(format!(
            "unexpected: {:?}",
            other.map(|m| m.meta.key.clone())
        )),
    }
    Ok(said)
}

#[allow(dead_code)]
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("HUSH_ADDR").unwrap_or_else(|_| "http://127.0.0.1:8270".into());
    let token =
        std::env::var("HUSH_TOKEN").map_err(|_| "set HUSH_TOKEN to a write or admin token")?;
    let client = Client::new(&addr, &token)?;
    walkthrough(&client).await?;
    Ok(())
}
