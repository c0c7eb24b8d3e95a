//! The sum over the ranks of a [`ProcessGroup`]: each rank exposes its vector on its own
//! tensor service as transfer `call` (the number of the call, the same on every rank),
//! downloads every other rank's, and adds all of them in rank order, so every rank gets the
//! same bits. Each call has its own transfer id, so no barrier is needed between calls.

use std::sync::atomic::Ordering;

use burn::tensor::TensorData;
use burn_communication::data_service::TensorTransferId;

use super::ProcessGroup;
use crate::TrainError;

impl ProcessGroup {
    /// Sum `values` over every rank (every rank must call with as many values, in the same
    /// order of calls); `what` names the call in errors. Every rank gets the same bits.
    pub(crate) fn sum(&self, what: &str, values: Vec<f32>) -> Result<Vec<f32>, TrainError> {
        if self.world == 1 {
            return Ok(values);
        }
        let fail = |m: String| TrainError::Replica(format!("rank {}: {what}: {m}", self.rank));
        if self.failed.load(Ordering::SeqCst) {
            return Err(fail(
                "an earlier exchange with the other ranks failed".into(),
            ));
        }
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        runtime.block_on(self.exchange(call, values)).map_err(|m| {
            self.failed.store(true, Ordering::SeqCst);
            fail(m)
        })
    }

    /// Expose this rank's `values` as transfer `call`, download every other rank's, add in
    /// rank order.
    async fn exchange(&self, call: u64, values: Vec<f32>) -> Result<Vec<f32>, String> {
        let n = values.len();
        let id = TensorTransferId::from(call);
        let data = TensorData::new(values.clone(), [n]);
        self.service
            .expose_data(data, (self.world - 1) as u32, id)
            .await;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let downloads: Vec<_> = (0..self.world)
            .filter(|&r| r != self.rank)
            .map(|r| {
                let (service, address) = (self.service.clone(), self.addresses[r].clone());
                (
                    r,
                    tokio::spawn(async move { service.download_tensor(address, id).await }),
                )
            })
            .collect();
        let mut parts: Vec<Option<Vec<f32>>> = vec![None; self.world];
        parts[self.rank] = Some(values);
        for (r, task) in downloads {
            let peer = format!("rank {r} ({})", self.addresses[r]);
            let data = match tokio::time::timeout_at(deadline, task).await {
                Err(_) => {
                    return Err(format!(
                        "no answer from {peer} within {} s: it died, hangs, or is that far behind",
                        self.timeout.as_secs_f64()
                    ));
                }
                Ok(Err(e)) => {
                    return Err(format!(
                        "lost the connection to {peer} (it stopped or died): {}",
                        panic_text(e)
                    ));
                }
                Ok(Ok(None)) => {
                    return Err(format!("{peer} closed the connection (it stopped or died)"));
                }
                Ok(Ok(Some(data))) => data,
            };
            let v = data
                .to_vec::<f32>()
                .map_err(|e| format!("{peer} sent unreadable data: {e:?}"))?;
            if v.len() != n {
                return Err(format!(
                    "{peer} sent {} values where this rank has {n}: the ranks are out of step (different configs or data?)",
                    v.len()
                ));
            }
            parts[r] = Some(v);
        }
        let mut parts = parts.into_iter().map(|p| p.expect("every rank's part"));
        let mut total = parts.next().expect("at least one rank");
        for p in parts {
            for (t, x) in total.iter_mut().zip(p) {
                *t += x;
            }
        }
        Ok(total)
    }
}

/// The message of a task that panicked (burn-communication panics on broken connections).
fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a network task panicked".into()),
        Err(e) => e.to_string(),
    }
}
