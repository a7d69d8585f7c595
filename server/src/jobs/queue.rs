//! The bounded queue between sessions and the worker threads: jobs wait here in order, each told
//! its place whenever the line moves (1 = next, 0 = running), and a job cancelled while waiting
//! leaves the line at once. Workers block on [`Queue::pop`]; closing the queue lets them exit.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use ekphrasis_shared::JobId;

/// Something that waits in the queue and can be told where it stands.
pub trait Waiting {
    /// The job's id.
    fn id(&self) -> JobId;
    /// The job's place changed: 1 is next, 0 means a worker took it.
    fn moved(&self, position: u32);
}

/// The queue is at capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{waiting} pieces are already waiting, the most this server queues")]
pub struct QueueFull {
    pub waiting: usize,
}

/// A bounded first-in, first-out line of jobs.
pub struct Queue<T> {
    state: Mutex<State<T>>,
    arrived: Condvar,
    capacity: usize,
}

struct State<T> {
    waiting: VecDeque<T>,
    /// Workers blocked in `pop`, about to take the next jobs.
    idle: usize,
    closed: bool,
}

impl<T: Waiting> Queue<T> {
    /// A queue that holds at most `capacity` waiting jobs (running ones are not counted).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                waiting: VecDeque::new(),
                idle: 0,
                closed: false,
            }),
            arrived: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock cannot leave the deque inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a job at the end of the line; its position (1 = next, 0 when an idle worker takes
    /// it at once).
    pub fn push(&self, job: T) -> Result<u32, (QueueFull, T)> {
        let mut state = self.lock();
        if state.closed || state.waiting.len() >= self.capacity {
            let waiting = state.waiting.len();
            return Err((QueueFull { waiting }, job));
        }
        state.waiting.push_back(job);
        let position = state.waiting.len().saturating_sub(state.idle) as u32;
        drop(state);
        self.arrived.notify_one();
        Ok(position)
    }

    /// Takes the next job, waiting for one; `None` once the queue is closed.
    pub fn pop(&self) -> Option<T> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if let Some(job) = state.waiting.pop_front() {
                job.moved(0);
                tell_positions(&state.waiting, 0);
                return Some(job);
            }
            state.idle += 1;
            state = self.arrived.wait(state).unwrap_or_else(|e| e.into_inner());
            state.idle -= 1;
        }
    }

    /// Takes a waiting job out of the line; `None` when it is not waiting (running or gone).
    pub fn remove(&self, id: JobId) -> Option<T> {
        let mut state = self.lock();
        let at = state.waiting.iter().position(|job| job.id() == id)?;
        let job = state.waiting.remove(at);
        tell_positions(state.waiting.range(at..), at);
        job
    }

    /// Jobs waiting now.
    pub fn len(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Workers waiting for a job now.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.lock().idle
    }

    /// Refuses new jobs and wakes every worker to exit; the jobs still waiting are returned.
    pub fn close(&self) -> Vec<T> {
        let mut state = self.lock();
        state.closed = true;
        let left = state.waiting.drain(..).collect();
        drop(state);
        self.arrived.notify_all();
        left
    }
}

fn tell_positions<'a, T: Waiting + 'a>(jobs: impl IntoIterator<Item = &'a T>, skipped: usize) {
    for (i, job) in jobs.into_iter().enumerate() {
        job.moved((skipped + i + 1) as u32);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::mpsc;

    use super::*;

    struct Probe {
        id: u64,
        told: mpsc::Sender<(u64, u32)>,
    }

    impl Waiting for Probe {
        fn id(&self) -> JobId {
            JobId(self.id)
        }
        fn moved(&self, position: u32) {
            let _ = self.told.send((self.id, position));
        }
    }

    fn probes(n: u64) -> (Vec<Probe>, mpsc::Receiver<(u64, u32)>) {
        let (told, heard) = mpsc::channel();
        let probes = (1..=n)
            .map(|id| Probe {
                id,
                told: told.clone(),
            })
            .collect();
        (probes, heard)
    }

    #[test]
    fn jobs_leave_in_order_and_the_rest_are_told_their_place() {
        let queue = Queue::new(10);
        let (jobs, heard) = probes(3);
        let positions: Vec<u32> = jobs
            .into_iter()
            .map(|job| queue.push(job).map_err(|(e, _)| e).unwrap())
            .collect();
        assert_eq!(positions, [1, 2, 3]);
        assert_eq!(queue.pop().unwrap().id, 1);
        let told: Vec<_> = heard.try_iter().collect();
        assert_eq!(told, [(1, 0), (2, 1), (3, 2)]);
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn a_removed_job_leaves_and_those_behind_move_up() {
        let queue = Queue::new(10);
        let (jobs, heard) = probes(3);
        for job in jobs {
            assert!(queue.push(job).is_ok());
        }
        assert_eq!(queue.remove(JobId(2)).unwrap().id, 2);
        assert!(queue.remove(JobId(2)).is_none());
        let told: Vec<_> = heard.try_iter().collect();
        assert_eq!(told, [(3, 2)]);
        assert_eq!(queue.pop().unwrap().id, 1);
        assert_eq!(queue.pop().unwrap().id, 3);
    }

    #[test]
    fn a_full_queue_refuses_and_gives_the_job_back() {
        let queue = Queue::new(1);
        let (mut jobs, _heard) = probes(2);
        let second = jobs.pop().unwrap();
        assert!(queue.push(jobs.pop().unwrap()).is_ok());
        let (full, back) = queue.push(second).err().unwrap();
        assert_eq!(full.waiting, 1);
        assert_eq!(back.id, 2);
    }

    #[test]
    fn closing_wakes_a_waiting_worker_and_refuses_new_jobs() {
        let queue = Arc::new(Queue::<Probe>::new(4));
        let worker = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || queue.pop().map(|p| p.id))
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(queue.close().is_empty());
        assert_eq!(worker.join().unwrap(), None);
        let (mut jobs, _heard) = probes(1);
        assert!(queue.push(jobs.pop().unwrap()).is_err());
    }

    #[test]
    fn a_worker_blocked_on_an_empty_queue_gets_the_next_job() {
        let queue = Arc::new(Queue::new(4));
        let worker = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || queue.pop().map(|p: Probe| p.id))
        };
        while queue.idle() == 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let (mut jobs, _heard) = probes(1);
        let position = queue.push(jobs.pop().unwrap()).map_err(|(e, _)| e).unwrap();
        assert_eq!(position, 0, "an idle worker takes it at once");
        assert_eq!(worker.join().unwrap(), Some(1));
    }
}
