use std::process::ExitCode;

fn main() -> ExitCode {
    backorder_desk::startup::limit_malloc_arenas();
    let _ = dotenvy::dotenv();
    backorder_desk::telemetry::init();
    match backorder_desk::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
