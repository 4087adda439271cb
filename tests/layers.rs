//! The layers depend one way: web -> services -> domain, with db and email beside the
//! services. These checks read the code's own `use` paths, so a new import that points
//! upward fails here with the file and line that made it.

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
