//! `commonpot tally`: tally a pabulib file offline.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use commonpot_tally::{pabulib, tally, Progress, Rule};

#[derive(Debug, clap::Args)]
pub struct TallyArgs {
    /// The `.pb` file to tally.
    pub file: PathBuf,
    /// greedy, mes or mes-add1. Default: the rule the file's META names when
    /// it is one of these, else mes-add1.
    #[arg(long)]
    pub rule: Option<Rule>,
    /// Print one JSON object (selected, spent, the explanation) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &TallyArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let election = pabulib::parse(&text).with_context(|| format!("{}", args.file.display()))?;
    let rule = args.rule.unwrap_or_else(|| Rule::default_for(&election));
    let mut meter = ProgressMeter::new();
    let result = tally(&election, rule, &mut |progress| meter.show(progress));
    meter.finish();
    let result = result.with_context(|| format!("{}", args.file.display()))?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", result.to_json())?;
    } else {
        write!(stdout, "{}", result.to_text())?;
    }
    Ok(())
}

/// A progress line on stderr, shown only once a tally has run for a second.
struct ProgressMeter {
    started: Instant,
    last_shown: Option<Instant>,
    terminal: bool,
}

impl ProgressMeter {
    const QUIET_FOR: Duration = Duration::from_secs(1);

    fn new() -> Self {
        ProgressMeter {
            started: Instant::now(),
            last_shown: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, progress: &Progress) {
        if self.started.elapsed() < Self::QUIET_FOR {
            return;
        }
        // Redraw a terminal line often; write a log line now and then.
        let every = if self.terminal {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.last_shown.is_some_and(|shown| shown.elapsed() < every) {
            return;
        }
        self.last_shown = Some(Instant::now());
        let line = format!(
            "tallying: completion step {}, starting share {} per unit of weight",
            progress.step,
            commonpot_tally::Exact(progress.share.clone())
        );
        if self.terminal {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if self.terminal && self.last_shown.is_some() {
            eprint!("\r\x1b[K");
        }
    }
}
