//! The layer rule of ARCHITECTURE.md, checked on the imports: calls go down, never up.
//!
//! `main -> control -> broker -> cluster -> server -> handler -> state -> {coordinator, cleaner, security} -> log -> record`,
//! with `protocol` beside `server`/`handler` (its `error.rs` maps the domain's errors, so it may
//! name them) and the leaves (`config`, `clock`, `memory`, `alloc`) usable from anywhere. Every
//! `crate::<module>` path in a module's non-test code must name a module its layer may use.
//! Test code (`*_test.rs`, `*_tests.rs`, `tests.rs`, and a trailing `#[cfg(test)] mod`) may reach
//! anything. The other Architecture Invariants a text scan can check are checked here too.
use std::collections::BTreeSet;
use std::path::Path;

const LEAVES: &[&str] = &["config", "clock", "faults", "memory", "metrics", "alloc"];

/// What each top-level module may name besides itself and the leaves.
fn allowed(module: &str) -> Option<&'static [&'static str]> {
    Some(match module {
        "alloc" | "clock" | "memory" | "config" | "faults" | "metrics" => &[],
        "record" => &[],
        "log" => &["record"],
        "coordinator" => &["log", "record"],
        "cleaner" => &["log", "record"],
        "security" => &["log", "record"],
        "state" => &["coordinator", "cleaner", "security", "log", "record"],
        "protocol" => &["coordinator", "security", "log", "record"],
        "handler" => &["state", "protocol", "coordinator", "cleaner", "security", "log", "record"],
        "server" => &["state", "handler", "protocol", "security", "log", "record"],
        // Fuzz targets drive decoding, handling and recovery: they sit where the server does.
        "fuzz" => &["state", "handler", "protocol", "security", "log", "record", "broker"],
        "broker" => &[
            "cluster",
            "state",
            "server",
            "handler",
            "protocol",
            "coordinator",
            "cleaner",
            "security",
            "log",
            "record",
        ],
        // Several brokers over etcd and an object store: started by the broker, it moves
        // partitions (the state's logs and peers) and commits their data.
        "cluster" => &["state", "coordinator", "log", "record"],
        // What a running broker shows (metrics, the console's JSON): reads the state, drives nothing.
        "observe" => &["state", "protocol", "coordinator", "cleaner", "security", "log", "record"],
        "control" => &[
            "observe",
            "broker",
            "state",
            "server",
            "handler",
            "protocol",
            "coordinator",
            "cleaner",
            "security",
            "log",
            "record",
        ],
        "lib" | "main" => return None,
        _ => return Some(&["<unknown module: add it to tests/layers.rs>"]),
    })
}

fn non_test_code(path: &Path, text: &str) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    if name.ends_with("_test.rs") || name.ends_with("_tests.rs") || name == "tests.rs" {
        return String::new();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for i in 0..lines.len() {
        if lines[i].trim() == "#[cfg(test)]"
            && lines.get(i + 1).is_some_and(|l| l.trim_start().starts_with("mod "))
        {
            end = i;
            break;
        }
    }
    lines[..end].iter().filter(|l| !l.trim_start().starts_with("//")).cloned().collect::<Vec<_>>().join("\n")
}

fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + 7..];
        let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        // `use crate::{a, b}` names several at once.
        if name.is_empty() && after.starts_with('{') {
            let close = after.find('}').unwrap_or(after.len());
            for part in after[1..close].split(',') {
                let n: String =
                    part.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !n.is_empty() {
                    out.insert(n);
                }
            }
        } else if !name.is_empty() {
            out.insert(name);
        }
        rest = after;
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn calls_go_down_never_up() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    assert!(all.len() > 40, "found only {} source files under {}", all.len(), src.display());
    let mut violations = Vec::new();
    let mut checked = 0;
    for path in all {
        let rel = path.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some(ok) = allowed(&module) else { continue };
        let text = std::fs::read_to_string(&path).unwrap();
        for used in crate_paths(&non_test_code(&path, &text)) {
            checked += 1;
            if used != module && !LEAVES.contains(&used.as_str()) && !ok.contains(&used.as_str()) {
                violations.push(format!("src/{}: `{module}` uses `crate::{used}`", rel.display()));
            }
        }
    }
    assert!(checked > 100, "the scan saw only {checked} crate paths: the parser is broken");
    assert!(violations.is_empty(), "calls must go down (see ARCHITECTURE.md):\n{}", violations.join("\n"));
}

#[test]
fn the_scanner_sees_what_it_must() {
    let code = "use crate::log::LogManager;\nuse crate::{record, config::X};\nlet a = crate::handler::f();";
    let got: Vec<String> = crate_paths(code).into_iter().collect();
    assert_eq!(got, ["config", "handler", "log", "record"]);
    let with_tests = "use crate::log::A;\n#[cfg(test)]\nmod tests {\n use crate::broker::B;\n}\n";
    let code = non_test_code(Path::new("x.rs"), with_tests);
    assert_eq!(crate_paths(&code).into_iter().collect::<Vec<_>>(), ["log"]);
}

/// The non-test code of every file under `src/<dir>`.
fn code_under(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    let p = root.join(dir);
    if p.is_dir() {
        files(&p, &mut all);
    } else if p.is_file() {
        all.push(p);
    } else {
        all.push(root.join(format!("{dir}.rs")));
    }
    all.into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f.strip_prefix(&root).unwrap().display().to_string(), non_test_code(&f, &text))
        })
        .collect()
}

fn offenders(dirs: &[&str], bad: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for d in dirs {
        for (file, code) in code_under(d) {
            for line in code.lines().filter(|l| bad(l)) {
                out.push(format!("src/{file}: {}", line.trim()));
            }
        }
    }
    out
}

#[test]
fn server_never_matches_on_an_api_key() {
    let found = offenders(&["server"], |l| l.contains("ApiKey"));
    assert!(found.is_empty(), "only handler/ looks at API keys:\n{}", found.join("\n"));
}

#[test]
fn storage_never_sees_protocol_messages() {
    let found = offenders(&["log", "record", "cleaner"], |l| l.contains("kafka_protocol::messages"));
    assert!(found.is_empty(), "log/, record/ and cleaner/ speak domain types:\n{}", found.join("\n"));
}

#[test]
fn error_mapping_has_no_catch_all() {
    let found = offenders(&["protocol/error.rs"], |l| l.trim_start().starts_with("_ =>"));
    assert!(found.is_empty(), "every match in protocol/error.rs names its variants:\n{}", found.join("\n"));
    // And it is the one mapping: no other module names a coordinator storage error's code.
    let elsewhere = offenders(&["handler", "server"], |l| l.contains("Storage(_) => code::"));
    assert!(elsewhere.is_empty(), "map errors in protocol/error.rs:\n{}", elsewhere.join("\n"));
}

#[test]
fn no_unwrap_on_the_request_path() {
    let found =
        offenders(&["server", "handler", "protocol"], |l| l.contains(".unwrap()") || l.contains(".expect("));
    assert!(found.is_empty(), "request input must not reach a panic:\n{}", found.join("\n"));
}
