//! The command line, run as an operator would: the real binary, its output and exit code.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use backorder_desk::db::users::find_by_email;
use diesel::RunQueryDsl;

use crate::helpers::{TempDir, TestDatabase, spawn_app_on, spawn_app_with};

/// Settings the binary reads; cleared so that the caller's environment cannot leak in.
const SETTINGS: [&str; 9] = [
    "BIND_ADDR",
    "PUBLIC_URL",
    "SMTP_URL",
    "MAIL_FROM",
    "MAIL_DIR",
    "SESSION_SECRET",
    "DATABASE_POOL_SIZE",
    "RUST_LOG",
    "DATABASE_URL",
];

/// Runs `backorder-desk args...` against `database_url`, with `stdin` piped in, in an
/// empty working directory (so no `.env` file is read).
pub fn desk(database_url: &str, args: &[&str], stdin: &str) -> Output {
    let workdir = TempDir::new("bd-cli");
    let mut command = Command::new(env!("CARGO_BIN_EXE_backorder-desk"));
    for name in SETTINGS {
        command.env_remove(name);
    }
    let mut child = command
        .args(args)
        .current_dir(workdir.path())
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run backorder-desk");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().expect("wait for backorder-desk")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The one line a failed command printed; fails the test when there is more.
fn one_error_line(output: &Output) -> String {
    assert!(!output.status.success(), "the command succeeded");
    let text = stderr(output);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(!text.to_lowercase().contains("backtrace"), "{text}");
    lines[0].to_owned()
}

#[test]
fn migrate_brings_the_database_up_to_date() {
    let database = TestDatabase::new();

    let output = desk(&database.url, &["migrate"], "");

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("up to date"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn a_user_added_on_the_command_line_can_sign_in() {
    let database = TestDatabase::new();

    let output = desk(
        &database.url,
        &[
            "user",
            "add",
            "--email",
            "morgan@shop.test",
            "--name",
            "Morgan Lee",
            "--role",
            "manager",
        ],
        "morgans-long-password\n",
    );

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Added Morgan Lee <morgan@shop.test> as manager"),
        "{}",
        stdout(&output)
    );
    assert!(
        !stdout(&output).contains("morgans-long-password"),
        "a typed password is not printed back"
    );
    let app = spawn_app_on(database, |_| {}).await;
    let response = app.login("morgan@shop.test", "morgans-long-password").await;
    assert_eq!(response.status(), 303);
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("Morgan Lee"));
    assert!(home.contains("Daily review"));
}

#[test]
fn a_weak_password_is_refused_with_one_clear_line() {
    let database = TestDatabase::new();

    let output = desk(
        &database.url,
        &[
            "user",
            "add",
            "--email",
            "weak@shop.test",
            "--name",
            "Weak",
            "--role",
            "rep",
        ],
        "short123\n",
    );

    let line = one_error_line(&output);
    assert!(line.starts_with("error: "), "{line}");
    assert!(line.contains("at least 10 characters"), "{line}");
    let user = find_by_email(&mut database.connect(), "weak@shop.test").unwrap();
    assert!(user.is_none(), "no user was created");
}

#[tokio::test]
async fn a_generated_password_is_printed_and_works() {
    let database = TestDatabase::new();

    let output = desk(
        &database.url,
        &[
            "user",
            "add",
            "--email",
            "ada@shop.test",
            "--name",
            "Ada Admin",
            "--role",
            "admin",
            "--generate",
        ],
        "",
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    let password = printed
        .lines()
        .find_map(|line| line.strip_prefix("Password: "))
        .unwrap_or_else(|| panic!("no password printed:\n{printed}"))
        .trim()
        .to_owned();
    assert!(password.len() >= 10, "{password:?}");
    let app = spawn_app_on(database, |_| {}).await;
    assert_eq!(app.login("ada@shop.test", &password).await.status(), 303);
    assert_eq!(app.get("/admin/users").await.status(), 200);
}

#[test]
fn an_unreachable_server_ends_with_one_clear_line() {
    let output = desk(
        "postgres://postgres@127.0.0.1:1/backorder_desk",
        &["migrate"],
        "",
    );

    let line = one_error_line(&output);
    assert!(
        line.starts_with("error: cannot connect to PostgreSQL"),
        "{line}"
    );
    assert!(line.contains("127.0.0.1:1"), "says where it looked: {line}");
}

#[test]
fn a_database_url_that_is_not_a_url_ends_with_one_clear_line() {
    let output = desk("backorder desk please", &["migrate"], "");

    let line = one_error_line(&output);
    assert!(line.starts_with("error: DATABASE_URL"), "{line}");
}

#[test]
fn a_missing_database_is_created_and_migrated() {
    let database = TestDatabase::not_created();
    assert!(!database.exists());

    let output = desk(&database.url, &["migrate"], "");

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(database.exists());
    let users: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM users")
        .get_result(&mut database.connect())
        .expect("the users table exists");
    assert_eq!(users, 0);
    // `database` drops the new database when it goes out of scope.
}

#[tokio::test]
async fn seed_demo_prints_logins_that_work() {
    let database = TestDatabase::new();

    let output = desk(&database.url, &["seed", "--demo", "--orders", "0"], "");

    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    let manager = printed
        .lines()
        .find(|line| line.trim_start().starts_with("manager"))
        .unwrap_or_else(|| panic!("no manager login:\n{printed}"));
    let fields: Vec<&str> = manager.split_whitespace().collect();
    let (email, password) = (fields[1], fields[3]);
    assert!(
        printed.contains("rep@") && printed.contains("admin@"),
        "{printed}"
    );
    let app = spawn_app_on(database, |_| {}).await;
    assert_eq!(app.login(email, password).await.status(), 303);
}

#[tokio::test]
async fn api_token_create_does_not_change_the_links_in_emails() {
    // The server runs with its own PUBLIC_URL and has registered it.
    let app =
        spawn_app_with(|settings| settings.public_url = "https://desk.shop.test".into()).await;

    // An operator makes a token from a shell without PUBLIC_URL (so the command's own
    // default would be http://127.0.0.1:8080).
    let output = desk(
        &app.database.url,
        &["api-token", "create", "--name", "erp"],
        "",
    );
    assert!(output.status.success(), "{}", stderr(&output));

    // The next email the server queues links to the server, not to the shell's default.
    crate::shop::product(&app, "KETTLE", 0, 2_500);
    crate::shop::purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    crate::shop::order(&app, "W-1", "ada@example.com", "Ada", "KETTLE", 2, 0);
    let (text, html): (String, String) =
        diesel::dsl::sql::<(diesel::sql_types::Text, diesel::sql_types::Text)>(
            "SELECT body_text, body_html FROM messages WHERE kind = 'backorder_notice'",
        )
        .get_result(&mut app.conn())
        .expect("a backorder notice");
    assert!(text.contains("https://desk.shop.test/l/"), "{text}");
    assert!(html.contains("https://desk.shop.test/l/"), "{html}");
    assert!(!text.contains("127.0.0.1"), "{text}");
    assert!(!html.contains("127.0.0.1"), "{html}");
}
