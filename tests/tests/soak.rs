//! The load soak in its short form (seconds): the same phases and criteria as the long form
//! (`target/release/soak`, `.ci/soak.sh`), except resident memory, which is reported but not
//! judged over seconds (allocator warm-up dominates). See `vellum_e2e::soak`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use vellum_e2e::Node;
use vellum_e2e::soak::{SoakConfig, run};

#[test]
fn short_soak_half_max_without_5xx_then_twice_max_only_shed() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"));
    let config = SoakConfig {
        // Not judged in the short form; see the module docs.
        rss_growth_max: f64::INFINITY,
        ..SoakConfig::short()
    };
    let report = run(&node.url, node.pid(), &config);
    assert!(report.max_tps > 0.0);
    assert!(report.soak.class(2) > 0, "{}", report.soak.summary());
    assert!(
        report.overload.class(2) > 0,
        "{}",
        report.overload.summary()
    );
    let failures = report.failures(&config);
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(report.after_commit.1);
    let log = node.stop();
    assert!(log.contains("shut down cleanly"), "{log}");
}
