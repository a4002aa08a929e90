//! The in-flight memory budget: every export holds a reservation from the moment its body
//! starts to arrive until it is answered, so what peers can make the receiver hold is bounded
//! by `Limits::max_inflight_bytes` whatever they send.
//!
//! A new export is admitted only if its first reservation is free at once (otherwise
//! "retry later"). A reservation may have to grow (a chunked body arriving, an export that
//! decodes to more than estimated): it then waits for the extra, in arrival order, holding
//! what it has. Waiting while holding could deadlock (each waiter holding what another needs)
//! and, refused instead, livelocked under contention: every admitted export held its first
//! share, failed to grow, was refused and retried, and none ever finished. So growth waits
//! only while the total need of all waiting exports fits the budget — then, once the exports
//! that are not waiting finish, every waiter can be served — and is refused otherwise.
//! Exports being admitted do not overtake waiters (freed memory goes to waiters first).
//!
//! Must never: charge more than the budget; let one waiter block another forever.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::IngestError;

/// The longest an export waits to grow its reservation before it is refused with "retry
/// later" (exports not waiting finish well within this: their bodies must arrive within
/// `conn::BODY_READ_TIMEOUT`, and the store answers or refuses promptly).
pub const GROW_WAIT: Duration = Duration::from_secs(30);

/// The budget shared by both transports.
pub struct Budget {
    memory: Arc<Semaphore>,
    max: usize,
    /// The total (not extra) bytes each waiting export will hold once served, summed.
    waiting: Mutex<usize>,
}

impl Budget {
    pub fn new(max_bytes: usize) -> Arc<Budget> {
        let max = max_bytes.min(Semaphore::MAX_PERMITS).min(u32::MAX as usize);
        Arc::new(Budget {
            memory: Arc::new(Semaphore::new(max)),
            max,
            waiting: Mutex::new(0),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Bytes not held by any export.
    #[cfg(test)]
    fn available(&self) -> usize {
        self.memory.available_permits()
    }

    /// Admits an export with `bytes` reserved, or refuses it at once when they are not free.
    pub fn admit(self: &Arc<Self>, bytes: usize) -> Result<Reservation, IngestError> {
        let mut reservation = Reservation {
            budget: Arc::clone(self),
            permit: None,
            charged: 0,
        };
        let bytes = bytes.clamp(1, self.max);
        let permit = Arc::clone(&self.memory)
            .try_acquire_many_owned(permits(bytes))
            .map_err(|_| IngestError::Busy(self.max))?;
        reservation.permit = Some(permit);
        reservation.charged = bytes;
        Ok(reservation)
    }
}

fn permits(bytes: usize) -> u32 {
    // `Budget::new` caps the budget at u32::MAX and reservations never exceed it.
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// Removes a waiter's need from the budget's waiting total when it stops waiting (served,
/// timed out, or dropped with its request).
struct Waiting<'a> {
    budget: &'a Budget,
    need: usize,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Ok(mut waiting) = self.budget.waiting.lock() {
            *waiting = waiting.saturating_sub(self.need);
        }
    }
}

/// In-flight memory held for one export until it is answered. Owned, so it can travel with a
/// request body while that is read.
pub struct Reservation {
    budget: Arc<Budget>,
    permit: Option<OwnedSemaphorePermit>,
    charged: usize,
}

impl Reservation {
    /// Bytes held.
    #[cfg(test)]
    fn charged(&self) -> usize {
        self.charged
    }

    /// Grows the reservation to `bytes` (at most the whole budget). Waits for the extra when
    /// that can be served without deadlock (see the module's note), up to `GROW_WAIT`;
    /// refused (`Busy`) otherwise.
    pub async fn grow_to(&mut self, bytes: usize) -> Result<(), IngestError> {
        let bytes = bytes.min(self.budget.max);
        if bytes <= self.charged {
            return Ok(());
        }
        let extra = permits(bytes - self.charged);
        let busy = || IngestError::Busy(self.budget.max);
        let permit = match Arc::clone(&self.budget.memory).try_acquire_many_owned(extra) {
            Ok(permit) => permit,
            Err(_) => {
                let _waiting = {
                    let mut waiting = self.budget.waiting.lock().map_err(|_| busy())?;
                    if waiting.saturating_add(bytes) > self.budget.max {
                        return Err(busy());
                    }
                    *waiting += bytes;
                    Waiting {
                        budget: &self.budget,
                        need: bytes,
                    }
                };
                let acquire = Arc::clone(&self.budget.memory).acquire_many_owned(extra);
                match tokio::time::timeout(GROW_WAIT, acquire).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) | Err(_) => return Err(busy()),
                }
            }
        };
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
        self.charged = bytes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn growth_waits_when_every_waiter_can_be_served_and_is_refused_otherwise() {
        let budget = Budget::new(100);
        let mut a = budget.admit(40).expect("a");
        let mut b = budget.admit(40).expect("b");
        // a waits for 30 more (need 70 fits the budget with nobody else waiting).
        let a_grows = tokio::spawn(async move {
            a.grow_to(70).await.expect("a grows");
            a
        });
        tokio::task::yield_now().await;
        while *budget.waiting.lock().expect("lock") == 0 {
            tokio::task::yield_now().await;
        }
        // b's need of 60 would not fit beside a's 70: waiting could deadlock, so refused.
        assert!(matches!(b.grow_to(60).await, Err(IngestError::Busy(100))));
        // A new export is not admitted past the waiter, though 20 bytes are free.
        assert!(budget.admit(10).is_err());
        drop(b);
        let a = a_grows.await.expect("join");
        assert_eq!(a.charged(), 70);
        assert_eq!(budget.available(), 30);
        assert_eq!(*budget.waiting.lock().expect("lock"), 0);
        drop(a);
        assert_eq!(budget.available(), 100);
    }

    #[tokio::test]
    async fn growth_stops_at_the_whole_budget() {
        let budget = Budget::new(100);
        let mut a = budget.admit(60).expect("a");
        a.grow_to(500).await.expect("grows to the whole budget");
        assert_eq!(a.charged(), 100);
        assert_eq!(budget.available(), 0);
    }
}
