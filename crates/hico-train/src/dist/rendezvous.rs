//! How the ranks of a multi-process run find each other: every rank but 0 connects to the
//! master (rank 0's server, route `/rendezvous`), says who it is and where it listens; rank 0
//! checks it (world size, rank in range, not taken) and, once all have joined, answers each
//! with the address of every rank. Messages are JSON over burn-communication's WebSocket.

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use burn_communication::{CommunicationChannel, Message, ProtocolClient, websocket::WsClient};
use serde::{Deserialize, Serialize};
use tokio::{sync::watch, time::Instant};

/// What a rank tells the master.
#[derive(Debug, Serialize, Deserialize)]
struct Join {
    rank: usize,
    world: usize,
    address: String,
}

/// What the master answers.
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    /// Every rank's address, by rank.
    Table(Vec<String>),
    /// Why the rank was not accepted.
    Refused(String),
}

fn bytes<T: Serialize>(value: &T) -> Message {
    Message::new(serde_json::to_vec(value).expect("plain data").into())
}

/// Rank 0's side.
pub(super) struct Host {
    world: usize,
    state: Mutex<HostState>,
    table: watch::Sender<Option<Vec<String>>>,
}

#[derive(Default)]
struct HostState {
    joined: BTreeMap<usize, String>,
    refused: Vec<String>,
}

impl Host {
    /// A rendezvous for `world` ranks.
    pub(super) fn new(world: usize) -> Self {
        Self {
            world,
            state: Mutex::default(),
            table: watch::channel(None).0,
        }
    }

    /// Answer one rank's connection.
    pub(super) async fn serve<C: CommunicationChannel>(&self, mut channel: C) {
        let Ok(Some(msg)) = channel.recv().await else {
            return;
        };
        let problem = match serde_json::from_slice::<Join>(&msg.data) {
            Err(e) => Some(format!("an unreadable join message ({e})")),
            Ok(j) => {
                let mut state = self.state.lock().expect("rendezvous state");
                if j.world != self.world {
                    Some(format!(
                        "rank {} was started with world size {}, rank 0 with {}",
                        j.rank, j.world, self.world
                    ))
                } else if j.rank == 0 || j.rank >= self.world {
                    Some(format!(
                        "a process joined as rank {}, not in 1..{}",
                        j.rank, self.world
                    ))
                } else if let Some(first) = state.joined.get(&j.rank) {
                    Some(format!(
                        "two processes claim rank {} ({first} and {})",
                        j.rank, j.address
                    ))
                } else {
                    state.joined.insert(j.rank, j.address);
                    None
                }
            }
        };
        if let Some(p) = problem {
            self.state
                .lock()
                .expect("rendezvous state")
                .refused
                .push(p.clone());
            let _ = channel.send(bytes(&Reply::Refused(p))).await;
            return;
        }
        let mut rx = self.table.subscribe();
        let Ok(table) = rx.wait_for(Option::is_some).await.map(|t| t.clone()) else {
            return;
        };
        let _ = channel
            .send(bytes(&Reply::Table(table.expect("waited for it"))))
            .await;
    }

    /// Wait for every other rank (at most `timeout`); returns the table of addresses, rank 0's
    /// (`own`) first, after sending it to every waiting rank.
    pub(super) async fn gather(
        &self,
        own: String,
        timeout: Duration,
    ) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let state = self.state.lock().expect("rendezvous state");
                if let Some(p) = state.refused.first() {
                    return Err(format!("refused to start: {p}"));
                }
                if state.joined.len() + 1 == self.world {
                    let table: Vec<String> = std::iter::once(own)
                        .chain(state.joined.values().cloned())
                        .collect();
                    self.table.send_replace(Some(table.clone()));
                    return Ok(table);
                }
                if Instant::now() >= deadline {
                    let missing: Vec<usize> = (1..self.world)
                        .filter(|r| !state.joined.contains_key(r))
                        .collect();
                    return Err(format!(
                        "ranks {missing:?} did not join within {} s (are they running, with the master address pointing here?)",
                        timeout.as_secs_f64()
                    ));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Rank `rank`'s side: join the master at `master` (`ws://host:port`), retrying until it
/// answers, and return the table of addresses.
pub(super) async fn join(
    master: &str,
    rank: usize,
    world: usize,
    own: String,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + timeout;
    let secs = timeout.as_secs_f64();
    let unreachable = || {
        format!(
            "could not reach the master at {master} within {secs} s (rank 0 listens there: is it running, is the address right?)"
        )
    };
    let address: burn_communication::Address = master.parse().expect("infallible");
    let mut channel = loop {
        match tokio::time::timeout_at(deadline, WsClient::connect(address.clone(), "rendezvous"))
            .await
        {
            Ok(Some(c)) => break c,
            Ok(None) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            _ => return Err(unreachable()),
        }
    };
    let join = Join {
        rank,
        world,
        address: own,
    };
    // burn-communication panics on some broken connections: keep that inside a task.
    let exchange = tokio::spawn(async move {
        channel
            .send(bytes(&join))
            .await
            .map_err(|e| format!("{e:?}"))?;
        channel.recv().await.map_err(|e| format!("{e:?}"))
    });
    let reply = match tokio::time::timeout_at(deadline, exchange).await {
        Err(_) => {
            return Err(format!(
                "the master at {master} took rank {rank}, but not all {world} ranks joined within {secs} s"
            ));
        }
        Ok(Ok(Ok(Some(msg)))) => serde_json::from_slice::<Reply>(&msg.data)
            .map_err(|e| format!("the master at {master} sent an unreadable reply: {e}"))?,
        Ok(_) => {
            return Err(format!(
                "the master at {master} closed the connection before every rank joined (see rank 0's error)"
            ));
        }
    };
    match reply {
        Reply::Table(t) if t.len() == world => Ok(t),
        Reply::Table(t) => Err(format!(
            "the master at {master} runs {} ranks, this rank was started with {world}",
            t.len()
        )),
        Reply::Refused(p) => Err(format!("the master at {master} refused this rank: {p}")),
    }
}
