//! `vellum-bench`: the benchmark suite's Vellum-side parts (see `bench/README.md`; the whole
//! suite runs from `bench/run.sh`). Each subcommand prints one Markdown section and records its
//! figures in the file named by `VELLUM_PERF_FIGURES`:
//!
//! - `vm [--smoke]`: the VM shoot-out on Vellum's runtime and on wasmi;
//! - `ceilings [--smoke]`: k256, SHA-256 and redb commit ceilings of this machine;
//! - `summary FIGURES_FILE`: the shoot-out side by side and every target of issue 5.

mod ceilings;
mod summary;
mod vm;
mod wasmi_host;

use bench_harness::Mode;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = Mode::from_args();
    let result = match args.first().map(String::as_str) {
        Some("vm") => vm::run(mode),
        Some("ceilings") => ceilings::run(mode),
        Some("summary") => match args.get(1) {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("{path}: {e}"))
                .map(|text| print!("{}", summary::render(&bench_harness::read_figures(&text)))),
            None => Err("usage: vellum-bench summary FIGURES_FILE".into()),
        },
        _ => Err("usage: vellum-bench (vm | ceilings) [--smoke] | summary FIGURES_FILE".into()),
    };
    if let Err(e) = result {
        eprintln!("vellum-bench: {e}");
        std::process::exit(1);
    }
}
