//! The compare-and-swap retry every write of the service shares.
//!
//! A write reads the state it builds on, decides, and hands the store one write guarded by
//! what it read (a secret's revision, the chain's newest row, "this name is not taken yet").
//! When another writer got in between, the store refuses and nothing was written; the write
//! then starts again from a fresh read. The store is the only judge of a conflict, so this
//! holds across processes and nodes sharing one store.

use std::future::Future;

use crate::error::Error;
use crate::store::StoreError;

/// How many times a write is tried before it gives up on a race it keeps losing.
pub(super) const MAX_TRIES: usize = 16;

/// Runs `attempt` (read, decide, write) until it does not lose a race, at most `tries` times,
/// then answers [`Error::Contention`] about `what`.
///
/// A try lost the race when the store refused its write because what it read is gone:
/// [`StoreError::Conflict`] (a revision or the chain's head moved on) or
/// [`StoreError::Exists`] (a row it was creating was created meanwhile). Any other answer,
/// a success or another error, is the result.
///
/// `attempt` is a closure returning a future rather than an async closure: the futures of
/// async closures that borrow are not yet known to be `Send` for every lifetime, which the
/// server's handlers need.
pub(super) async fn with_cas<T, F, Fut>(
    tries: usize,
    what: &str,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    for _ in 0..tries {
        match attempt().await {
            Err(Error::Store(StoreError::Conflict | StoreError::Exists)) => continue,
            done => return done,
        }
    }
    Err(Error::Contention { key: what.into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn run<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_lost_race_is_tried_again_until_it_is_won() {
        let tries = Cell::new(0);
        let got = run(with_cas(MAX_TRIES, "k", || {
            tries.set(tries.get() + 1);
            let n = tries.get();
            async move {
                match n {
                    1 => Err(Error::Store(StoreError::Conflict)),
                    2 => Err(Error::Store(StoreError::Exists)),
                    _ => Ok(n),
                }
            }
        }));
        assert_eq!(got.unwrap(), 3);
    }

    #[test]
    fn a_race_lost_every_time_ends_in_contention_after_the_bound() {
        let tries = Cell::new(0);
        let got: Result<(), Error> = run(with_cas(4, "(root key)", || {
            tries.set(tries.get() + 1);
            async { Err(Error::Store(StoreError::Conflict)) }
        }));
        assert!(matches!(got, Err(Error::Contention { key }) if key == "(root key)"));
        assert_eq!(tries.get(), 4);
    }

    #[test]
    fn any_other_error_ends_the_loop_at_once() {
        let tries = Cell::new(0);
        let got: Result<(), Error> = run(with_cas(MAX_TRIES, "k", || {
            tries.set(tries.get() + 1);
            async { Err(Error::Store(StoreError::Unavailable("down".into()))) }
        }));
        assert!(matches!(got, Err(Error::Store(StoreError::Unavailable(_)))));
        assert_eq!(tries.get(), 1);
    }
}
