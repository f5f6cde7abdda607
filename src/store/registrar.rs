//! Group commit for continuous registration: many threads sketch their datasets in
//! parallel and submit the sketches; one committer thread takes whatever is waiting and
//! commits it in one transaction (`Index::register_group`), then tells each caller that
//! its own version is durable. Searches never wait: they read committed snapshots.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam::channel::{self, Receiver, Sender};

use super::{Index, Registered, Registration, StoreError};
use crate::error::Result;
use crate::input::InputOptions;
use crate::sketch::Sketch;

struct Job {
    registration: Registration,
    sketch: Sketch,
    reply: Sender<Result<Registered>>,
}

/// A running committer for one index.
pub struct Registrar {
    index: Arc<Index>,
    jobs: Option<Sender<Job>>,
    committer: Option<JoinHandle<()>>,
}

/// A submitted registration; [`Pending::wait`] returns once it is durable (or refused).
pub struct Pending {
    reply: Receiver<Result<Registered>>,
}

impl Pending {
    /// Blocks until the group holding this registration has committed.
    pub fn wait(self) -> Result<Registered> {
        self.reply.recv().unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> crate::Error {
    StoreError::GroupFailed {
        reason: "the registrar stopped before committing".into(),
    }
    .into()
}

impl Registrar {
    /// Starts the committer thread; groups hold at most `max_group` registrations.
    pub fn start(index: Arc<Index>, max_group: usize) -> Self {
        let (jobs, queue) = channel::unbounded::<Job>();
        let committer_index = index.clone();
        let max_group = max_group.max(1);
        let committer = std::thread::spawn(move || {
            while let Ok(first) = queue.recv() {
                let mut group = vec![first];
                while group.len() < max_group {
                    match queue.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                let (items, replies): (Vec<_>, Vec<_>) = group
                    .into_iter()
                    .map(|j| ((j.registration, j.sketch), j.reply))
                    .unzip();
                let results = committer_index.register_group(items);
                for (reply, result) in replies.into_iter().zip(results) {
                    // A caller that stopped waiting does not stop the others.
                    let _ = reply.send(result);
                }
            }
        });
        Self {
            index,
            jobs: Some(jobs),
            committer: Some(committer),
        }
    }

    /// Queues a sketched dataset for the next group commit.
    pub fn submit(&self, registration: Registration, sketch: Sketch) -> Pending {
        let (reply, wait) = channel::bounded(1);
        let job = Job {
            registration,
            sketch,
            reply,
        };
        if let Some(jobs) = &self.jobs {
            if let Err(channel::SendError(job)) = jobs.send(job) {
                let _ = job.reply.send(Err(stopped()));
            }
        }
        Pending { reply: wait }
    }

    /// Sketches the dataset at `path` on the calling thread, then registers it in the next
    /// group and waits until it is durable.
    pub fn register_file(
        &self,
        registration: Registration,
        path: &Path,
        options: &InputOptions,
    ) -> Result<Registered> {
        let sketch = self.index.sketch_file(path, options)?;
        self.submit(registration, sketch).wait()
    }

    /// Stops accepting registrations, commits what is queued, and waits for the committer.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.jobs.take();
        if let Some(handle) = self.committer.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Registrar {
    fn drop(&mut self) {
        self.shutdown();
    }
}
