//! `hico eval BENCH --data DIR`: a public video benchmark (Video-MME, MVBench, MLVU,
//! LongVideoBench, LVBench, PerceptionTest) scored as its official evaluation scores it
//! (docs/benchmarks.md); `hico eval compare A B`: paired McNemar per group of two runs;
//! `hico eval merge RUN... --out DIR`: join shards.

use hico_backend::HicoAutodiff;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use hico_benchmarks::Task;
use hico_core::config::PipelineConfig;
use hico_eval::public::{self, predictions, report};
use hico_model::Pipeline;

use crate::backend::{DeviceArg, Job, dispatch};
use crate::cmd::source::PipelineSource;

/// Arguments of `hico eval`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    /// `compare` or `merge`; without one, run a benchmark.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The benchmark run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Running one benchmark.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The task, named as the official eval scripts name it: videomme, videomme_w_subtitle,
    /// mvbench, mlvu_mc, longvideobench_val_v, lvbench, perceptiontest_val_mc.
    #[arg(required = true)]
    pub bench: Option<Task>,
    /// The benchmark's folder as its publishers distribute it (docs/benchmarks.md).
    #[arg(long, required = true)]
    pub data: Option<PathBuf>,
    /// The pipeline: `--model DIR|hub-id` (a released model), `--config FILE`, or both.
    #[command(flatten)]
    pub source: PipelineSource,
    /// Trained model folder (hico-train output) for `--config`.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Output folder (default runs/eval/<bench>-<config name>); a rerun resumes it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only the first N questions (of the shard).
    #[arg(long)]
    pub limit: Option<usize>,
    /// `I/N`: run the I-th (0-based) of N disjoint slices (question k goes to slice k mod N);
    /// join them with `hico eval merge`.
    #[arg(long)]
    pub shard: Option<String>,
    /// Frame budget instead of the task's official one.
    #[arg(long)]
    pub max_frames: Option<usize>,
    /// Unreadable questions tolerated before stopping (default: a tenth).
    #[arg(long)]
    pub max_skipped: Option<usize>,
    /// Decode each video only when its question starts (no overlap with the model).
    #[arg(long)]
    pub no_prefetch: bool,
}

/// `hico eval` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Paired comparison of two runs on the questions both answered: exact McNemar overall
    /// and per group (e.g. a compression setting against the uncompressed model).
    Compare {
        /// Run folder A.
        a: PathBuf,
        /// Run folder B.
        b: PathBuf,
        /// Also write the table (markdown) and JSON here (`.md` / `.json` beside).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Join the predictions of shards into one run folder and aggregate them.
    Merge {
        /// The shards' run folders.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
}

fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (i, n) = s
        .split_once('/')
        .with_context(|| format!("--shard {s}: expected I/N, e.g. 0/8"))?;
    let (i, n): (usize, usize) = (
        i.trim()
            .parse()
            .with_context(|| format!("--shard {s}: I"))?,
        n.trim()
            .parse()
            .with_context(|| format!("--shard {s}: N"))?,
    );
    if n == 0 || i >= n {
        bail!("--shard {s}: need 0 <= I < N");
    }
    Ok((i, n))
}

/// Run `hico eval`.
pub fn run(args: Args, device: DeviceArg) -> Result<()> {
    match args.command {
        Some(Command::Compare { a, b, out }) => {
            let (pa, pb) = (predictions::read(&a, false)?, predictions::read(&b, false)?);
            if pa.is_empty() || pb.is_empty() {
                bail!("no predictions in {} or {}", a.display(), b.display());
            }
            let rows = report::compare(&pa, &pb);
            if rows.first().is_none_or(|r| r.n == 0) {
                bail!("{} and {} share no question", a.display(), b.display());
            }
            let md =
                report::compare_markdown(&rows, &a.display().to_string(), &b.display().to_string());
            print!("{md}");
            if let Some(out) = out {
                std::fs::write(out.with_extension("md"), &md)?;
                hico_eval::write_json(&out.with_extension("json"), &rows)?;
            }
            Ok(())
        }
        Some(Command::Merge { runs, out }) => {
            let r = public::merge(&runs, &out)?;
            println!(
                "{} ({}): {:.3} [{:.3}, {:.3}] over {} questions; wrote {}",
                r.task,
                r.metric,
                r.score,
                r.low,
                r.high,
                r.n,
                out.display()
            );
            Ok(())
        }
        None => {
            let a = args.run;
            let task = a.bench.context("give the benchmark")?;
            let data = a.data.context("give --data DIR")?;
            let mut cfg = a.source.load()?;
            let settings = public::apply_settings(&mut cfg, task, a.max_frames);
            eprintln!("{settings}");
            let name = if cfg.name.is_empty() {
                "run"
            } else {
                &cfg.name
            };
            let out = a
                .out
                .unwrap_or_else(|| PathBuf::from("runs/eval").join(format!("{task}-{name}")));
            let opts = public::Options {
                task,
                data,
                out,
                limit: a.limit,
                shard: a.shard.as_deref().map(parse_shard).transpose()?,
                max_skipped: a.max_skipped,
                prefetch: !a.no_prefetch,
            };
            dispatch(
                device,
                EvalJob {
                    cfg,
                    checkpoint: a.checkpoint,
                    opts,
                },
            )
        }
    }
}

struct EvalJob {
    cfg: PipelineConfig,
    checkpoint: Option<PathBuf>,
    opts: public::Options,
}

impl Job for EvalJob {
    type Output = ();

    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        std::fs::create_dir_all(&self.opts.out)
            .with_context(|| format!("creating {}", self.opts.out.display()))?;
        let _lock = hico_core::lock::DirLock::acquire(&self.opts.out, "hico eval")?;
        let pipe = match &self.checkpoint {
            Some(ck) => hico_train::load_trained::<B::InnerBackend>(&self.cfg, ck, &device)?,
            None => Pipeline::<B::InnerBackend>::new(self.cfg.clone(), &device)?,
        };
        self.cfg.write_json(&self.opts.out.join("config.json"))?;
        let s = hico_backend::on_worker(|| public::run(&pipe, &self.opts, |l| eprintln!("{l}")))?;
        let r = &s.results;
        println!(
            "{} ({}): {:.3} [{:.3}, {:.3}] over {} questions ({} answered now, {} resumed, {} \
             skipped, {} not run for missing media) in {:.0} s",
            r.task,
            r.metric,
            r.score,
            r.low,
            r.high,
            r.n,
            s.ran,
            s.resumed,
            s.skipped,
            r.skipped,
            s.seconds
        );
        println!("wrote {}", self.opts.out.display());
        Ok(())
    }
}
