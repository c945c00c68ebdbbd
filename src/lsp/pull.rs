//! `workspace/configuration` pulls kept off the message loop: one pull at a time (a burst of
//! `didChangeConfiguration` while one is out asks once more after it, not once each), each
//! bounded in time, so a client that never answers holds no request slot and no task.

use std::sync::Mutex;
use std::time::Duration;

/// How long chatls waits for the client's answer to `workspace/configuration`; after that
/// the settings in force stay.
pub const PULL_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a pull is out and whether another was asked for meanwhile.
#[derive(Debug, Default)]
pub struct Pulls {
    state: Mutex<PullState>,
}

#[derive(Debug, Default)]
struct PullState {
    out: bool,
    again: bool,
}

impl Pulls {
    /// A pull is wanted: true when the caller should start one; false when one is out (it
    /// is followed by one more, which sees the latest settings).
    pub fn begin(&self) -> bool {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.out {
            state.again = true;
            false
        } else {
            state.out = true;
            true
        }
    }

    /// The pull ended (answered, failed or timed out): true when another was asked for
    /// meanwhile, so the caller pulls once more.
    pub fn end(&self) -> bool {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.again {
            state.again = false;
            true
        } else {
            state.out = false;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_while_one_is_out_becomes_one_more_pull() {
        let pulls = Pulls::default();
        assert!(pulls.begin());
        for _ in 0..20 {
            assert!(!pulls.begin());
        }
        assert!(pulls.end(), "one more pull for the burst");
        assert!(!pulls.end(), "and no more");
        assert!(pulls.begin(), "a later change pulls again");
        assert!(!pulls.end());
    }
}
