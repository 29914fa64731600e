//! The tool's errors: one line each, with the protocol reason and its T402 code, and an exit
//! code per kind.

use t402_core::Reason;

/// Exit codes (documented in `docs/src/cli.md`).
pub(crate) mod exit {
    /// Invalid input: arguments, a header that does not decode, a configuration file.
    pub(crate) const INPUT: i32 = 1;
    /// The server or facilitator could not be reached or answered with an error.
    pub(crate) const TRANSPORT: i32 = 2;
    /// The client did not pay: no acceptable offer, over budget, declined, signing failed.
    pub(crate) const NOT_PAID: i32 = 3;
    /// The server refused the payment, or settlement failed.
    pub(crate) const REFUSED: i32 = 4;
    /// `pay`: the final answer is not a success (status not 2xx); the response is printed.
    pub(crate) const FAILED_ANSWER: i32 = 5;
}

/// The value of the environment variable `name`; unset is an input error naming it (files and
/// flags name variables, never secrets).
pub(crate) fn env(name: &str) -> Result<String, CliError> {
    std::env::var(name).map_err(|_| {
        CliError::new(
            exit::INPUT,
            format!("environment variable {name} is not set"),
        )
    })
}

/// A failure of the tool.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct CliError {
    /// What went wrong, in one line.
    pub(crate) message: String,
    /// The protocol reason, when there is one.
    pub(crate) reason: Option<Reason>,
    /// The process exit code.
    pub(crate) code: i32,
}

impl CliError {
    /// An error with no protocol reason.
    pub(crate) fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            reason: None,
            code,
        }
    }

    /// An error with a protocol reason.
    pub(crate) fn with_reason(code: i32, reason: Reason, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            reason: Some(reason),
            code,
        }
    }

    /// The line printed on standard error.
    pub(crate) fn line(&self) -> String {
        match &self.reason {
            Some(reason) => match reason.code() {
                Some(code) => format!("error [{code} {}]: {}", reason.as_str(), self.message),
                None => format!("error [{}]: {}", reason.as_str(), self.message),
            },
            None => format!("error: {}", self.message),
        }
    }
}

impl CliError {
    /// The error as JSON: `{"error": reason, "code": "T402-…", "message": …, "exit": n}`.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "error": self.reason.as_ref().map(Reason::as_str),
            "code": self.reason.as_ref().and_then(Reason::code).map(|code| code.to_string()),
            "message": self.message,
            "exit": self.code,
        })
    }
}

impl From<t402_client::ClientError> for CliError {
    fn from(err: t402_client::ClientError) -> Self {
        use t402_client::ClientError as E;
        let code = match &err {
            E::MalformedChallenge(_) | E::InvalidRequest(_) => exit::INPUT,
            E::Transport(_) | E::Timeout(_) => exit::TRANSPORT,
            E::PaymentRefused { .. } | E::SettlementFailed(_) | E::AlreadyAttempted => {
                exit::REFUSED
            }
            _ => exit::NOT_PAID,
        };
        Self::with_reason(code, err.reason(), err.to_string())
    }
}
