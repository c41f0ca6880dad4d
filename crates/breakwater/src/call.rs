//! `call`: run a future under the breaker, for Rust callers who do not need explicit permits.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::breaker::Breaker;
use crate::permit::{Outcome, Permit, Rejected};

/// Why [`Breaker::call`] did not return the future's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError<E> {
    /// The breaker refused the call; the future was not polled.
    Rejected(Rejected),
    /// The future returned this error.
    Inner(E),
    /// The future ran past its timeout and was dropped.
    Timeout(Duration),
}

impl<E: std::fmt::Display> std::fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Rejected(r) => r.fmt(f),
            CallError::Inner(e) => e.fmt(f),
            CallError::Timeout(d) => write!(f, "call timed out after {} ms", d.as_millis()),
        }
    }
}

impl<E: std::error::Error> std::error::Error for CallError<E> {}

/// Reports `Ignored` if the call's future is dropped before it ends, so no permit is lost.
struct PermitGuard<'a> {
    breaker: &'a Breaker,
    permit: Option<Permit>,
    started: Instant,
}

impl PermitGuard<'_> {
    fn finish(mut self, outcome: Outcome) {
        if let Some(permit) = self.permit.take() {
            self.breaker.record(permit, outcome, self.started.elapsed());
        }
    }
}

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.breaker.record(permit, Outcome::Ignored, self.started.elapsed());
        }
    }
}

impl Breaker {
    /// Runs `fut` if the breaker permits it; an `Err` counts as a failure.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use breakwater::{Breaker, CallError, Config};
    ///
    /// let breaker = Breaker::new("quotes", Config::default()).unwrap();
    /// let price = breaker.call(async { Ok::<_, &str>(101.5) }).await;
    /// assert_eq!(price, Ok(101.5));
    /// let failed = breaker.call(async { Err::<f64, _>("down") }).await;
    /// assert_eq!(failed, Err(CallError::Inner("down")));
    /// # });
    /// ```
    pub async fn call<T, E, F>(&self, fut: F) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.call_with(Result::is_err, fut).await
    }

    /// Runs `fut` if permitted; `is_failure` decides which results count as failures (an error
    /// it clears counts as a success: a 404 is the caller's problem, not the dependency's).
    pub async fn call_with<T, E, F, P>(&self, is_failure: P, fut: F) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
        P: FnOnce(&Result<T, E>) -> bool,
    {
        let guard = self.guard()?;
        let result = fut.await;
        guard.finish(if is_failure(&result) {
            Outcome::Failure
        } else {
            Outcome::Success
        });
        result.map_err(CallError::Inner)
    }

    /// [`call`](Breaker::call) with a timeout: `timeout`, else the config's `call_timeout`, else
    /// none. A timeout drops the future and counts as a failure and a timeout.
    #[cfg(feature = "tokio")]
    pub async fn call_timeout<T, E, F>(&self, timeout: Option<Duration>, fut: F) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let Some(limit) = timeout.or(self.config().call_timeout) else {
            return self.call(fut).await;
        };
        let guard = self.guard()?;
        match tokio::time::timeout(limit, fut).await {
            Ok(result) => {
                guard.finish(if result.is_err() {
                    Outcome::Failure
                } else {
                    Outcome::Success
                });
                result.map_err(CallError::Inner)
            }
            Err(_) => {
                guard.finish(Outcome::Timeout);
                Err(CallError::Timeout(limit))
            }
        }
    }

    fn guard<E>(&self) -> Result<PermitGuard<'_>, CallError<E>> {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        Ok(PermitGuard {
            breaker: self,
            permit: Some(permit),
            started: Instant::now(),
        })
    }
}
