//! The test harness: every test gets its own database, copied from a template that is
//! migrated once per run, and its own server on a free port. Tests run in parallel and
//! never see each other's rows.

use std::sync::OnceLock;

use backorder_desk::config::Settings;
use backorder_desk::db::audit::Actor;
use backorder_desk::db::users::Role;
use backorder_desk::db::{self, PgPool};
use backorder_desk::services::admin::accounts;
use backorder_desk::startup::Application;
use diesel::prelude::*;
use diesel::{Connection, PgConnection};
use sha2::{Digest, Sha256};

pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const PASSWORD: &str = "a-long-test-password";

/// The server that tests run against: `TEST_DATABASE_URL` (any database on it; tests make
/// their own).
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

fn database_url(name: &str) -> String {
    let mut url = url::Url::parse(&server_url()).expect("TEST_DATABASE_URL is not a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn admin_connection() -> PgConnection {
    PgConnection::establish(&server_url()).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {} ({}). Start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or point TEST_DATABASE_URL at a server.",
            server_url(),
            e.to_string().lines().next().unwrap_or_default()
        )
    })
}

/// The migrated template for this version of the migrations, made once per run (under an
/// advisory lock, so parallel test binaries agree).
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut hasher = Sha256::new();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut entries: Vec<_> = walk(std::path::Path::new(dir));
        entries.sort();
        for path in entries {
            hasher.update(path.to_string_lossy().as_bytes());
            hasher.update(std::fs::read(&path).expect("read a migration"));
        }
        // The migrations compiled into this binary, too: a binary built before a new
        // migration must not share a template with one built after it.
        let embedded =
            diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&db::MIGRATIONS)
                .expect("the embedded migrations");
        for migration in embedded {
            hasher.update(migration.name().to_string().as_bytes());
        }
        let name = format!("bd_template_{}", &hex::encode(hasher.finalize())[..16]);
        let mut admin = admin_connection();
        diesel::sql_query("SELECT pg_advisory_lock(727274)")
            .execute(&mut admin)
            .expect("lock");
        let exists: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
        ))
        .get_result(&mut admin)
        .expect("look for the template");
        if exists == 0 {
            let building = format!("{name}_building");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .execute(&mut admin)
                .unwrap();
            diesel::sql_query(format!("CREATE DATABASE {building}"))
                .execute(&mut admin)
                .unwrap();
            {
                let mut conn = PgConnection::establish(&database_url(&building)).unwrap();
                db::run_migrations(&mut conn).expect("migrate the template");
            }
            diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                .execute(&mut admin)
                .unwrap();
        }
        diesel::sql_query("SELECT pg_advisory_unlock(727274)")
            .execute(&mut admin)
            .expect("unlock");
        name
    })
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read migrations").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}

/// A fresh database of its own for one test; dropped when the value is.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub fn new() -> Self {
        let template = template();
        let name = format!("bd_test_{}", hex::encode(rand::random::<[u8; 6]>()));
        let mut admin = admin_connection();
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut admin)
            .expect("create a test database");
        let url = database_url(&name);
        Self { name, url }
    }

    /// A name for a database that does not exist yet (for code that should create it);
    /// dropped, if it was created, when the value is.
    pub fn not_created() -> Self {
        let name = format!("bd_test_{}", hex::encode(rand::random::<[u8; 6]>()));
        let url = database_url(&name);
        Self { name, url }
    }

    /// True when the server has this database.
    pub fn exists(&self) -> bool {
        let count: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{}'",
            self.name
        ))
        .get_result(&mut admin_connection())
        .expect("look for the database");
        count == 1
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&server_url()) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

pub struct TestApp {
    pub address: String,
    /// The `METRICS_ADDR` listener, when the test set one.
    #[allow(dead_code, reason = "for the metrics tests")]
    pub metrics_address: Option<String>,
    pub pool: PgPool,
    pub client: reqwest::Client,
    /// Where the app writes emails (tests run without an SMTP server unless they start one).
    #[allow(dead_code, reason = "for the email tests")]
    pub mail_dir: std::path::PathBuf,
    #[allow(dead_code, reason = "for tests of settings")]
    pub settings: Settings,
    // Last, so the server's connections close before the database is dropped.
    #[allow(dead_code, reason = "lives as long as the app")]
    pub database: TestDatabase,
}

pub fn test_settings(database: &TestDatabase) -> Settings {
    let mail_dir = std::env::temp_dir().join(format!("{}_mail", database.name));
    Settings {
        database_url: database.url.clone(),
        bind_addr: "127.0.0.1:0".parse().unwrap(),
        public_url: "http://127.0.0.1".to_owned(),
        smtp_url: None,
        mail_from: "Backorder Desk <orders@backorder-desk.test>".to_owned(),
        mail_dir,
        session_secret: Some("a test secret that is long enough to sign cookies".to_owned()),
        pool_size: 4,
        run_worker: false,
        // Tests change rows directly between pages; the sharing has its own tests.
        figures_max_age: std::time::Duration::ZERO,
        webhook_secrets: Default::default(),
        metrics_addr: None,
        database_replica_url: None,
        replica_max_lag: std::time::Duration::from_secs(2),
        trusted_proxies: Vec::new(),
    }
}

/// Starts the app on a fresh database, with the settings changed by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(TestDatabase::new(), configure).await
}

/// Starts the app on a database the test has prepared already (for example through the
/// command line).
pub async fn spawn_app_on(
    database: TestDatabase,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = test_settings(&database);
    configure(&mut settings);
    let pool = db::connect(&settings.database_url, settings.pool_size).expect("pool");
    let app = Application::build(settings.clone(), pool.clone()).expect("build the app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    TestApp {
        address,
        metrics_address,
        pool,
        client,
        mail_dir: settings.mail_dir.clone(),
        settings,
        database,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn conn(&self) -> db::PgPooled {
        self.pool.get().expect("a pooled connection")
    }

    /// Adds a staff account with the test password; returns its email.
    pub fn add_user(&self, role: Role) -> String {
        let email = format!(
            "{}-{}@shop.test",
            role.as_str(),
            hex::encode(rand::random::<[u8; 3]>())
        );
        let name = format!("Test {}", role.label());
        accounts::add_user(
            &mut self.conn(),
            &Actor::System,
            &email,
            &name,
            role,
            PASSWORD,
        )
        .expect("add a user");
        email
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_htmx(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("HX-Request", "true")
            .send()
            .await
            .expect("GET (htmx)")
    }

    /// The CSRF token of the current session, read from a page's form.
    pub async fn csrf(&self) -> String {
        let body = self.get("/login").await.text().await.unwrap();
        csrf_in(&body).expect("a csrf_token field on the login page")
    }

    /// Posts a form with the session's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.client
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_form("/login", &[("email", email), ("password", password)])
            .await
    }

    /// Adds a user of `role` and signs in as them; returns the email.
    pub async fn login_as(&self, role: Role) -> String {
        let email = self.add_user(role);
        let response = self.login(&email, PASSWORD).await;
        assert_eq!(response.status(), 303, "signing in as {role} failed");
        email
    }
}

/// One person's browser: a cookie jar of its own.
pub struct Browser {
    client: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .unwrap(),
            base: app.address.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let page = self.get("/login").await.text().await.unwrap();
        let token = csrf_in(&page).expect("a CSRF token");
        let mut form = fields.to_vec();
        form.push(("csrf_token", &token));
        self.client
            .post(format!("{}{path}", self.base))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Signs in; returns the session cookie as an attacker would copy it
    /// (`bd_session=...`).
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let response = self
            .post("/login", &[("email", email), ("password", password)])
            .await;
        assert_eq!(response.status(), 303, "{email} signs in");
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("bd_session="))
            .and_then(|value| value.split(';').next())
            .expect("a session cookie")
            .to_owned()
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// A directory of its own under the system's temporary directory, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
