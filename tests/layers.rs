//! The layers depend one way: web -> services -> domain, with db and email beside the
//! services. These checks read the code's own `use` paths, so a new import that points
//! upward fails here with the file and line that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Lines of code (comments left out) that mention one of `needles`, as "file:line: text".
fn mentions(files: &[PathBuf], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(file).expect("a readable source file");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if needles.iter().any(|needle| code.contains(needle)) {
                found.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    found
}

fn below_web() -> Vec<PathBuf> {
    let src = src();
    let mut files = vec![src.join("error.rs")];
    for layer in ["db", "domain", "services", "email"] {
        files.extend(rust_files(&src.join(layer)));
    }
    files
}

#[test]
fn nothing_below_the_web_layer_imports_it() {
    let upward = mentions(&below_web(), &["crate::web", "crate::startup"]);
    assert!(
        upward.is_empty(),
        "imports of the web layer from below it:\n{}",
        upward.join("\n")
    );
}

#[test]
fn nothing_below_the_web_layer_knows_http() {
    let http = mentions(
        &below_web(),
        &["actix_web", "actix_session", "HttpResponse", "HttpRequest"],
    );
    assert!(
        http.is_empty(),
        "HTTP below the web layer:\n{}",
        http.join("\n")
    );
}

#[test]
fn the_domain_knows_no_database_and_no_services() {
    let domain = rust_files(&src().join("domain"));
    let found = mentions(
        &domain,
        &[
            "diesel",
            "crate::db",
            "crate::services",
            "crate::email",
            "PgConnection",
        ],
    );
    assert!(
        found.is_empty(),
        "the domain reaches outward:\n{}",
        found.join("\n")
    );
}

/// Service modules, one per file under `src/services` at any depth (`orders::choices` is
/// `orders/choices.rs`, `orders` is `orders/mod.rs`), and the others each one uses.
fn service_imports() -> BTreeMap<String, BTreeSet<String>> {
    let services = src().join("services");
    let modules: BTreeMap<Vec<String>, PathBuf> = rust_files(&services)
        .into_iter()
        .filter_map(|file| {
            let relative = file.strip_prefix(&services).ok()?.with_extension("");
            let mut path: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if path.last().is_some_and(|last| last == "mod") {
                path.pop();
            }
            // `services/mod.rs` only lists the areas.
            (!path.is_empty()).then_some((path, file))
        })
        .collect();
    let mut imports = BTreeMap::new();
    for (module, file) in &modules {
        let text = fs::read_to_string(file).expect("a readable source file");
        let code: String = text
            .lines()
            .map(|line| line.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ");
        let parent = &module[..module.len() - 1];
        let mut named: Vec<Vec<String>> = Vec::new();
        for path in paths_after(&code, "crate::services::") {
            named.push(path);
        }
        for (prefix, base) in [("super::", parent), ("self::", &module[..])] {
            for path in paths_after(&code, prefix) {
                named.push(base.iter().cloned().chain(path).collect());
            }
        }
        // A folder's `mod.rs` names its own submodules without a prefix.
        for child in modules.keys().filter(|m| m.len() == module.len() + 1) {
            if child.starts_with(module) {
                let name = child.last().expect("a submodule's name");
                if !paths_after(&code, &format!("{name}::")).is_empty() {
                    named.push(child.clone());
                }
            }
        }
        let mut uses = BTreeSet::new();
        for path in named {
            // The longest start of the path that is a module: `orders::choices::label`
            // is a use of `orders::choices`.
            let used = (1..=path.len())
                .rev()
                .map(|len| &path[..len])
                .find(|start| modules.contains_key(*start));
            if let Some(used) = used.filter(|used| *used != &module[..]) {
                uses.insert(used.join("::"));
            }
        }
        imports.insert(module.join("::"), uses);
    }
    imports
}

/// Every path that follows `prefix` (where `prefix` starts a path, not the middle of
/// one), as its names: `engine::eta::project` in `super::engine::eta::project`, and
/// `engine::Ctx` and `eta` in `crate::services::{engine::Ctx, eta}`.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut paths = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| is_name(c) || c == ':') {
            continue;
        }
        // `self::` and `super::` inside a longer path were part of it.
        paths.extend(path_tree(&code[at + prefix.len()..], Vec::new()));
    }
    paths
}

/// The paths at the start of `rest`, each after `start`; a `{...}` group gives one per item.
fn path_tree(rest: &str, mut start: Vec<String>) -> Vec<Vec<String>> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut rest = rest.trim_start();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut paths = Vec::new();
            let mut depth = 0;
            let mut item_start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        paths.extend(path_tree(&group[item_start..i], start.clone()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        paths.extend(path_tree(&group[item_start..i], start.clone()));
                        item_start = i + 1;
                    }
                    _ => {}
                }
            }
            return paths;
        }
        let name: String = rest.chars().take_while(|c| is_name(*c)).collect();
        if name.is_empty() {
            return if start.is_empty() {
                Vec::new()
            } else {
                vec![start]
            };
        }
        rest = &rest[name.len()..];
        if name != "self" {
            start.push(name);
        }
        match rest.strip_prefix("::") {
            Some(after) => rest = after.trim_start(),
            None => return vec![start],
        }
    }
}

#[test]
fn service_modules_form_no_import_cycle() {
    let imports = service_imports();
    // Depth-first search; a module met again while still on the path closes a cycle.
    fn visit<'a>(
        module: &'a str,
        imports: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(start) = path.iter().position(|m| *m == module) {
            let mut cycle = path[start..].to_vec();
            cycle.push(module);
            cycles.push(cycle.join(" -> "));
            return;
        }
        if !done.insert(module) {
            return;
        }
        path.push(module);
        for next in imports.get(module).into_iter().flatten() {
            visit(next, imports, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for module in imports.keys() {
        visit(module, &imports, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(
        cycles.is_empty(),
        "service modules that import each other:\n{}",
        cycles.join("\n")
    );
}
