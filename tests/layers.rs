//! The layer rule of ARCHITECTURE.md, checked on the imports: calls go down, never up.
//!
//! `main -> broker -> server -> handler -> state -> {coordinator, cleaner, security} -> log -> record`,
//! with `protocol` beside `server`/`handler` (its `error.rs` maps the domain's errors, so it may
//! name them) and the leaves (`config`, `clock`, `memory`, `alloc`) usable from anywhere. Every
//! `crate::<module>` path in a module's non-test code must name a module its layer may use.
//! Test code (`*_test.rs`, `*_tests.rs`, and a trailing `#[cfg(test)] mod`) may reach anything.
use std::collections::BTreeSet;
use std::path::Path;

const LEAVES: &[&str] = &["config", "clock", "memory", "alloc"];

/// What each top-level module may name besides itself and the leaves.
fn allowed(module: &str) -> Option<&'static [&'static str]> {
    Some(match module {
        "alloc" | "clock" | "memory" | "config" => &[],
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
        "broker" => {
            &["state", "server", "handler", "protocol", "coordinator", "cleaner", "security", "log", "record"]
        }
        "lib" | "main" => return None,
        _ => return Some(&["<unknown module: add it to tests/layers.rs>"]),
    })
}

fn non_test_code(path: &Path, text: &str) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    if name.ends_with("_test.rs") || name.ends_with("_tests.rs") {
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
