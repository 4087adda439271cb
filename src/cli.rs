//! The command line: `serve`, `migrate`, `seed`, `user add`, `api-token create`, `worker`,
//! `simulate`, `inventory import`. Long ones show their progress (`progress`).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::config::Settings;
use crate::db::audit::Actor;
use crate::db::users::Role;
use crate::progress::Progress;
use crate::services::{admin::accounts, admin::passwords};
use crate::startup::{self, Application};

#[derive(Debug, Parser)]
#[command(
    name = "backorder-desk",
    version,
    about = "Backorder Desk: backorders, ETAs and customer emails"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database and serve the web app (and the email worker).
    Serve {
        /// On an empty database, load a demo shop and print its logins.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load data into the database.
    Seed(SeedArgs),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage bearer tokens for the JSON API.
    #[command(subcommand, name = "api-token")]
    ApiToken(ApiTokenCommand),
    /// Replay a shop's history through the engine and measure its promises (no database).
    Simulate(SimulateArgs),
    /// Deliver queued emails (the worker alone; `serve` runs one too).
    Worker,
    /// Manage the inventory.
    #[command(subcommand)]
    Inventory(InventoryCommand),
}

#[derive(Debug, Subcommand)]
enum InventoryCommand {
    /// Create or update products from a CSV file, as the Inventory page's import does:
    /// every row valid or nothing changes.
    Import {
        /// The CSV file (columns as the page's export writes them).
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Args)]
struct SimulateArgs {
    /// A scenario: JSON lines, one event each, in day order. Give it more than once
    /// to replay several and summarize them pooled.
    #[arg(
        long,
        required_unless_present = "generate",
        conflicts_with = "generate"
    )]
    scenario: Vec<std::path::PathBuf>,
    /// Write a generated scenario to standard output instead.
    #[arg(long)]
    generate: bool,
    /// With --generate: days of customer demand.
    #[arg(long, default_value_t = 365, requires = "generate")]
    days: u32,
    /// With --generate: the seed (the same seed, the same scenario).
    #[arg(long, default_value_t = 1, requires = "generate")]
    seed: u64,
    /// With --generate: number of products.
    #[arg(long, default_value_t = 30, requires = "generate")]
    products: u32,
    /// With --generate: which generated world (ETA.md describes both).
    #[arg(long, value_enum, default_value_t = crate::sim::Profile::One, requires = "generate")]
    profile: crate::sim::Profile,
    /// The percentile of the sampled dates told to customers as the promise.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(50..=99), conflicts_with = "generate")]
    worst_percentile: u8,
    /// Measure the naive promise (`expected_day`) in the summary instead.
    #[arg(long, conflicts_with = "generate")]
    naive: bool,
    /// Also date every line as an oracle that knows each supplier's true slips (generated
    /// scenarios carry them): each line gets `oracle_day`, and the summary line gets
    /// "product", "naive" and "oracle" side by side.
    #[arg(long, conflicts_with = "generate")]
    oracle: bool,
}

#[derive(Debug, Subcommand)]
enum ApiTokenCommand {
    /// Make a token; it is printed once, alone on its own line, and stored only as a hash.
    Create {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Args)]
struct SeedArgs {
    /// The demo shop: suppliers, products, customers, two months of orders, purchase orders.
    #[arg(long)]
    demo: bool,
    /// How many orders: the demo shop's (1,500 unless given), or the large shop's.
    #[arg(long)]
    orders: Option<u32>,
    /// A large shop for the benchmark, loaded with set-based SQL into an empty database:
    /// this many products (with --orders).
    #[arg(long, conflicts_with = "demo", requires = "orders")]
    products: Option<u32>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a staff account. The password is read from standard input when it is not a
    /// terminal, asked twice (without echo) when it is, or generated with --generate.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// rep, manager or admin
        #[arg(long)]
        role: Role,
        /// Generate a strong password and print it.
        #[arg(long)]
        generate: bool,
    },
}

pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // No settings and no database: a simulation needs neither.
    if let Command::Simulate(args) = &cli.command {
        return simulate(args);
    }
    let settings = Settings::from_env()?;
    match cli.command {
        Command::Serve { demo } => serve(settings, demo),
        Command::Migrate => {
            startup::prepare_database(&settings)?;
            println!("The database is up to date.");
            Ok(())
        }
        Command::Seed(args) => {
            if let (false, Some(products), Some(orders)) = (args.demo, args.products, args.orders) {
                let pool = startup::prepare_database(&settings)?;
                let mut conn = pool.get()?;
                let progress = Progress::for_command();
                let shop = crate::seed_large::load_with(&mut conn, products, orders, &progress)?;
                progress.finish();
                println!(
                    "Seeded {} products, {} customers, {} orders ({} lines, {} waiting), {} open purchase order lines in {:.1} s.",
                    shop.products,
                    shop.customers,
                    shop.orders,
                    shop.order_lines,
                    shop.waiting_lines,
                    shop.open_purchase_order_lines,
                    shop.seconds
                );
                return Ok(());
            }
            if !args.demo {
                bail!("say what to seed: --demo, or --products N --orders M");
            }
            let pool = startup::prepare_database(&settings)?;
            let mut conn = pool.get()?;
            let progress = Progress::for_command();
            let logins =
                crate::seed::load_demo_with(&mut conn, args.orders.unwrap_or(1500), &progress)?;
            progress.finish();
            print_logins(&logins);
            Ok(())
        }
        Command::ApiToken(ApiTokenCommand::Create { name }) => {
            let pool = startup::prepare_database(&settings)?;
            let mut conn = pool.get()?;
            let token =
                crate::services::admin::api_tokens::create(&mut conn, &Actor::System, &name)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!("API token {name:?} created. Keep it secret: it is not shown again.");
            println!("{token}");
            Ok(())
        }
        Command::Simulate(args) => simulate(&args),
        Command::Worker => {
            let pool = startup::prepare_database(&settings)?;
            // The server's PUBLIC_URL wins; a worker alone fills it in only when unset.
            {
                let mut conn = pool.get().context("cannot get a database connection")?;
                crate::email::links::register_public_url_if_unset(&mut conn, &settings.public_url)?;
            }
            actix_web::rt::System::new().block_on(async move {
                // The worker's email send results, on METRICS_ADDR when it is set.
                let metrics = match settings.metrics_addr {
                    Some(addr) => {
                        let source = crate::web::metrics::MetricsSource {
                            pools: crate::db::replica::Pools::primary_only(pool.clone()),
                        };
                        let (server, port) = crate::web::metrics::listener(addr, source)?;
                        println!("Metrics at http://{}:{port}/metrics", addr.ip());
                        Some(actix_web::rt::spawn(server))
                    }
                    None => None,
                };
                let (_stop, running) =
                    crate::email::worker::spawn(pool, &settings, startup::email_worker_config())?;
                println!("Delivering emails; stop with Ctrl-C.");
                let stopped = running.await.context("the email worker stopped");
                if let Some(metrics) = metrics {
                    metrics.abort();
                }
                stopped
            })
        }
        Command::Inventory(InventoryCommand::Import { file }) => import_inventory(&settings, &file),
        Command::User(UserCommand::Add {
            email,
            name,
            role,
            generate,
        }) => {
            let password = if generate {
                passwords::generate(20)
            } else {
                read_password()?
            };
            passwords::check_strength(&password).map_err(|message| anyhow::anyhow!("{message}"))?;
            let pool = startup::prepare_database(&settings)?;
            let mut conn = pool.get()?;
            let user =
                accounts::add_user(&mut conn, &Actor::System, &email, &name, role, &password)
                    .map_err(|e| match e {
                        crate::error::AppError::Invalid { details, .. } => anyhow::anyhow!(
                            "{}",
                            details
                                .iter()
                                .map(|d| format!("{}: {}", d.field, d.message))
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                        other => anyhow::anyhow!("{other}"),
                    })?;
            println!("Added {} <{}> as {}.", user.name, user.email, user.role);
            if generate {
                println!("Password: {password}");
            }
            Ok(())
        }
    }
}

/// Bad scenario input is one line on standard error and exit code 2.
fn simulate(args: &SimulateArgs) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = match args.scenario.as_slice() {
        [_, ..] => {
            let mut settings = crate::sim::ReplaySettings::default();
            settings.eta.worst_percentile = args.worst_percentile;
            if args.naive {
                settings.measured = crate::sim::Measured::Naive;
            }
            settings.oracle = args.oracle;
            crate::sim::simulate_files(
                &args.scenario,
                &settings,
                &mut out,
                &Progress::for_command(),
            )
            .map(|_| ())
        }
        [] => {
            let settings = crate::sim::GenerateSettings {
                days: args.days,
                seed: args.seed,
                products: args.products,
                profile: args.profile,
            };
            crate::sim::write_generated_with(&settings, &mut out, &Progress::for_command())
                .map_err(crate::sim::SimError::from)
        }
    };
    match result {
        Err(error) if error.is_bad_input() => {
            eprintln!("error: {error}");
            std::process::exit(2);
        }
        other => Ok(other?),
    }
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")?;
    passwords::check_strength(&first).map_err(|message| anyhow::anyhow!("{message}"))?;
    let second = rpassword::prompt_password("Password again: ")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(first)
}

fn print_logins(logins: &[crate::seed::DemoLogin]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Demo logins:");
    for login in logins {
        let _ = writeln!(
            out,
            "  {:<8} {:<28} password: {}",
            login.role, login.email, login.password
        );
    }
}

fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let pool = startup::prepare_database(&settings)?;
    // Before the demo shop, whose emails carry links.
    startup::register_public_url(&pool, &settings)?;
    if demo {
        let mut conn = pool.get()?;
        if crate::seed::is_empty(&mut conn)? {
            println!("Loading the demo shop (an empty database was found)...");
            let progress = Progress::for_command();
            let logins = crate::seed::load_demo_with(&mut conn, 1500, &progress)?;
            progress.finish();
            print_logins(&logins);
        } else {
            println!("The database has data already; the demo shop was not loaded.");
            print_logins(&crate::seed::demo_logins());
        }
    }
    let public_url = settings.public_url.clone();
    actix_web::rt::System::new().block_on(async move {
        let _worker = if settings.run_worker {
            Some(crate::email::worker::spawn(
                pool.clone(),
                &settings,
                startup::email_worker_config(),
            )?)
        } else {
            None
        };
        let app = Application::build(settings, pool)?;
        println!(
            "Backorder Desk is serving at {public_url} (port {})",
            app.port()
        );
        if let Some(port) = app.metrics_port() {
            println!("Metrics without a token on port {port} (METRICS_ADDR)");
        }
        app.run_until_stopped()
            .await
            .context("the web server stopped")
    })
}

/// `inventory import FILE`: the Inventory page's CSV import from the command line. Row
/// problems are printed one a line (nothing is imported) and the exit code is 2.
fn import_inventory(settings: &Settings, file: &std::path::Path) -> anyhow::Result<()> {
    use crate::services::inventory::{self, ImportOutcome};
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let pool = startup::prepare_database(settings)?;
    let mut conn = pool.get()?;
    let progress = Progress::for_command();
    let outcome = inventory::import_csv_with(
        &mut conn,
        &Actor::System,
        &bytes,
        crate::clock::today(),
        &progress,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    progress.finish();
    match outcome {
        ImportOutcome::Imported { created, updated } => {
            println!(
                "Imported {}: {created} created, {updated} updated.",
                file.display()
            );
            Ok(())
        }
        ImportOutcome::Rejected(problems) => {
            for problem in &problems {
                eprintln!(
                    "row {}, {}: {}",
                    problem.row, problem.column, problem.message
                );
            }
            eprintln!(
                "error: nothing was imported: {} problem{} in {}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                file.display()
            );
            std::process::exit(2);
        }
    }
}
