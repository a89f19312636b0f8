//! Reconnecting with exponential backoff, for any [`Link`].

use std::time::Duration;

use super::{Connection, Link, LinkError};

/// How to space out reconnection attempts: `initial`, then doubling up to `max`, at most
/// `attempts` tries in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub attempts: u32,
}

impl Default for Backoff {
    /// About half a minute of trying: 0.25 s, 0.5 s, 1 s, 2 s, 4 s, 4 s, ...
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(4),
            attempts: 10,
        }
    }
}

impl Backoff {
    /// The pause before attempt number `attempt` (0-based; the first attempt does not wait).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        let doublings = (attempt - 1).min(31);
        self.initial
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// Connects to `id` over `link`, retrying transient failures (see [`LinkError::is_transient`])
/// with `backoff`. Returns the last error when every attempt failed, or at once when the error
/// needs the user (no adapter, Bluetooth off).
pub async fn reconnect(
    link: &dyn Link,
    id: &str,
    backoff: &Backoff,
) -> Result<Box<dyn Connection>, LinkError> {
    let mut attempt = 0;
    loop {
        tokio::time::sleep(backoff.delay_before(attempt)).await;
        match link.connect(id).await {
            Ok(connection) => return Ok(connection),
            Err(error) if error.is_transient() && attempt + 1 < backoff.attempts => {
                tracing::info!(%id, attempt, %error, "reconnect attempt failed, backing off");
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{ScanRequest, ScanResult};
    use std::sync::Mutex;

    /// A link whose connects fail with the scripted errors, in order (the unit's edge).
    struct Refusing {
        errors: Mutex<Vec<LinkError>>,
        calls: Mutex<u32>,
    }

    #[async_trait::async_trait]
    impl Link for Refusing {
        async fn scan(&self, _: ScanRequest) -> Result<Vec<ScanResult>, LinkError> {
            Ok(Vec::new())
        }

        async fn connect(&self, _: &str) -> Result<Box<dyn Connection>, LinkError> {
            *self.calls.lock().unwrap() += 1;
            Err(self.errors.lock().unwrap().remove(0))
        }

        async fn pair(
            &self,
            _: &str,
            _: &dyn crate::link::PasskeyEntry,
        ) -> Result<(), crate::link::PairError> {
            Err(LinkError::NotFound("scripted".into()).into())
        }

        async fn unpair(&self, _: &str) -> Result<(), crate::link::PairError> {
            Err(LinkError::NotFound("scripted".into()).into())
        }
    }

    fn refusing(errors: Vec<LinkError>) -> Refusing {
        Refusing {
            errors: Mutex::new(errors),
            calls: Mutex::new(0),
        }
    }

    const QUICK: Backoff = Backoff {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(2),
        attempts: 3,
    };

    #[tokio::test]
    async fn transient_failures_are_retried_until_the_attempts_run_out() {
        let link = refusing(vec![
            LinkError::ConnectionLost,
            LinkError::NotFound("b".into()),
            LinkError::Gatt("third".into()),
            LinkError::Gatt("never reached".into()),
        ]);
        let error = reconnect(&link, "b", &QUICK).await.err();
        assert!(
            matches!(&error, Some(LinkError::Gatt(m)) if m == "third"),
            "{error:?}"
        );
        assert_eq!(*link.calls.lock().unwrap(), 3);
    }

    #[tokio::test]
    async fn errors_that_need_the_user_are_not_retried() {
        for error in [LinkError::BluetoothOff, LinkError::NoAdapter("none".into())] {
            let link = refusing(vec![error, LinkError::ConnectionLost]);
            let error = reconnect(&link, "b", &QUICK).await.err();
            assert!(
                matches!(
                    error,
                    Some(LinkError::BluetoothOff | LinkError::NoAdapter(_))
                ),
                "{error:?}"
            );
            assert_eq!(*link.calls.lock().unwrap(), 1);
        }
    }

    #[test]
    fn delays_double_from_initial_and_stop_at_max() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(700),
            attempts: 8,
        };
        let delays: Vec<u64> = (0..6)
            .map(|a| backoff.delay_before(a).as_millis() as u64)
            .collect();
        assert_eq!(delays, [0, 100, 200, 400, 700, 700]);
        assert_eq!(backoff.delay_before(u32::MAX), Duration::from_millis(700));
    }
}
