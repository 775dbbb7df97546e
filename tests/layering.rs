//! The module stack stays top-down: reads every file under `src/` and fails when a module
//! imports one above it, or when modules import each other in a cycle (a module and its own
//! submodules excepted).
//! A new module must be given its place in [`STACK`] (docs/architecture.md shows the same).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers from the top; a module may import its own layer and the ones below. The most
/// specific entry wins (`fs::write` sits above `error`, which needs the rest of `fs`).
const STACK: &[&[&str]] = &[
    &["server"],
    &["tls"],
    &["conn"],
    &["transport", "state"],
    &["dispatch"],
    &["routing", "cors"],
    &["method"],
    &["allow"],
    &["request"],
    &["dav"],
    &["access"],
    &["fs::write"],
    &["error"],
    &["conditional", "range", "log", "config"],
    &["fs"],
    &["cache", "compress"],
    &["http", "time", "metrics"],
];

/// Module path (`method::get`) → the modules its production code names.
type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_module_imports_one_above_it() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (module, imports) in &graph {
        let Some(mine) = layer(module) else {
            wrong.push(format!(
                "{module}: not in tests/layering.rs STACK; give it a layer"
            ));
            continue;
        };
        for import in imports {
            if layer(import).is_some_and(|theirs| theirs < mine) {
                wrong.push(format!("{module} imports {import}, a layer above it"));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn no_import_cycle_between_modules() {
    let graph = graph();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((at, trail)) = stack.pop() {
            for next in graph.get(&at).into_iter().flatten() {
                let families: BTreeSet<&str> = trail.iter().map(|m| family(m)).collect();
                if next == start && families.len() > 1 {
                    panic!("import cycle: {} -> {next}", trail.join(" -> "));
                }
                if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
}

#[test]
fn the_checker_sees_an_upward_import() {
    // A test that cannot fail proves nothing: the parser must see these edges.
    let text = "use crate::dispatch::handle;\nfn f() { crate::server::x(); }\n\
                use crate::{routing, cors::preflight};\nuse super::{file, Request};\n\
                #[cfg(test)]\nmod tests {\n    use crate::conn::Wire;\n}\n";
    let imports = imports_of(&["method".into(), "get".into()], text, &modules());
    let want: BTreeSet<String> = [
        "cors",
        "dispatch",
        "method",
        "method::file",
        "routing",
        "server",
    ]
    .map(String::from)
    .into();
    assert_eq!(imports, want);
    assert!(layer("dispatch") < layer("method::get"));
}

/// The layer of `module`: the index of the longest [`STACK`] entry it falls under.
fn layer(module: &str) -> Option<usize> {
    let within = |entry: &str| module == entry || module.starts_with(&format!("{entry}::"));
    let mut best: Option<(usize, usize)> = None;
    for (index, entries) in STACK.iter().enumerate() {
        for entry in entries.iter().filter(|e| within(e)) {
            if best.is_none_or(|(len, _)| entry.len() > len) {
                best = Some((entry.len(), index));
            }
        }
    }
    best.map(|(_, index)| index)
}

/// The top-level module `module` belongs to: a module and its submodules may use each other
/// (`config` ⇄ `config::file`, `method::put` → `method::precondition`).
fn family(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// Every module of the crate but the root (`lib.rs`, `main.rs`), as `a::b` paths.
fn modules() -> BTreeSet<String> {
    files().into_iter().map(|(module, _)| module).collect()
}

fn files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &[],
        &mut out,
    );
    out
}

fn walk(dir: &Path, prefix: &[String], out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut segments = prefix.to_vec();
        if path.is_dir() {
            segments.push(name);
            walk(&path, &segments, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        if !matches!(name.as_str(), "mod" | "lib" | "main") {
            segments.push(name);
        }
        if !segments.is_empty() {
            out.push((segments.join("::"), std::fs::read_to_string(&path).unwrap()));
        }
    }
}

fn graph() -> Graph {
    let modules = modules();
    let mut graph = Graph::new();
    for (module, text) in files() {
        let me: Vec<String> = module.split("::").map(String::from).collect();
        graph.insert(module, imports_of(&me, &text, &modules));
    }
    graph
}

/// The modules `crate::…` and `super::…` paths in `text` name, outside `#[cfg(test)]` items.
fn imports_of(me: &[String], text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = without_tests(text);
    let mut found = BTreeSet::new();
    for (anchor, base) in [("crate::", &[][..]), ("super::", &me[..me.len() - 1])] {
        for (at, _) in code.match_indices(anchor) {
            let preceded = code[..at].chars().next_back();
            if preceded.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path = &code[at + anchor.len()..];
            // `use crate::{a, b::c}`: each name of the group is a path of its own.
            let paths: Vec<&str> = match path.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap_or(group.len())]
                    .split(',')
                    .collect(),
                None => vec![path],
            };
            for path in paths {
                let full: Vec<String> = base.iter().cloned().chain(segments(path)).collect();
                let named = (1..=full.len())
                    .rev()
                    .map(|n| full[..n].join("::"))
                    .find(|m| modules.contains(m));
                if let Some(named) = named.filter(|m| *m != me.join("::")) {
                    found.insert(named);
                }
            }
        }
    }
    found
}

/// The leading `a::b::c` names of a path (up to the first non-name).
fn segments(path: &str) -> impl Iterator<Item = String> + '_ {
    path.trim_start()
        .split("::")
        .map(|s| s.split(|c: char| !c.is_alphanumeric() && c != '_').next())
        .take_while(|s| s.is_some_and(|s| !s.is_empty()))
        .map(|s| s.unwrap_or_default().to_string())
}

/// `text` without the items under `#[cfg(test)]` (a `mod tests { … }` or a single item).
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let end = match (item.find('{'), item.find(';')) {
            (Some(open), Some(semi)) if semi < open => semi + 1,
            (Some(open), _) => open + closing_brace(&item[open..]),
            (None, Some(semi)) => semi + 1,
            (None, None) => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The offset just past the brace that closes the one `text` starts with.
fn closing_brace(text: &str) -> usize {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => return i + 1,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}
