//! Group commit for continuous registration: many threads sketch their datasets in
//! parallel and submit the sketches; one committer thread takes whatever is waiting and
//! commits it in one transaction (`Index::register_group`), then tells each caller that
//! its own version is durable. Searches never wait: they read committed snapshots. The
//! registrar counts its groups, so callers can see how much grouping they got.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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

/// What the committer has done so far, shared with the [`Registrar`] that reads it.
#[derive(Default)]
struct Counters {
    /// Groups handed to `Index::register_group`, one transaction each.
    groups: AtomicU64,
    /// Registrations in those groups, refused ones included.
    grouped: AtomicU64,
    /// Registrations in the largest group.
    largest: AtomicUsize,
}

impl Counters {
    fn record(&self, group: usize) {
        self.groups.fetch_add(1, Ordering::SeqCst);
        self.grouped.fetch_add(group as u64, Ordering::SeqCst);
        self.largest.fetch_max(group, Ordering::SeqCst);
    }
}

/// A running committer for one index.
///
/// Submitting never blocks; [`Pending::wait`] blocks until the group holding the
/// registration has committed. Dropping the registrar (or [`Registrar::close`]) commits
/// what is queued before the committer thread ends.
pub struct Registrar {
    index: Arc<Index>,
    jobs: Option<Sender<Job>>,
    /// Held while the registrar is paused; dropping it lets the committer start.
    gate: Mutex<Option<Sender<()>>>,
    counters: Arc<Counters>,
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
    ///
    /// The index must have its sample space already (its first registration goes through
    /// `Index::register`); until then every group is refused with the index's error.
    ///
    /// ```
    /// # use std::{path::Path, sync::Arc};
    /// # use adaptdb::{store::Registrar, Index, InputOptions, Params, Registration};
    /// # let dir = tempfile::tempdir()?;
    /// # let input = InputOptions::default();
    /// # let source = Path::new("data/weather_cities/sources/model_Mumbai_2016.csv");
    /// let index = Arc::new(Index::create(dir.path(), Params::default())?);
    /// index.register_file(&Registration::new("first").version("1"), source, &input)?;
    /// let registrar = Registrar::start(index.clone(), 64);
    /// let done = registrar.register_file(Registration::new("mumbai"), source, &input)?;
    /// assert_eq!(done.model.version, "1");
    /// registrar.close();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(index: Arc<Index>, max_group: usize) -> Self {
        let registrar = Self::paused(index, max_group);
        registrar.resume();
        registrar
    }

    /// Starts a registrar whose committer holds back until [`Registrar::resume`] (or
    /// [`Registrar::close`]): submissions queue up, and the first group then takes up to
    /// `max_group` of them at once.
    ///
    /// This makes the grouping known in advance: `n` registrations submitted while paused
    /// commit in `n.div_ceil(max_group)` groups. A [`Pending::wait`] called before the
    /// registrar resumes blocks until another thread resumes it.
    pub fn paused(index: Arc<Index>, max_group: usize) -> Self {
        let (jobs, queue) = channel::unbounded::<Job>();
        let (gate, held) = channel::bounded::<()>(0);
        let counters = Arc::new(Counters::default());
        let committer = {
            let (index, counters) = (index.clone(), counters.clone());
            let max_group = max_group.max(1);
            std::thread::spawn(move || commit_loop(&index, &queue, &held, max_group, &counters))
        };
        Self {
            index,
            jobs: Some(jobs),
            gate: Mutex::new(Some(gate)),
            counters,
            committer: Some(committer),
        }
    }

    /// Lets a paused committer start on what is queued; does nothing when it runs already.
    pub fn resume(&self) {
        let mut gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        // Dropping the only sender disconnects the gate, which is what the committer awaits.
        gate.take();
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

    /// Returns how many groups the committer has handed to `Index::register_group` so far,
    /// one transaction each (a group whose commit failed counts too).
    ///
    /// A caller whose [`Pending::wait`] has returned sees its own group counted.
    pub fn groups(&self) -> u64 {
        self.counters.groups.load(Ordering::SeqCst)
    }

    /// Returns how many registrations those groups held, refused ones included.
    pub fn grouped(&self) -> u64 {
        self.counters.grouped.load(Ordering::SeqCst)
    }

    /// Returns the number of registrations in the largest group so far (0 before the first).
    pub fn largest_group(&self) -> usize {
        self.counters.largest.load(Ordering::SeqCst)
    }

    /// Stops accepting registrations, commits what is queued, and waits for the committer.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // A paused committer must start, or joining it below would never return.
        self.resume();
        self.jobs.take();
        if let Some(handle) = self.committer.take() {
            let _ = handle.join();
        }
        tracing::debug!(
            index = %self.index.dir().display(),
            groups = self.groups(),
            registrations = self.grouped(),
            largest_group = self.largest_group(),
            "registrar closed"
        );
    }
}

impl Drop for Registrar {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The committer thread: waits for the gate to open, then commits groups until every
/// sender of `queue` is gone and the queue is empty.
fn commit_loop(
    index: &Index,
    queue: &Receiver<Job>,
    gate: &Receiver<()>,
    max_group: usize,
    counters: &Counters,
) {
    let span = tracing::debug_span!("registrar", index = %index.dir().display(), max_group);
    let _enter = span.enter();
    // Nothing is ever sent on the gate: this returns when the registrar drops its sender.
    let _ = gate.recv();

    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < max_group {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }

        let size = group.len();
        let (items, replies): (Vec<_>, Vec<_>) = group
            .into_iter()
            .map(|j| ((j.registration, j.sketch), j.reply))
            .unzip();
        let results = index.register_group(items);
        // IMPORTANT: counted before any reply, so a caller that was answered sees its group.
        counters.record(size);
        let refused = results.iter().filter(|r| r.is_err()).count();
        tracing::debug!(size, refused, "committed a group");
        for (reply, result) in replies.into_iter().zip(results) {
            // A caller that stopped waiting does not stop the others.
            let _ = reply.send(result);
        }
    }
}
