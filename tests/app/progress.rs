//! Long commands show their progress: plain lines when standard error is not a terminal
//! (CI, logs), a bar when it is (run under `script`, which gives the command a terminal).

use std::process::Command;

use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;

use crate::cli::{desk, stderr, stdout};
use crate::helpers::{TempDir, TestDatabase};

/// Plain lines only: no carriage returns, no terminal escapes.
fn assert_plain_lines(text: &str) {
    assert!(
        !text.contains('\r') && !text.contains('\u{1b}'),
        "terminal codes in: {text:?}"
    );
}

#[test]
fn seeding_the_demo_shop_reports_its_days_in_a_few_lines() {
    let database = TestDatabase::not_created();
    let output = desk(&database.url, &["seed", "--demo", "--orders", "60"], "");
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert_plain_lines(&err);
    let progress: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("Demo shop: days of history"))
        .collect();
    assert_eq!(progress.len(), 4, "{err}");
    assert_eq!(progress[0], "Demo shop: days of history: 16 of 61 (26%)");
    assert_eq!(progress[2], "Demo shop: days of history: 46 of 61 (75%)");
    assert!(progress[3].starts_with("Demo shop: days of history: 61 of 61 done in "));
    // The summary and the logins still go to standard output.
    assert!(
        stdout(&output).contains("\nDemo logins:\n"),
        "{}",
        stdout(&output)
    );
    // A few demo products can be bought from two suppliers (issue 18, part 3).
    let two: i64 = diesel::dsl::sql::<BigInt>(
        "SELECT count(*) FROM (SELECT product_id FROM product_suppliers
                                GROUP BY product_id HAVING count(*) = 2) t",
    )
    .get_result(&mut database.connect())
    .unwrap();
    assert!(
        (3..=20).contains(&two),
        "{two} demo products with two suppliers"
    );
}

#[test]
fn the_large_seed_reports_each_step() {
    let database = TestDatabase::not_created();
    let output = desk(
        &database.url,
        &["seed", "--products", "40", "--orders", "200"],
        "",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert_plain_lines(&err);
    assert!(err.contains("Large shop: loading: 3 of 9 (33%)"), "{err}");
    assert!(err.contains("  orders: "), "{err}");
    assert!(err.contains("Large shop: loading: 9 of 9 done in"), "{err}");
    assert!(err.contains("Large shop: rebuilding indexes: "), "{err}");
}

#[test]
fn the_inventory_import_command_imports_with_progress_or_names_each_bad_row() {
    let database = TestDatabase::not_created();
    let dir = TempDir::new("bd-import");
    let good = dir.path().join("products.csv");
    std::fs::write(
        &good,
        "sku,name,reorder_point,unit_price\nKET-001,Kettle,5,34.99\nMUG-001,Mug,2,9.00\nPOT-001,Teapot,1,45\nCUP-001,Cup,0,4.5\n",
    )
    .unwrap();
    let output = desk(
        &database.url,
        &["inventory", "import", good.to_str().unwrap()],
        "",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("4 created, 0 updated."),
        "{}",
        stdout(&output)
    );
    let err = stderr(&output);
    assert_plain_lines(&err);
    assert!(err.contains("Importing products: 1 of 4 (25%)"), "{err}");
    assert!(err.contains("Importing products: 2 of 4 (50%)"), "{err}");
    assert!(err.contains("Importing products: 4 of 4 done in"), "{err}");

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "sku,name,reorder_point\nNEW-1,New,lots\nNEW-2,Other,1\n",
    )
    .unwrap();
    let output = desk(
        &database.url,
        &["inventory", "import", bad.to_str().unwrap()],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("row 2, reorder_point: "), "{err}");
    assert!(
        err.contains("error: nothing was imported: 1 problem"),
        "{err}"
    );
    let count: i64 = diesel::dsl::sql::<BigInt>("SELECT count(*) FROM products")
        .get_result(&mut database.connect())
        .unwrap();
    assert_eq!(count, 4, "the bad file changed nothing");
}

#[test]
fn simulate_draws_a_bar_on_a_terminal_and_lines_elsewhere() {
    let dir = TempDir::new("bd-sim");
    let scenario = dir.path().join("year.jsonl");
    let binary = env!("CARGO_BIN_EXE_backorder-desk");
    let generated = Command::new(binary)
        .args([
            "simulate",
            "--generate",
            "--days",
            "120",
            "--seed",
            "3",
            "--products",
            "6",
        ])
        .output()
        .unwrap();
    assert!(generated.status.success());
    std::fs::write(&scenario, &generated.stdout).unwrap();
    let err = String::from_utf8_lossy(&generated.stderr).into_owned();
    assert_plain_lines(&err);
    assert!(err.lines().last().unwrap().contains(" done in "), "{err}");

    let piped = Command::new(binary)
        .args(["simulate", "--scenario", scenario.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(piped.status.success());
    let err = String::from_utf8_lossy(&piped.stderr).into_owned();
    assert_plain_lines(&err);
    assert!(err.starts_with("Replaying days: "), "{err}");
    assert!(err.contains("(50%)"), "{err}");
    // The report itself is untouched: JSON lines on standard output.
    let report = String::from_utf8_lossy(&piped.stdout).into_owned();
    assert!(report.lines().last().unwrap().starts_with("{\"summary\""));

    // Under `script` (util-linux) the command has a terminal: a bar, redrawn in place.
    let command = format!(
        "{binary} simulate --scenario {} > {}",
        scenario.display(),
        dir.path().join("report.jsonl").display()
    );
    let on_terminal = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("`script` (util-linux) gives the command a terminal");
    assert!(on_terminal.status.success());
    let screen = String::from_utf8_lossy(&on_terminal.stdout).into_owned();
    assert!(screen.contains("Replaying days ["), "{screen:?}");
    assert!(
        screen.contains('\r') || screen.contains("\u{1b}["),
        "{screen:?}"
    );
    assert!(screen.contains("done in"), "{screen:?}");
}
