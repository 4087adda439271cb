//! Progress of long commands (`seed`, `simulate`, `inventory import`, `serve --demo` while
//! it loads). On a terminal: an `indicatif` bar on standard error. Elsewhere (CI, logs, a
//! pipe): a few plain lines, one at each quarter of a stage and one when it is done. Code below the command line takes a `&Progress` and reports to it; the web
//! server and the tests pass `Progress::hidden()`.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

enum Mode {
    Bar,
    Lines,
    Hidden,
}

pub struct Progress {
    mode: Mode,
    stage: Mutex<Option<Stage>>,
}

struct Stage {
    name: String,
    total: u64,
    done: u64,
    /// The next quarter at which a line is printed (1 to 4).
    next_quarter: u64,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar when standard error is a terminal, plain lines when it is not.
    pub fn for_command() -> Self {
        let mode = if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        };
        Self::with(mode)
    }

    /// Plain lines whatever standard error is.
    pub fn lines() -> Self {
        Self::with(Mode::Lines)
    }

    /// Reports nothing.
    pub fn hidden() -> Self {
        Self::with(Mode::Hidden)
    }

    fn with(mode: Mode) -> Self {
        Self {
            mode,
            stage: Mutex::new(None),
        }
    }

    /// Starts a stage of `total` steps (finishing the one before).
    pub fn stage(&self, name: &str, total: u64) {
        self.finish();
        let bar = match self.mode {
            Mode::Hidden => return,
            // Lines start at the first quarter: a stage cut short by bad input in its
            // first quarter leaves the error as the command's one line.
            Mode::Lines => None,
            Mode::Bar => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{msg} [{bar:32}] {pos}/{len} ({elapsed}, about {eta} left)",
                )
                .map(|style| style.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_message(name.to_owned());
                Some(bar)
            }
        };
        *self.lock() = Some(Stage {
            name: name.to_owned(),
            total,
            done: 0,
            next_quarter: 1,
            started: Instant::now(),
            bar,
        });
    }

    /// `steps` more of the current stage are done.
    pub fn advance(&self, steps: u64) {
        let mut guard = self.lock();
        let Some(stage) = guard.as_mut() else {
            return;
        };
        stage.done = (stage.done + steps).min(stage.total);
        if let Some(bar) = &stage.bar {
            bar.set_position(stage.done);
            return;
        }
        // Lines: one at each quarter passed, short of the end (`finish` says that).
        let mut passed = None;
        while stage.next_quarter < 4 && stage.done * 4 >= stage.total * stage.next_quarter {
            passed = Some(stage.next_quarter);
            stage.next_quarter += 1;
        }
        if passed.is_some() && stage.done < stage.total {
            line(&format!(
                "{}: {} of {} ({}%)",
                stage.name,
                stage.done,
                stage.total,
                stage.done * 100 / stage.total.max(1)
            ));
        }
    }

    /// A line about the current stage (a bar prints it above itself).
    pub fn note(&self, text: &str) {
        let guard = self.lock();
        match (&self.mode, guard.as_ref().and_then(|s| s.bar.as_ref())) {
            (Mode::Hidden, _) => {}
            (_, Some(bar)) => bar.println(text),
            _ => line(text),
        }
    }

    /// Ends the current stage, saying how long it took.
    pub fn finish(&self) {
        let Some(stage) = self.lock().take() else {
            return;
        };
        let seconds = stage.started.elapsed().as_secs_f64();
        match stage.bar {
            Some(bar) => {
                bar.set_style(
                    ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.finish_with_message(format!(
                    "{}: {} of {} done in {seconds:.1} s",
                    stage.name, stage.done, stage.total
                ));
            }
            None => line(&format!(
                "{}: {} of {} done in {seconds:.1} s",
                stage.name, stage.done, stage.total
            )),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Stage>> {
        self.stage.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A stage still open when the progress is dropped was cut short (an error): it ends
/// without a "done" line, and a bar is cleared.
impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.lock().take().and_then(|stage| stage.bar) {
            bar.finish_and_clear();
        }
    }
}

fn line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_progress_takes_any_calls() {
        let progress = Progress::hidden();
        progress.advance(3);
        progress.stage("x", 0);
        progress.advance(10);
        progress.note("y");
        progress.finish();
    }
}
