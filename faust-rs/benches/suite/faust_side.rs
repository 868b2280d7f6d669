//! The faust-rs side of a broker workload: a worker run in this process
//! on its own multi-threaded tokio runtime (as `faust::main!` runs one),
//! and a sensor that times its work.
//!
//! What is timed: from the moment the worker reads its first record
//! (`Sensor::on_message_in`, so the consumer group's join is not counted)
//! to the moment the broker acknowledged the last of the expected sink
//! records (`Sensor::on_send_completed`). The plain side
//! ([`crate::plain_side`]) times the same span.
//!
//! The sensor costs the worker what any registered sensor costs: a call
//! per record read and per record sent, and a boxed future around each
//! delivery.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use faust::App;
use faust::sensor::{MessageIn, Partitions, SendCompleted, SendError, Sensor};

/// How long a worker may go without delivering a sink record before the
/// run is given up as stuck.
pub(crate) const STALL: Duration = Duration::from_secs(60);

/// What the worker did, as its sensor heard it.
#[derive(Debug)]
pub(crate) struct Progress {
    /// The sink topic whose deliveries are counted.
    sink: String,
    /// Deliveries to `sink` after which the run is done.
    target: u64,
    first_in: OnceLock<Instant>,
    done_at: OnceLock<Instant>,
    delivered: AtomicU64,
    failed: AtomicU64,
    assigned: AtomicBool,
}

impl Progress {
    /// Progress towards `target` records delivered to `sink`.
    pub(crate) fn new(sink: &str, target: u64) -> Arc<Self> {
        Arc::new(Progress {
            sink: sink.to_owned(),
            target,
            first_in: OnceLock::new(),
            done_at: OnceLock::new(),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            assigned: AtomicBool::new(false),
        })
    }

    /// Records delivered to the sink so far.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Whether the group has given the worker partitions.
    pub(crate) fn assigned(&self) -> bool {
        self.assigned.load(Ordering::Relaxed)
    }

    /// The timed span: first record read to the `target`-th delivery.
    pub(crate) fn span(&self) -> Option<Duration> {
        Some(self.done_at.get()?.duration_since(*self.first_in.get()?))
    }
}

impl Sensor for Progress {
    fn on_message_in(&self, _: &MessageIn<'_>) {
        self.first_in.get_or_init(Instant::now);
    }

    /// The probe counts deliveries only: the worker times events as it
    /// would with no sensor.
    fn wants_durations(&self) -> bool {
        false
    }

    fn on_send_completed(&self, send: &SendCompleted<'_>) {
        if send.topic == self.sink {
            let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
            if n == self.target {
                let _ = self.done_at.set(Instant::now());
            }
        }
    }

    fn on_send_error(&self, _: &SendError<'_>) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    fn on_partitions_assigned(&self, partitions: &Partitions<'_>) {
        if !partitions.partitions.is_empty() {
            self.assigned.store(true, Ordering::Relaxed);
        }
    }
}

/// A worker running in this process.
pub(crate) struct Worker {
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<faust::Result<()>>,
}

impl Worker {
    /// Starts `app` with `progress` as one more sensor.
    pub(crate) fn start(app: App, progress: &Arc<Progress>) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("the worker's tokio runtime: {e}"))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = app.sensor(progress.clone());
        let handle = runtime.spawn(faust::worker::run_until(app, async {
            let _ = stopped.await;
        }));
        Ok(Worker {
            runtime,
            stop: Some(stop),
            handle,
        })
    }

    /// Whether the worker has returned (it stopped itself, on an error).
    pub(crate) fn finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Stops the worker gracefully and returns what `run_until` returned.
    pub(crate) fn stop(mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.runtime.block_on(self.handle) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("the worker failed: {e}")),
            Err(e) => Err(format!("the worker's task panicked: {e}")),
        }
    }
}

/// Runs `app` until `progress` has counted all its sink deliveries, and
/// returns the timed span. Fails when the worker stops by itself, a
/// delivery fails, or no delivery comes for [`STALL`].
pub(crate) fn run_to_target(app: App, progress: &Arc<Progress>) -> Result<Duration, String> {
    let worker = Worker::start(app, progress)?;
    let mut last = (0, Instant::now());
    loop {
        if let Some(span) = progress.span() {
            worker.stop()?;
            return Ok(span);
        }
        if worker.finished() {
            worker.stop()?;
            return Err(format!(
                "the worker stopped after {} of {} records delivered to {}",
                progress.delivered(),
                progress.target,
                progress.sink
            ));
        }
        let failed = progress.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let _ = worker.stop();
            return Err(format!(
                "{failed} sends of the worker failed (see its log); {} of {} records were \
                 delivered to {}",
                progress.delivered(),
                progress.target,
                progress.sink
            ));
        }
        let delivered = progress.delivered();
        if delivered != last.0 {
            last = (delivered, Instant::now());
        } else if last.1.elapsed() > STALL {
            let _ = worker.stop();
            return Err(format!(
                "the worker delivered no record to {} for {STALL:?} ({delivered} of {} delivered; \
                 partitions assigned: {}); is the input loaded and the broker up?",
                progress.sink,
                progress.target,
                progress.assigned()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
