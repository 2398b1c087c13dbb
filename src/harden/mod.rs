//! `knoxctl harden`: hardening policies recommended from a catalog of compliance-mapped
//! templates, evaluated on the real target.
//!
//! Data flow: embedded template files ([`catalog`]) → filters ([`frameworks`] names and
//! controls) → preconditions checked on the target root ([`precondition`]) → concrete
//! policies with real selectors and paths that exist there ([`recommend`]) → tables,
//! files and the coverage report ([`report`]). Talking to the agent stays in `cmd`.

pub mod catalog;
pub mod fetch;
pub mod frameworks;
pub mod import;
pub mod precondition;
pub mod recommend;
pub mod report;

pub use catalog::{Catalog, Category, Scope, Template};

/// What can go wrong in `harden`, for the command line to turn into a message and an exit
/// status (usage errors are 2, the rest 1).
#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    #[error("unknown framework '{given}'{}; known: {known}", did_you_mean(.suggestion))]
    UnknownFramework {
        given: String,
        suggestion: Option<String>,
        known: String,
    },
    #[error("unknown category '{given}'{}; known: {known}", did_you_mean(.suggestion))]
    UnknownCategory {
        given: String,
        suggestion: Option<String>,
        known: String,
    },
    #[error("no template '{given}'{}; `knoxctl harden list` shows them all", did_you_mean(.suggestion))]
    UnknownTemplate {
        given: String,
        suggestion: Option<String>,
    },
    #[error("no template maps control '{control}'{}", .framework.as_ref().map(|f| format!(" of {f}")).unwrap_or_default())]
    UnknownControl {
        control: String,
        framework: Option<String>,
    },
    #[error("built-in template file {file}: {reason}")]
    Catalog { file: String, reason: String },
    #[error("{path}: {reason}")]
    Import { path: String, reason: String },
}

impl HardenError {
    /// Whether the user typed something wrong (exit status 2) rather than something failed.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            HardenError::UnknownFramework { .. }
                | HardenError::UnknownCategory { .. }
                | HardenError::UnknownTemplate { .. }
                | HardenError::UnknownControl { .. }
        )
    }
}

fn did_you_mean(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default()
}
