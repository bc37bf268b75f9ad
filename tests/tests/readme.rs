//! The README's "Quick start: a node" executed, so it cannot rot.
//!
//! The test reads README.md, takes the shell commands of that section's code blocks and runs
//! them the way a user pasting them would, with only what a user substitutes by hand: the
//! node's port and data directory (a free port and a fresh directory, so the test does not
//! collide with a node on 8080), `VELLUM_NODE` pointing the other commands at it, the key
//! directory (`VELLUM_KEYS_DIR`, a temporary one instead of `~/.vellum/keys`), and the
//! placeholders `CODE_HASH`, `CONTRACT`, `HASH` and `<64 hex>` filled in from earlier output.
//! Every command must exit with status 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::{Command, Output};

use vellum_e2e::{Node, vellum_bin, workspace};

const SECTION: &str = "## Quick start: a node";
const DOC: &str = "5d41402abc4b2a76b9719d911017c592ae3a5a8f29d5b2a3f8f5bd2d6e8c1e0f";

/// The section's text, from its heading to the next `## ` heading.
fn section(readme: &str) -> &str {
    let start = readme
        .find(SECTION)
        .unwrap_or_else(|| panic!("README.md has no `{SECTION}` section"));
    let rest = &readme[start + SECTION.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    &rest[..end]
}

/// The commands of each ```sh block, trailing comments and blank lines removed.
fn sh_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        match (&mut current, line.trim()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), l) => {
                let command = strip_comment(l);
                if !command.is_empty() {
                    block.push(command.to_string());
                }
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "unterminated code block in the README");
    blocks
}

/// `cmd  # comment` → `cmd`: a `#` after whitespace, outside quotes, starts a comment.
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double, mut prev_space) = (false, false, true);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev_space => return line[..i].trim_end(),
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line.trim_end()
}

/// Runs one command line with bash in the workspace, `vellum` on the PATH, `env` exported.
fn bash(line: &str, env: &BTreeMap<String, String>) -> Output {
    let bin_dir = vellum_bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-c", &format!("set -euo pipefail\n{line}")])
        .current_dir(workspace())
        .env("PATH", path)
        .envs(env)
        .output()
        .unwrap()
}

fn run_ok(line: &str, env: &BTreeMap<String, String>) -> String {
    let out = bash(line, env);
    assert!(
        out.status.success(),
        "README command `{line}` failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The word after `label ` on a line of human CLI output, e.g. `code_hash 3fa4...`.
fn field(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{label} ")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{output}"))
}

#[test]
fn readme_quick_start_runs() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let text = section(&readme);
    let blocks = sh_blocks(text);
    assert_eq!(
        blocks.len(),
        3,
        "expected the node, the walkthroughs and the CLI steps: {blocks:?}"
    );

    // 1. Start the node exactly as written, on a free port and a fresh data directory.
    let [start] = blocks[0].as_slice() else {
        panic!("the first block should be the one command that starts a node: {blocks:?}");
    };
    assert!(
        start.ends_with(" node") || start.contains(" node "),
        "{start}"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("vellum-data");
    let mut command = Command::new("bash");
    command
        .arg("-c")
        // `exec`, so that SIGTERM reaches the node (cargo run execs the binary in turn).
        .arg(format!(
            "exec {start} --listen 127.0.0.1:0 --data-dir '{}'",
            data.display()
        ))
        .current_dir(workspace());
    let node = Node::spawn(command, &data);

    let keys = dir.path().join("keys");
    let mut env = BTreeMap::from([
        ("VELLUM_NODE".to_string(), node.url.clone()),
        ("VELLUM_KEYS_DIR".to_string(), keys.display().to_string()),
    ]);

    // 2. The walkthroughs, pointed at the node.
    for line in &blocks[1] {
        let out = run_ok(line, &env);
        assert!(!out.trim().is_empty(), "`{line}` printed nothing");
    }

    // 3. The CLI steps. `NAME=$(...)` keeps NAME for the later steps; placeholders take the
    // values the earlier steps printed.
    let mut register_tx = None;
    for line in &blocks[2] {
        let mut line = line.replace("<64 hex>", DOC);
        for (placeholder, var) in [("CODE_HASH", "code_hash"), ("CONTRACT", "contract")] {
            if line.contains(placeholder) {
                let value = env
                    .get(var)
                    .unwrap_or_else(|| panic!("`{line}` needs {placeholder} before it is printed"));
                line = line.replace(placeholder, value);
            }
        }
        if let Some((name, value)) = line.split_once("=$(")
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            let out = run_ok(&format!("{name}=$({value}\nprintf %s \"${name}\""), &env);
            assert!(!out.is_empty(), "`{line}` set {name} to nothing");
            env.insert(name.to_string(), out);
            continue;
        }
        let out = run_ok(&line, &env);
        if line.starts_with("vellum deploy") {
            env.insert("code_hash".into(), field(&out, "code_hash"));
        } else if line.starts_with("vellum instantiate") {
            env.insert("contract".into(), field(&out, "contract"));
        } else if line.starts_with("vellum call") {
            let tx = out.split_whitespace().nth(1).unwrap().to_string();
            register_tx = Some(tx);
        } else if line.starts_with("vellum history") {
            assert!(out.contains("register"), "{out}");
        }
    }
    let register_tx = register_tx.expect("the CLI steps register a document");

    // The read commands the section names in its text.
    for read in ["`vellum tx HASH`", "`vellum status`"] {
        assert!(text.contains(read), "the README no longer mentions {read}");
    }
    let tx = run_ok(&format!("vellum tx {register_tx}"), &env);
    assert!(tx.contains("committed"), "{tx}");
    let status = run_ok("vellum status", &env);
    assert!(status.contains("vellum-dev"), "{status}");
    let doc = run_ok(
        &format!(
            "vellum query {} '{{\"verify\": {{\"document_id\": \"d1\", \"sha256\": \"{DOC}\"}}}}'",
            env["contract"]
        ),
        &env,
    );
    assert!(doc.contains("\"matches\": true"), "{doc}");

    // Stop it with SIGTERM as the README says, then `vellum verify --data-dir ./vellum-data`
    // with this node's directory.
    let log = node.stop();
    assert!(log.contains("shut down cleanly"), "{log}");
    let verify = "vellum verify --data-dir ./vellum-data";
    assert!(
        text.contains(verify),
        "the README no longer shows `{verify}`"
    );
    let line = verify.replace("./vellum-data", &format!("'{}'", data.display()));
    let out = run_ok(&line, &env);
    assert!(out.starts_with("ok:"), "{out}");
}
