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

/// Service modules (a file or a folder under `src/services`) and the others each uses.
fn service_imports() -> BTreeMap<String, BTreeSet<String>> {
    let services = src().join("services");
    let modules: BTreeSet<String> = fs::read_dir(&services)
        .expect("src/services")
        .map(|entry| entry.expect("an entry").path())
        // A module is a `.rs` file or a folder; a query's `.sql` file beside it is not.
        .filter(|path| path.is_dir() || path.extension().is_some_and(|ext| ext == "rs"))
        .filter_map(|path| {
            let name = path.file_stem()?.to_str()?.to_owned();
            (name != "mod").then_some(name)
        })
        .collect();
    let mut imports = BTreeMap::new();
    for module in &modules {
        let file = services.join(format!("{module}.rs"));
        let files = if file.exists() {
            vec![file]
        } else {
            rust_files(&services.join(module))
        };
        let mut uses = BTreeSet::new();
        for file in files {
            let text = fs::read_to_string(&file).expect("a readable source file");
            let code: String = text
                .lines()
                .map(|line| line.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" ");
            for named in paths_after(&code, &["crate::services::", "super::"]) {
                if named != *module && modules.contains(&named) {
                    uses.insert(named);
                }
            }
        }
        imports.insert(module.clone(), uses);
    }
    imports
}

/// The first name of every path that follows one of `prefixes`: `engine` in
/// `super::engine::Ctx`, and `engine` and `eta` in `crate::services::{engine::Ctx, eta}`.
fn paths_after(code: &str, prefixes: &[&str]) -> Vec<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = Vec::new();
    for prefix in prefixes {
        for (at, _) in code.match_indices(prefix) {
            let rest = &code[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // Top-level items of the group, up to its closing brace.
                let mut depth = 0;
                let mut item_start = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && is_name(c) => {
                            let name: String =
                                group[i..].chars().take_while(|c| is_name(*c)).collect();
                            names.push(name);
                            item_start = false;
                        }
                        _ => {}
                    }
                }
            } else {
                names.push(rest.chars().take_while(|c| is_name(*c)).collect());
            }
        }
    }
    names
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
