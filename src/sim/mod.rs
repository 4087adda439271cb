//! `backorder-desk simulate` (issue 9): replays a shop's history through the
//! backorder engine, day by day, and measures how often the dates it told
//! customers were kept. No database: the in-memory [`crate::domain::ledger::Shop`]
//! is changed only through the engine's own functions.

pub mod generate;
pub mod replay;
pub mod scenario;

use std::io::Write;
use std::path::Path;

pub use generate::{GenerateSettings, generate};
pub use replay::{
    LineOutcome, Measured, Replay, ReplaySettings, Summary, date_of, epoch, replay, summarize,
};
pub use scenario::{Event, EventKind, ScenarioError, parse, to_json_line};

/// Why `simulate` stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario is wrong (exit code 2).
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// The scenario file cannot be read (exit code 2).
    #[error("cannot read the scenario {path}: {source}")]
    Read {
        /// The file named.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The output cannot be written.
    #[error("cannot write the output: {0}")]
    Write(#[from] std::io::Error),
}

impl SimError {
    /// True for faults of the input, which the command reports with exit code 2.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, SimError::Scenario(_) | SimError::Read { .. })
    }
}

/// Reads, replays and reports a scenario file: one JSON line per order line,
/// then the summary. Nothing is written unless the whole scenario replays.
pub fn simulate_file(
    path: &Path,
    settings: &ReplaySettings,
    out: &mut impl Write,
) -> Result<Summary, SimError> {
    simulate_file_with(path, settings, out, &crate::progress::Progress::hidden())
}

/// `simulate_file`, reporting the days replayed.
pub fn simulate_file_with(
    path: &Path,
    settings: &ReplaySettings,
    out: &mut impl Write,
    progress: &crate::progress::Progress,
) -> Result<Summary, SimError> {
    let text = std::fs::read_to_string(path).map_err(|source| SimError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let events = parse(&text)?;
    let replayed = replay::replay_with(&events, settings, progress)?;
    progress.finish();
    let summary = summarize(&replayed, settings.measured);
    write_report(&replayed, &summary, out)?;
    Ok(summary)
}

/// Writes the per-line outcomes and the summary line.
pub fn write_report(
    replayed: &Replay,
    summary: &Summary,
    out: &mut impl Write,
) -> std::io::Result<()> {
    for line in &replayed.lines {
        serde_json::to_writer(&mut *out, line)?;
        out.write_all(b"\n")?;
    }
    #[derive(serde::Serialize)]
    struct SummaryLine<'a> {
        summary: &'a Summary,
    }
    serde_json::to_writer(&mut *out, &SummaryLine { summary })?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Writes a generated scenario as JSON lines.
pub fn write_generated(settings: &GenerateSettings, out: &mut impl Write) -> std::io::Result<()> {
    write_generated_with(settings, out, &crate::progress::Progress::hidden())
}

/// `write_generated`, reporting the events written.
pub fn write_generated_with(
    settings: &GenerateSettings,
    out: &mut impl Write,
    progress: &crate::progress::Progress,
) -> std::io::Result<()> {
    let events = generate(settings);
    progress.stage("Writing the scenario's events", events.len() as u64);
    for event in &events {
        out.write_all(to_json_line(event).as_bytes())?;
        out.write_all(b"\n")?;
        progress.advance(1);
    }
    progress.finish();
    out.flush()
}
