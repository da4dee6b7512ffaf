//! Several nodes on one PostgreSQL database append to one audit chain: each batch of reads is
//! one statement after the head the node saw last, checked against the stored head, so a node
//! whose guess is stale (another appended meanwhile) must neither lose nor fork a row.

mod support;

use std::sync::Arc;

use hush_core::store::Store;

/// Taking turns: the shared conformance check, on two nodes of one database.
#[tokio::test]
async fn two_nodes_append_to_one_chain() {
    let Some(a) = support::fresh().await else {
        return;
    };
    let b = a.node().await;
    hush_store_conformance::two_nodes_append_to_one_chain(&*a.store, &*b).await;
}

/// At once: three nodes commit batches of reads concurrently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_appending_at_once_keep_one_chain() {
    let Some(db) = support::fresh().await else {
        return;
    };
    let nodes: Vec<Arc<dyn Store>> = vec![db.store.clone(), db.node().await, db.node().await];
    hush_store_conformance::nodes_appending_at_once_keep_one_chain(nodes).await;
}
