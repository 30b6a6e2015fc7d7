//! How a run ended, and the exit code cron and humans act on.

/// Final status of a run, stored in `sync_runs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunStatus {
    /// Still going (or the process died: no `finished_at`).
    #[default]
    Running,
    /// Everything done, nothing for an operator to look at.
    Succeeded,
    /// Done, with problems an operator must see (rejected records, unrepaired drift).
    Partial,
    /// Could not finish.
    Failed,
    /// Stopped by a signal before finishing.
    Interrupted,
}

impl RunStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Process exit code: 0 success, 1 completed with problems, 2 failure.
    pub fn exit_code(self) -> u8 {
        match self {
            RunStatus::Succeeded => 0,
            RunStatus::Partial => 1,
            RunStatus::Running | RunStatus::Failed | RunStatus::Interrupted => 2,
        }
    }

    /// The worse of two statuses (failure beats problems beats success).
    pub fn worst(self, other: RunStatus) -> RunStatus {
        if other.exit_code() > self.exit_code() {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_separate_success_problems_and_failure() {
        assert_eq!(RunStatus::Succeeded.exit_code(), 0);
        assert_eq!(RunStatus::Partial.exit_code(), 1);
        assert_eq!(RunStatus::Failed.exit_code(), 2);
        assert_eq!(
            RunStatus::Succeeded.worst(RunStatus::Partial),
            RunStatus::Partial
        );
        assert_eq!(
            RunStatus::Failed.worst(RunStatus::Partial),
            RunStatus::Failed
        );
    }
}
