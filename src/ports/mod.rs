//! What the core needs from the world, and what the world may ask of it: one trait per need.

pub mod clock;
pub mod metrics;
pub mod peer_repository;
pub mod status;
pub mod tracker_service;
pub mod upstream;

pub use clock::Clock;
pub use metrics::{Metrics, MetricsReport};
pub use peer_repository::{
    PeerRepository, PlanUpstream, StoreTotals, SweepPart, SweepReport, UpdateUpstream,
};
pub use status::StatusReport;
pub use tracker_service::TrackerService;
pub use upstream::{UpstreamAnswer, UpstreamError, UpstreamTracker};
