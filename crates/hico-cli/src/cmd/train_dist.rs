//! The multi-process launch of `hico train` (feature `ddp`): rank, world size and master
//! address from the flags or, where a flag is absent, from the environment variables that
//! `torchrun` sets (`RANK`, `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`, `LOCAL_RANK`).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use hico_train::dist::DistConfig;

/// The flags of a multi-process run (part of `hico train`'s arguments).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DistArgs {
    /// Multi-process data parallel: this process's rank, 0..world size (default: env RANK).
    /// Rank 0 listens at the master address and alone writes metrics, checkpoints and the
    /// final model.
    #[arg(long)]
    pub rank: Option<usize>,
    /// Number of processes, one per device, on one machine or several (default: env
    /// WORLD_SIZE; without either, one process).
    #[arg(long)]
    pub world_size: Option<usize>,
    /// HOST:PORT where rank 0 listens (default: env MASTER_ADDR and MASTER_PORT). Rank r
    /// listens at PORT + r of its own machine.
    #[arg(long)]
    pub master_addr: Option<String>,
    /// Which GPU of its machine this process uses with `--device cuda` (default: env
    /// LOCAL_RANK, else 0).
    #[arg(long)]
    pub local_rank: Option<usize>,
    /// Host name or IP at which the other processes reach this one (default: this machine's
    /// address on the route to the master).
    #[arg(long)]
    pub node_addr: Option<String>,
    /// Longest wait in seconds for the other processes, at start and at every step (a rank
    /// behind by more, e.g. while rank 0 writes a big checkpoint, counts as hung).
    #[arg(long, default_value_t = 1800.0)]
    pub dist_timeout: f64,
}

/// A resolved multi-process launch.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// Rank, world size, master, timeout.
    pub config: DistConfig,
    /// The device index of this process on its machine.
    pub local_rank: usize,
}

/// A variable of the environment, `None` when unset or empty.
fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

fn number(value: Option<usize>, key: &str) -> Result<Option<usize>> {
    match value {
        Some(v) => Ok(Some(v)),
        None => env(key)
            .map(|v| {
                v.trim()
                    .parse()
                    .with_context(|| format!("environment variable {key}=`{v}`: not a number"))
            })
            .transpose(),
    }
}

impl DistArgs {
    /// The launch these flags and the environment describe, or `None` for one process.
    pub fn resolve(&self) -> Result<Option<Launch>> {
        let world = number(self.world_size, "WORLD_SIZE")?;
        let Some(world) = world.filter(|&w| w != 1) else {
            if self.rank.is_some_and(|r| r > 0) {
                bail!("--rank without --world-size (or WORLD_SIZE): give both");
            }
            return Ok(None);
        };
        if world == 0 {
            bail!("world size 0: at least one process");
        }
        let rank = number(self.rank, "RANK")?.with_context(|| {
            format!("a run of {world} processes needs this one's rank: --rank R or RANK")
        })?;
        if rank >= world {
            bail!(
                "rank {rank} is not below the world size {world} (ranks are 0..{})",
                world - 1
            );
        }
        let addr = self
            .master_addr
            .clone()
            .or_else(|| env("MASTER_ADDR"))
            .context("a run of several processes needs rank 0's address: --master-addr HOST:PORT, or MASTER_ADDR and MASTER_PORT")?;
        let master = match has_port(&addr) {
            true => addr,
            false => {
                let port = env("MASTER_PORT").with_context(|| {
                    format!(
                        "master address `{addr}` has no port: give HOST:PORT or set MASTER_PORT"
                    )
                })?;
                let port: u16 = port.trim().parse().with_context(|| {
                    format!("environment variable MASTER_PORT=`{port}`: not a port")
                })?;
                format!("{addr}:{port}")
            }
        };
        if !(self.dist_timeout > 0.0 && self.dist_timeout.is_finite()) {
            bail!("--dist-timeout {}: must be above 0 s", self.dist_timeout);
        }
        Ok(Some(Launch {
            config: DistConfig {
                rank,
                world,
                master,
                node_host: self.node_addr.clone(),
                timeout: Duration::from_secs_f64(self.dist_timeout),
            },
            local_rank: number(self.local_rank, "LOCAL_RANK")?.unwrap_or(0),
        }))
    }
}

/// Whether `addr` ends in `:PORT` (`host:1`, `[::1]:1`; not a bare IPv6 address).
fn has_port(addr: &str) -> bool {
    match addr.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok()
                && !host.is_empty()
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

/// Keep burn-communication's logging to warnings on stderr (it logs every transfer at INFO
/// on stdout otherwise); `RUST_LOG` overrides.
pub fn quiet_network_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(rank: Option<usize>, world: Option<usize>, master: Option<&str>) -> DistArgs {
        DistArgs {
            rank,
            world_size: world,
            master_addr: master.map(String::from),
            dist_timeout: 30.0,
            ..Default::default()
        }
    }

    // Flags only: the environment of the test process is not touched (other tests run
    // beside this one), so these hold whatever RANK / WORLD_SIZE say unless they are set to
    // something unusual.
    #[test]
    fn flags_resolve_and_bad_ones_are_named() {
        let l = args(Some(1), Some(2), Some("127.0.0.1:29500"))
            .resolve()
            .unwrap()
            .unwrap();
        assert_eq!((l.config.rank, l.config.world), (1, 2));
        assert_eq!(l.config.master, "127.0.0.1:29500");
        assert!(args(None, Some(1), None).resolve().unwrap().is_none());
        let e = args(Some(2), Some(2), Some("h:1")).resolve().unwrap_err();
        assert!(
            e.to_string()
                .contains("rank 2 is not below the world size 2"),
            "{e}"
        );
        let e = args(Some(0), Some(0), Some("h:1")).resolve().unwrap_err();
        assert!(e.to_string().contains("world size 0"), "{e}");
    }

    #[test]
    fn ports_are_recognised() {
        assert!(has_port("node1:29500"));
        assert!(has_port("[::1]:29500"));
        assert!(!has_port("node1"));
        assert!(!has_port("::1"));
        assert!(!has_port("node1:x"));
    }
}
