//! The suite's closing section: the shoot-out side by side with ratios, and every target of
//! issue 5 checked against the figures the parts recorded in this run (`VELLUM_PERF_FIGURES`).
//! A figure no part recorded shows as "not measured", never as met.

use std::collections::BTreeMap;

use bench_harness::{Table, fmt_ns, fmt_rate};

type Figs = BTreeMap<String, f64>;

fn get(f: &Figs, k: &str) -> Option<f64> {
    f.get(k).copied().filter(|v| v.is_finite())
}

fn ns(v: Option<f64>) -> String {
    v.map_or_else(|| "not measured".into(), fmt_ns)
}

fn ratio(num: Option<f64>, den: Option<f64>) -> String {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => {
            let r = n / d;
            if r >= 1.0 {
                format!("{r:.1}×")
            } else {
                format!("{r:.3}×")
            }
        }
        _ => "-".into(),
    }
}

/// The verdict on a target: met, not met, or not measured.
fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

/// Renders the summary section from the recorded figures.
pub(crate) fn render(f: &Figs) -> String {
    let mut out = String::from("### VM shoot-out side by side\n\n");
    out.push_str(
        "Ratios are the peer's median over Vellum's, from this run. The small contract on \
         Vellum hashes with the host's SHA-256 (`store`) or in wasm (`store_guest_hash`, the \
         CosmWasm contract's only option).\n\n",
    );
    let mut t = Table::new(&[
        "measurement",
        "Vellum",
        "wasmi",
        "cosmwasm-vm",
        "wasmi / Vellum",
        "cosmwasm-vm / Vellum",
    ]);
    let rows: [(&str, &str, &str, &str); 7] = [
        (
            "cold load: compile",
            "compile_ns",
            "compile_ns",
            "compile_ns",
        ),
        (
            "cached load (disk cache)",
            "cached_load_ns",
            "cached_load_ns",
            "cached_load_ns",
        ),
        (
            "instantiate + call, small (`store`, host SHA-256 on Vellum and wasmi)",
            "store.instantiate_call_ns",
            "store.instantiate_call_ns",
            "store.instantiate_call_ns",
        ),
        (
            "instantiate + call, small, SHA-256 in wasm everywhere",
            "store_guest_hash.instantiate_call_ns",
            "store_guest_hash.instantiate_call_ns",
            "store.instantiate_call_ns",
        ),
        (
            "call only (reused instance)",
            "store.call_only_ns",
            "store.call_only_ns",
            "store.call_only_ns",
        ),
        (
            "one host call (storage read)",
            "host_call_ns",
            "host_call_ns",
            "host_call_ns",
        ),
        (
            "compute-heavy (1,000 chained SHA-256 in wasm), instantiate + call",
            "heavy_ns",
            "heavy_ns",
            "heavy_ns",
        ),
    ];
    for (name, kv, kw, kc) in rows {
        let v = get(f, &format!("vm.vellum.{kv}"));
        let w = get(f, &format!("vm.wasmi.{kw}"));
        let c = get(f, &format!("vm.cosmwasm.{kc}"));
        let cell = |x: Option<f64>| x.map_or_else(|| "n/a".into(), fmt_ns);
        t.row(&[
            name.to_string(),
            cell(v),
            cell(w),
            cell(c),
            ratio(w, v),
            ratio(c, v),
        ]);
    }
    out.push_str(&t.finish());

    out.push_str("\n### Targets of issue 5 in this run\n\n");
    let mut t = Table::new(&["target", "measured", "verdict"]);
    let inst = get(f, "vm.vellum.store.instantiate_call_ns");
    t.row(&[
        "Vellum instantiate + call median ≤ 10 µs (small contract)".into(),
        ns(inst),
        verdict(inst.map(|v| v <= 10_000.0)).into(),
    ]);
    let cw = get(f, "vm.cosmwasm.store.instantiate_call_ns");
    let same = get(f, "vm.vellum.store_guest_hash.instantiate_call_ns");
    t.row(&[
        "≥ 4× faster than cosmwasm-vm, same logic (SHA-256 in wasm on both)".into(),
        ratio(cw, same),
        verdict(cw.zip(same).map(|(c, v)| c >= 4.0 * v)).into(),
    ]);
    t.row(&[
        "≥ 4× faster than cosmwasm-vm, each platform's own way (Vellum: host SHA-256)".into(),
        ratio(cw, inst),
        verdict(cw.zip(inst).map(|(c, v)| c >= 4.0 * v)).into(),
    ]);
    let wh = get(f, "vm.wasmi.heavy_ns");
    let vh = get(f, "vm.vellum.heavy_ns");
    t.row(&[
        "≥ 10× faster than wasmi on the compute-heavy contract".into(),
        ratio(wh, vh),
        verdict(wh.zip(vh).map(|(w, v)| w >= 10.0 * v)).into(),
    ]);
    // Filled by the end-to-end part (bench/e2e.sh: `loadgen --sweep` in both modes) and the
    // scale part; shown as not measured until those parts record them.
    let ceiling = get(f, "ceiling.k256_verify_per_s_all");
    let node_ceiling = get(f, "ceiling.node_verify_per_s_all");
    for (mode, how) in [
        ("wait", "each request `?wait=true`"),
        ("stream", "202, commit seen on `/v1/stream`"),
    ] {
        let tps = get(f, &format!("e2e.{mode}.max_tx_per_s"));
        t.row(&[
            format!("end to end ({how}): ≥ 20,000 durable signed tx/s over HTTP"),
            tps.map_or_else(
                || "not measured".into(),
                |v| format!("{} tx/s", fmt_rate(v)),
            ),
            verdict(tps.map(|v| v >= 20_000.0)).into(),
        ]);
        t.row(&[
            format!("end to end ({how}): ≥ 0.6 of the all-core k256 ceiling"),
            match (tps, ceiling) {
                (Some(a), Some(c)) => format!("{:.2} ({} / {})", a / c, fmt_rate(a), fmt_rate(c)),
                _ => "not measured".into(),
            },
            verdict(tps.zip(ceiling).map(|(a, c)| a >= 0.6 * c)).into(),
        ]);
        // The node checks signatures with libsecp256k1, about twice k256's rate: this share of
        // its own ceiling is the honest measure of what HTTP, execution and commit cost.
        t.row(&[
            format!(
                "end to end ({how}): share of the node's own all-core check ceiling (libsecp256k1)"
            ),
            match (tps, node_ceiling) {
                (Some(a), Some(c)) => format!("{:.2} ({} / {})", a / c, fmt_rate(a), fmt_rate(c)),
                _ => "not measured".into(),
            },
            "context, no target".into(),
        ]);
        let p99 = get(f, &format!("e2e.{mode}.p99_at_5000_ns"));
        t.row(&[
            format!("end to end ({how}): p99 ≤ 5 ms at a steady 5,000 tx/s"),
            ns(p99),
            verdict(p99.map(|v| v <= 5e6)).into(),
        ]);
    }
    let hist = get(f, "scale.history_p99_ns");
    t.row(&[
        "scale: history page p99 ≤ 2 ms on 1,000,000 transactions".into(),
        ns(hist),
        verdict(hist.map(|v| v <= 2e6)).into(),
    ]);
    let restart = get(f, "scale.restart_ns");
    t.row(&[
        "scale: restart to serving < 2 s without recompiling".into(),
        ns(restart),
        verdict(restart.map(|v| v < 2e9)).into(),
    ]);
    out.push_str(&t.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_figures() {
        let mut f = Figs::new();
        f.insert("vm.vellum.store.instantiate_call_ns".into(), 9_000.0);
        f.insert(
            "vm.vellum.store_guest_hash.instantiate_call_ns".into(),
            12_000.0,
        );
        f.insert("vm.cosmwasm.store.instantiate_call_ns".into(), 60_000.0);
        f.insert("vm.vellum.heavy_ns".into(), 1e6);
        f.insert("vm.wasmi.heavy_ns".into(), 5e6);
        let s = render(&f);
        let line = |needle: &str| {
            s.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle} in\n{s}"))
                .to_string()
        };
        assert!(line("≤ 10 µs").ends_with("| **met** |"));
        assert!(line("same logic").contains("5.0×"));
        assert!(line("same logic").ends_with("| **met** |"));
        assert!(line("compute-heavy contract").contains("5.0×"));
        assert!(line("compute-heavy contract").ends_with("| **not met** |"));
        assert!(line("20,000 durable").ends_with("| not measured |"));
        assert!(line("cold load: compile").contains("| n/a |"));
    }
}
