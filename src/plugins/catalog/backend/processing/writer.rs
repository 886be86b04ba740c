//! The writes of a processing pass in flight (see [`Writer`]).

use std::collections::VecDeque;

use super::super::error::CatalogError;
use super::Engine;
use super::outcome::Outcome;
use super::passes::Fresh;

/// The writes of a pass's outcomes in flight: outcomes are written on a task of their own
/// while the pass processes the next ones, so processing (CPU) and writing (mostly the
/// database) overlap. Writes start in order and what each changed joins the queue in that
/// order. Most writes are sequential: each starts once every write before it has committed.
/// Only writes of children processed ahead of their parent that emit nothing
/// ([`Engine::writes_beside`]) run two at a time, beside each other. A write that carries
/// half the children budget (`catalog.processing.maxBufferedChildren`) or more is waited for
/// before processing goes on, so overlapping never doubles what a pass holds (a batch of
/// locations that emit thousands of entities each is written in turn).
///
/// Nothing is lost if the pass stops early: a write already started commits or rolls back
/// as a whole on its own task, with the stitch marks its results call for.
#[derive(Default)]
pub(super) struct Writer {
    /// Writes in flight, oldest first, each with whether it may run beside another one
    /// ([`Engine::writes_beside`]).
    in_flight: VecDeque<(bool, WriteHandle)>,
}

/// A write on a task of its own; it returns the refs to process next.
type WriteHandle = tokio::task::JoinHandle<Result<VecDeque<String>, CatalogError>>;

impl Writer {
    /// Waits for every write in flight and queues what they changed.
    pub(super) async fn wait(&mut self, queue: &mut VecDeque<String>) -> Result<(), CatalogError> {
        while self.wait_oldest(queue).await? {}
        Ok(())
    }

    /// Waits for the oldest write in flight, if any; returns whether there was one.
    async fn wait_oldest(&mut self, queue: &mut VecDeque<String>) -> Result<bool, CatalogError> {
        let Some((_, handle)) = self.in_flight.pop_front() else {
            return Ok(false);
        };
        let changed = handle.await.map_err(|_| CatalogError::Interrupted)??;
        queue.extend(changed);
        Ok(true)
    }

    /// Starts writing `fresh` and `outcomes` (nothing when both are empty) once the writes
    /// in flight allow: a write that may run beside another one waits until fewer than two
    /// such writes are in flight, any other write for all of them.
    pub(super) async fn start(
        &mut self,
        engine: &Engine,
        outcomes: Vec<Outcome>,
        fresh: Vec<Fresh>,
        queue: &mut VecDeque<String>,
    ) -> Result<(), CatalogError> {
        let beside = engine.writes_beside(&outcomes, &fresh);
        if beside && self.in_flight.iter().all(|(b, _)| *b) {
            while self.in_flight.len() >= 2 {
                self.wait_oldest(queue).await?;
            }
        } else {
            self.wait(queue).await?;
        }
        if outcomes.is_empty() && fresh.is_empty() {
            return Ok(());
        }
        let engine = engine.me.upgrade().ok_or(CatalogError::Interrupted)?;
        let write = tokio::spawn(async move {
            if beside {
                engine.write_fresh_beside(fresh).await
            } else {
                engine.write_outcomes(outcomes, fresh).await
            }
        });
        self.in_flight.push_back((beside, write));
        Ok(())
    }
}

/// Seals the outcomes of `fresh` ([`Outcome::seal`]); they come sealed from the pass, so this
/// only guards the invariant.
pub(super) fn seal_fresh(fresh: Vec<Fresh>) -> Vec<Fresh> {
    fresh
        .into_iter()
        .map(|f| Fresh {
            row: f.row,
            outcome: f.outcome.seal(),
        })
        .collect()
}
