//! Data parallel across processes (feature `ddp`): one process per device, on one machine or
//! on several, launched as `torchrun` users expect (rank, world size, master address).
//!
//! A [`ProcessGroup`] is this process's membership in such a run. Rank 0 listens at the
//! master address; every other rank listens at `MASTER_PORT + rank` and, on start, tells rank
//! 0 where (the rendezvous, `rendezvous.rs`). Rank 0 answers every rank with the table of all
//! addresses once all have joined. A sum over the ranks (the all-reduce) is then peer to
//! peer: each rank exposes its vector on its own server and downloads every other rank's, and
//! adds them in rank order, so every rank gets the same bits.
//!
//! Transport: burn's own, `burn-communication` (its WebSocket server and client and its
//! peer-to-peer `TensorDataService`, the pieces burn-collective's multi-node mode is built
//! on). burn-collective's multi-node all-reduce itself (0.21.0) cannot be used: its end-of-call
//! barrier (`global/node/sync.rs`) never empties its list of synced peers, so the second
//! all-reduce of a run waits forever (two processes, one device each, orchestrator started
//! with `start_global_orchestrator`: call 1 returns the sum, call 2 never returns, on every
//! strategy, since each ends with that barrier). The data service has one race of its own: a
//! request that arrives just before its tensor is exposed can miss the wake-up; a ticker
//! re-sends the wake-up every 100 ms.
//!
//! Failure: every wait is bounded by [`DistConfig::timeout`]. A peer that dies is usually
//! noticed at once (its connection breaks: "lost the connection to rank 1 ..."); one that
//! hangs, after the timeout ("no answer from rank 1 ... within N s"). Either way the call
//! returns an error naming the rank and its address, the step loop stops, and the run can be
//! relaunched with `--resume` from the last checkpoint.

mod rendezvous;
mod replica;
mod sum;

pub(crate) use replica::check_same_start;

use std::{
    net::{SocketAddr, ToSocketAddrs, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use burn_communication::{
    Address, ProtocolServer,
    data_service::{TensorDataServer, TensorDataService},
    websocket::{WebSocket, WsServer},
};
use tokio_util::sync::CancellationToken;

use crate::TrainError;

/// The tensor service of a rank (its backend type parameter is unused: only raw data moves).
type Service = TensorDataService<hico_backend::Cpu, WebSocket>;

/// Where this process stands in a multi-process run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistConfig {
    /// This process's rank, in `0..world`. Rank 0 writes metrics, checkpoints and the final
    /// model.
    pub rank: usize,
    /// Number of processes.
    pub world: usize,
    /// `HOST:PORT` where rank 0 listens (rank `r` listens at port `PORT + r` of its host).
    pub master: String,
    /// Host name or IP at which the other ranks reach this one. `None`: the local address of
    /// the route to the master (`127.0.0.1` when the master is on this machine).
    pub node_host: Option<String>,
    /// Longest wait for the other ranks: to join at start, and at each sum (a rank behind by
    /// more than this, e.g. while rank 0 writes a checkpoint, counts as hung).
    pub timeout: Duration,
}

impl DistConfig {
    /// The master's address resolved, after checking rank and world size.
    fn check(&self) -> Result<SocketAddr, TrainError> {
        let bad = |m: String| TrainError::Invalid(m);
        if self.world == 0 {
            return Err(bad("world size must be at least 1".into()));
        }
        if self.rank >= self.world {
            return Err(bad(format!(
                "rank {} is not below the world size {} (ranks are 0..{})",
                self.rank,
                self.world,
                self.world - 1
            )));
        }
        if self.timeout.is_zero() {
            return Err(bad("the collective timeout must be above 0 s".into()));
        }
        let addr = self
            .master
            .to_socket_addrs()
            .map_err(|e| {
                bad(format!(
                    "master address `{}` (HOST:PORT expected): {e}",
                    self.master
                ))
            })?
            .next()
            .ok_or_else(|| {
                bad(format!(
                    "master address `{}` resolves to nothing",
                    self.master
                ))
            })?;
        if u16::try_from(usize::from(addr.port()) + self.world - 1).is_err() {
            return Err(bad(format!(
                "master port {} + {} ranks runs past port 65535 (rank r listens at MASTER_PORT + r)",
                addr.port(),
                self.world
            )));
        }
        Ok(addr)
    }
}

/// This process's membership in a multi-process data-parallel run (see the module docs).
/// Dropping it serves the peers' last downloads of this rank's data, then closes.
pub struct ProcessGroup {
    rank: usize,
    world: usize,
    timeout: Duration,
    /// `ws://host:port` of every rank, by rank.
    addresses: Vec<Address>,
    service: Arc<Service>,
    /// Sums done so far: the transfer id of the next one (the same on every rank).
    calls: AtomicU64,
    /// Whether a sum failed (the group is then unusable).
    failed: AtomicBool,
    cancel: CancellationToken,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ProcessGroup {
    /// Start this rank's server and meet the other ranks at the master; returns once every
    /// rank has joined, or fails after `config.timeout` naming the master or the missing
    /// ranks.
    pub fn connect(config: &DistConfig) -> Result<Self, TrainError> {
        let master = config.check()?;
        let (rank, world) = (config.rank, config.world);
        let port = master.port() + rank as u16;
        let host = match &config.node_host {
            Some(h) => h.clone(),
            None => route_to(master)?,
        };
        // Fail clearly on a taken port (the server below would only log it).
        drop(std::net::TcpListener::bind(("0.0.0.0", port)).map_err(|e| {
            TrainError::Replica(format!(
                "rank {rank} cannot listen on port {port} ({}): {e}",
                match rank {
                    0 => "the master port".to_string(),
                    r => format!("master port + {r}"),
                }
            ))
        })?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hico-dist")
            .enable_all()
            .build()
            .map_err(|e| TrainError::Replica(format!("starting the network runtime: {e}")))?;
        let cancel = CancellationToken::new();
        let service = Arc::new(Service::new(cancel.clone()));
        let own = format!("ws://{host}:{port}");
        let mut server = WsServer::new(port).route_tensor_data_service(service.clone());
        let host_side = (rank == 0).then(|| Arc::new(rendezvous::Host::new(world)));
        if let Some(h) = &host_side {
            let h = h.clone();
            server = server.route("/rendezvous", move |channel| async move {
                h.serve(channel).await;
            });
        }
        let stop = cancel.clone();
        runtime.spawn(server.serve(async move { stop.cancelled().await }));
        // Re-sends the data service's wake-up (see the module docs).
        let (notify, stop) = (service.new_tensor_notify.clone(), cancel.clone());
        runtime.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => notify.notify_waiters(),
                }
            }
        });
        let master_url = format!("ws://{}", config.master);
        let table = runtime.block_on(async {
            match host_side {
                Some(h) => h.gather(own, config.timeout).await,
                None => rendezvous::join(&master_url, rank, world, own, config.timeout).await,
            }
        });
        let table = table.map_err(|m| {
            cancel.cancel();
            TrainError::Replica(format!("rank {rank} of {world}: {m}"))
        })?;
        let addresses = table
            .iter()
            .map(|a| a.parse().expect("Address parsing is infallible"))
            .collect();
        Ok(Self {
            rank,
            world,
            timeout: config.timeout,
            addresses,
            service,
            calls: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            cancel,
            runtime: Some(runtime),
        })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Number of processes.
    pub fn world(&self) -> usize {
        self.world
    }

    /// Wait until every rank has called this (bounded by the timeout).
    pub fn barrier(&self) -> Result<(), TrainError> {
        self.sum("waiting for every rank to finish", vec![1.0])
            .map(|_| ())
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if self.world > 1 && !self.failed.load(Ordering::SeqCst) {
            // The others may still be downloading this rank's last contribution.
            let service = self.service.clone();
            runtime.block_on(async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while !service.exposed_tensors.lock().await.is_empty()
                    && tokio::time::Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                // The last one is taken out of the map before it is sent.
                tokio::time::sleep(Duration::from_millis(200)).await;
            });
            // Close this rank's connections with a close frame: a peer's server sees a
            // clean end instead of a reset (which its data service reports as a panic).
            let service = self.service.clone();
            let closing = runtime.spawn(async move { service.close().await });
            let _ = runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(1), closing).await });
        }
        self.cancel.cancel();
        runtime.shutdown_timeout(Duration::from_millis(500));
    }
}

/// The local IP address of the route to `master` (no packet is sent).
fn route_to(master: SocketAddr) -> Result<String, TrainError> {
    let bind: SocketAddr = match master {
        SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        SocketAddr::V6(_) => ([0u16; 8], 0).into(),
    };
    let ip = UdpSocket::bind(bind)
        .and_then(|s| s.connect(master).map(|()| s))
        .and_then(|s| s.local_addr())
        .map_err(|e| {
            TrainError::Replica(format!(
                "finding this machine's address towards the master {master}: {e} (pass the node address explicitly)"
            ))
        })?
        .ip();
    Ok(match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rank: usize, world: usize, master: &str) -> DistConfig {
        DistConfig {
            rank,
            world,
            master: master.into(),
            node_host: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn bad_rank_world_and_master_are_named() {
        let e = config(2, 2, "127.0.0.1:29500").check().unwrap_err();
        assert!(
            e.to_string()
                .contains("rank 2 is not below the world size 2"),
            "{e}"
        );
        let e = config(0, 0, "127.0.0.1:29500").check().unwrap_err();
        assert!(
            e.to_string().contains("world size must be at least 1"),
            "{e}"
        );
        let e = config(0, 2, "no-port-here").check().unwrap_err();
        assert!(e.to_string().contains("`no-port-here`"), "{e}");
        let e = config(0, 4, "127.0.0.1:65534").check().unwrap_err();
        assert!(e.to_string().contains("65535"), "{e}");
        assert!(config(1, 2, "127.0.0.1:29500").check().is_ok());
    }
}
