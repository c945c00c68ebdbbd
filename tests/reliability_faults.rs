//! The upstream fault matrix: every way the upstream can fail, each through a real refactor
//! on the real server against the scripted fake. For every row: the progress ends with a
//! sentence a person understands, the same error is shown, the document is byte-identical,
//! the fake saw exactly the requests the retry policy allows, and the next action on the
//! same server succeeds.

#[path = "reliability_common/mod.rs"]
mod common;
mod support;

use common::{Transport, fault_rows, run_fault_row};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_fault_is_reported_retried_only_where_allowed_and_survived() {
    let rows = fault_rows();
    let started = std::time::Instant::now();
    let mut retried = 0;
    for row in &rows {
        let report = run_fault_row(&Transport::InProcess, row).await;
        if report.requests > 1 {
            retried += 1;
        }
        println!(
            "fault row {:<58} requests {}  → {}",
            report.name, report.requests, report.end
        );
    }
    println!(
        "fault rows: {} ({} retried, {} not) in {:.1} s",
        rows.len(),
        retried,
        rows.len() - retried,
        started.elapsed().as_secs_f64()
    );
}
