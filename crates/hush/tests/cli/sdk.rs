//! The SDK's Ductape walkthrough (crates/hush-client/examples/ductape.rs) against a real server.

use crate::server::Server;

#[path = "../../../hush-client/examples/ductape.rs"]
mod ductape;

#[test]
fn the_ductape_walkthrough_runs_against_a_server() {
    let s = Server::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = hush_client::Client::new(&s.base, &s.admin).unwrap();
    let said = rt.block_on(ductape::walkthrough(&client)).unwrap();
    for line in [
        "Secret created: STRIPE_API_KEY",
        "  Scope: stripe_payments, checkout_service",
        "Secret updated: STRIPE_API_KEY (version 2)",
        "Secret with this key already exists",
        "Reading a revoked secret is forbidden",
        "Secret successfully deleted",
        "It is gone",
    ] {
        assert!(
            said.iter().any(|l| l == line),
            "missing {line:?} in {said:#?}"
        );
    }
    assert!(
        !said
            .iter()
            .any(|l| l.contains("unexpected") || l.contains("sk_live")),
        "{said:#?}"
    );
    let unauth = hush_client::Client::new(&s.base, "hush_nope").unwrap();
    assert!(matches!(
        rt.block_on(unauth.list(&Default::default())),
        Err(hush_client::Error::Unauthorized(_))
    ));
}
