//! `backorder-desk simulate` (issues 9 and 19): replays a shop's history
//! through the backorder engine, day by day, and measures how often the dates
//! it told customers were kept, beside the naive date and (for generated
//! scenarios) an oracle that knows the suppliers' true slips. No database: the
//! in-memory [`ledger::Shop`] is changed only through the engine's own functions.

pub mod generate;
pub mod ledger;
pub mod replay;
pub mod scenario;

use std::io::Write;
use std::path::Path;

pub use generate::{GenerateSettings, Profile, SupplierTruth, generate};
pub use replay::{
    LineOutcome, Measured, Replay, ReplaySettings, Summary, date_of, epoch, replay, summarize,
    summarize_pooled, summarize_where,
};
pub use scenario::{Event, EventKind, ScenarioError, parse, to_json_line};

/// A supplier with fewer deliveries than this has a young history (issue 19:
/// its promises must still keep >= 85% at p90).
pub const YOUNG_HISTORY: u32 = 15;

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

/// Reads, replays and reports scenario files: one JSON line per order line,
/// then the summary of all of them pooled. Nothing is written unless every
/// scenario replays.
pub fn simulate_files(
    paths: &[std::path::PathBuf],
    settings: &ReplaySettings,
    out: &mut impl Write,
    progress: &crate::progress::Progress,
) -> Result<Summary, SimError> {
    let mut replays = Vec::with_capacity(paths.len());
    for path in paths {
        replays.push(replay_file(path, settings, progress)?);
    }
    let summary = summarize_pooled(&replays, settings.measured);
    for replayed in &replays {
        write_lines(replayed, out)?;
    }
    #[derive(serde::Serialize)]
    struct SummaryLine<'a> {
        summary: &'a Summary,
        #[serde(flatten)]
        side_by_side: Option<SideBySide>,
    }
    #[derive(serde::Serialize)]
    struct SideBySide {
        product: Summary,
        naive: Summary,
        oracle: Summary,
        /// The product's promises made while the supplier had fewer than
        /// [`YOUNG_HISTORY`] deliveries (the cold start).
        product_young_supplier: Summary,
    }
    let side_by_side = settings.oracle.then(|| SideBySide {
        product: summarize_pooled(&replays, Measured::Worst),
        naive: summarize_pooled(&replays, Measured::Naive),
        oracle: summarize_pooled(&replays, Measured::Oracle),
        product_young_supplier: summarize_where(&replays, Measured::Worst, |line| {
            line.supplier_deliveries
                .is_some_and(|deliveries| deliveries < YOUNG_HISTORY)
        }),
    });
    serde_json::to_writer(
        &mut *out,
        &SummaryLine {
            summary: &summary,
            side_by_side,
        },
    )
    .map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(summary)
}

/// Reads and replays one scenario file, reporting the days replayed.
pub fn replay_file(
    path: &Path,
    settings: &ReplaySettings,
    progress: &crate::progress::Progress,
) -> Result<Replay, SimError> {
    let text = std::fs::read_to_string(path).map_err(|source| SimError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let events = parse(&text)?;
    let replayed = replay::replay_with(&events, settings, progress)?;
    progress.finish();
    Ok(replayed)
}

/// Writes the per-line outcomes.
fn write_lines(replayed: &Replay, out: &mut impl Write) -> std::io::Result<()> {
    for line in &replayed.lines {
        serde_json::to_writer(&mut *out, line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
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
