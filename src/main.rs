use std::process::ExitCode;

fn main() -> ExitCode {
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
