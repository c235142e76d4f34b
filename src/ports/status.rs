//! The status page port: what a front end serves at `/stats` and `/stats.json`, rendered by
//! whoever keeps the figures.

/// A status report, rendered on demand.
pub trait StatusReport: Send + Sync {
    /// The page for people: one self-contained HTML document.
    fn html(&self) -> String;

    /// The same figures for scripts, as JSON (docs/stats.md).
    fn json(&self) -> String;
}
