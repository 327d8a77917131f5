//! How many generations run and wait, and the limit on both.
//!
//! A request is admitted while `running + waiting < parallel + queue`; beyond that the engine
//! answers [`crate::EngineError::Busy`] at once instead of queueing without bound. Counting
//! both together (rather than waiting alone) makes the limit exact even for a request that has
//! been accepted but not yet picked up by the inference thread.

use std::sync::Mutex;

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    running: usize,
    waiting: usize,
}

/// The engine's load: generations running and waiting for a sequence.
#[derive(Debug)]
pub(crate) struct Load {
    counts: Mutex<Counts>,
    parallel: usize,
    queue: usize,
}

impl Load {
    pub(crate) fn new(parallel: usize, queue: usize) -> Self {
        Self { counts: Mutex::new(Counts::default()), parallel, queue }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// (running, waiting).
    pub(crate) fn stats(&self) -> (usize, usize) {
        let c = *self.lock();
        (c.running, c.waiting)
    }

    /// Counts a new waiting request, or returns (running, waiting) when full.
    pub(crate) fn try_enqueue(&self) -> Result<(), (usize, usize)> {
        let mut c = self.lock();
        if c.running + c.waiting >= self.parallel + self.queue {
            return Err((c.running, c.waiting));
        }
        c.waiting += 1;
        Ok(())
    }

    /// A waiting request got a sequence.
    pub(crate) fn started(&self) {
        let mut c = self.lock();
        c.waiting = c.waiting.saturating_sub(1);
        c.running += 1;
    }

    /// A waiting request left without running (cancelled, or never submitted).
    pub(crate) fn abandoned(&self) {
        let mut c = self.lock();
        c.waiting = c.waiting.saturating_sub(1);
    }

    /// A running generation ended (finished, failed or cancelled).
    pub(crate) fn finished(&self) {
        let mut c = self.lock();
        c.running = c.running.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_counts_running_and_waiting() {
        let l = Load::new(1, 1);
        assert!(l.try_enqueue().is_ok());
        l.started();
        assert!(l.try_enqueue().is_ok());
        assert_eq!(l.try_enqueue(), Err((1, 1)));
        l.abandoned();
        assert_eq!(l.stats(), (1, 0));
        l.finished();
        assert_eq!(l.stats(), (0, 0));
        assert!(l.try_enqueue().is_ok());
    }
}
