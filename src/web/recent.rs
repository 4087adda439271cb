//! Figures over the whole queue (the queue's filter counts, the daily review) cost tens of
//! milliseconds of database time each: 100,000 waiting lines counted. Every request of a
//! busy morning would count them again, and on a small machine the counting requests
//! queue behind each other. `Recent` keeps the last answer for each key and shares it:
//!
//! - An answer is reused for `max_age` (2 s by default, `FIGURES_MAX_AGE_MS`).
//! - Any change made through this process (every request that is not GET or HEAD)
//!   invalidates every answer at once, so a person who changes something sees it
//!   counted on the next page, never an answer from before their change.
//! - Past `max_age`, one request recounts while the others are served the answer
//!   being replaced (at most one recount's time older); with no usable answer at all
//!   (the first request, or after a change), one request counts and the others wait
//!   for it instead of counting the same thing side by side.
//!
//! Changes made by another process (a second `serve`, the command line) show within
//! `max_age`. A `max_age` of zero turns the sharing off.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub struct Recent<K, V> {
    max_age: Duration,
    generation: AtomicU64,
    slots: Mutex<HashMap<K, Arc<Slot<V>>>>,
}

struct Slot<V> {
    state: Mutex<SlotState<V>>,
    /// Held by the one request that counts when there is no answer to serve meanwhile.
    counting: Mutex<()>,
}

struct SlotState<V> {
    answer: Option<Answer<V>>,
    refreshing: bool,
}

struct Answer<V> {
    value: Arc<V>,
    at: Instant,
    generation: u64,
}

/// Keys kept at most; past that the map starts again (keys are filter combinations).
const MAX_KEYS: usize = 256;

impl<K: Eq + Hash + Clone, V> Recent<K, V> {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            generation: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets every answer: called after each request that may have changed something.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// A recent answer for `key`, if one is at hand, without computing anything: lets a
    /// request skip the database hop altogether when the answer is shared.
    pub fn fresh(&self, key: &K) -> Option<Arc<V>> {
        if self.max_age.is_zero() {
            return None;
        }
        let slot = lock(&self.slots).get(key).cloned()?;
        let state = lock(&slot.state);
        let answer = state.answer.as_ref()?;
        (answer.generation == self.generation.load(Ordering::SeqCst)
            && answer.at.elapsed() < self.max_age)
            .then(|| answer.value.clone())
    }

    /// The answer for `key`: a shared recent one, or `compute`'s.
    pub fn get<E>(&self, key: &K, compute: impl FnOnce() -> Result<V, E>) -> Result<Arc<V>, E> {
        if self.max_age.is_zero() {
            return compute().map(Arc::new);
        }
        let slot = self.slot(key);
        let generation = self.generation.load(Ordering::SeqCst);
        {
            let mut state = lock(&slot.state);
            if let Some(answer) = &state.answer
                && answer.generation == generation
            {
                if answer.at.elapsed() < self.max_age || state.refreshing {
                    return Ok(answer.value.clone());
                }
                state.refreshing = true;
                drop(state);
                let result = compute().map(Arc::new);
                let mut state = lock(&slot.state);
                state.refreshing = false;
                if let Ok(value) = &result {
                    state.answer = Some(Answer {
                        value: value.clone(),
                        at: Instant::now(),
                        generation,
                    });
                }
                return result;
            }
        }
        let _counting = lock(&slot.counting);
        {
            let state = lock(&slot.state);
            if let Some(answer) = &state.answer
                && answer.generation == self.generation.load(Ordering::SeqCst)
                && answer.at.elapsed() < self.max_age
            {
                return Ok(answer.value.clone());
            }
        }
        let value = Arc::new(compute()?);
        lock(&slot.state).answer = Some(Answer {
            value: value.clone(),
            at: Instant::now(),
            generation,
        });
        Ok(value)
    }

    fn slot(&self, key: &K) -> Arc<Slot<V>> {
        let mut slots = lock(&self.slots);
        if slots.len() >= MAX_KEYS && !slots.contains_key(key) {
            slots.clear();
        }
        slots
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Slot {
                    state: Mutex::new(SlotState {
                        answer: None,
                        refreshing: false,
                    }),
                    counting: Mutex::new(()),
                })
            })
            .clone()
    }
}

/// A panic while counting leaves nothing half-changed here, so a poisoned lock is used as is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn counter() -> (Arc<AtomicUsize>, impl Fn() -> Result<usize, ()> + Clone) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        (calls, move || Ok(c.fetch_add(1, Ordering::SeqCst) + 1))
    }

    #[test]
    fn an_answer_is_shared_until_a_change() {
        let recent = Recent::new(Duration::from_secs(60));
        let (calls, count) = counter();
        assert_eq!(*recent.get(&"queue", count.clone()).unwrap(), 1);
        assert_eq!(*recent.get(&"queue", count.clone()).unwrap(), 1);
        assert_eq!(*recent.get(&"review", count.clone()).unwrap(), 2);
        recent.invalidate();
        assert_eq!(*recent.get(&"queue", count.clone()).unwrap(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn an_old_answer_is_counted_again() {
        let recent = Recent::new(Duration::from_millis(20));
        let (_, count) = counter();
        assert_eq!(*recent.get(&(), count.clone()).unwrap(), 1);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(*recent.get(&(), count.clone()).unwrap(), 2);
        assert_eq!(*recent.get(&(), count).unwrap(), 2);
    }

    #[test]
    fn a_fresh_answer_is_at_hand_until_a_change_or_its_age() {
        let recent = Recent::new(Duration::from_millis(40));
        let (_, count) = counter();
        assert_eq!(recent.fresh(&"token"), None);
        assert_eq!(*recent.get(&"token", count.clone()).unwrap(), 1);
        assert_eq!(recent.fresh(&"token").as_deref(), Some(&1));
        recent.invalidate();
        assert_eq!(recent.fresh(&"token"), None);
        assert_eq!(*recent.get(&"token", count).unwrap(), 2);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(recent.fresh(&"token"), None);
    }

    #[test]
    fn zero_max_age_counts_every_time() {
        let recent = Recent::new(Duration::ZERO);
        let (_, count) = counter();
        assert_eq!(*recent.get(&(), count.clone()).unwrap(), 1);
        assert_eq!(*recent.get(&(), count).unwrap(), 2);
    }

    #[test]
    fn a_failed_count_is_not_kept() {
        let recent: Recent<(), usize> = Recent::new(Duration::from_secs(60));
        assert!(recent.get(&(), || Err::<usize, _>("down")).is_err());
        assert_eq!(*recent.get(&(), || Ok::<_, ()>(7)).unwrap(), 7);
    }

    #[test]
    fn many_requests_at_once_count_once() {
        let recent = Arc::new(Recent::new(Duration::from_secs(60)));
        let calls = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (recent, calls) = (recent.clone(), calls.clone());
                std::thread::spawn(move || {
                    *recent
                        .get(&(), || {
                            calls.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(50));
                            Ok::<_, ()>(42)
                        })
                        .unwrap()
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), 42);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
