//! Every measurement passed on to several `Metrics`: Prometheus and the status page each see
//! every event, and neither knows of the other.

use std::sync::Arc;
use std::time::Duration;

use crate::ports::Metrics;
use crate::ports::metrics::{
    BadPacket, ConnectionRefusal, ForwardOutcome, ForwardStatus, RequestOutcome,
};

pub struct MetricsFanOut(pub Vec<Arc<dyn Metrics>>);

impl Metrics for MetricsFanOut {
    fn request(&self, outcome: RequestOutcome, took: Duration) {
        self.0.iter().for_each(|metrics| metrics.request(outcome, took));
    }

    fn forward(
        &self,
        forwarder: &str,
        outcome: ForwardOutcome,
        status: ForwardStatus,
        took: Option<Duration>,
    ) {
        self.0.iter().for_each(|metrics| metrics.forward(forwarder, outcome, status, took));
    }

    fn forwarder_peers(&self, forwarder: &str, peers: usize) {
        self.0.iter().for_each(|metrics| metrics.forwarder_peers(forwarder, peers));
    }

    fn upstream_peers_merged(&self, peers: usize) {
        self.0.iter().for_each(|metrics| metrics.upstream_peers_merged(peers));
    }

    fn peers_expired(&self, peers: usize) {
        self.0.iter().for_each(|metrics| metrics.peers_expired(peers));
    }

    fn connection_opened(&self) {
        self.0.iter().for_each(|metrics| metrics.connection_opened());
    }

    fn connection_closed(&self) {
        self.0.iter().for_each(|metrics| metrics.connection_closed());
    }

    fn connection_refused(&self, why: ConnectionRefusal) {
        self.0.iter().for_each(|metrics| metrics.connection_refused(why));
    }

    fn bad_packet(&self, why: BadPacket) {
        self.0.iter().for_each(|metrics| metrics.bad_packet(why));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::metrics::MockMetrics;

    #[test]
    fn each_metrics_sees_every_event() {
        let one = || {
            let mut metrics = MockMetrics::new();
            metrics.expect_peers_expired().withf(|peers| *peers == 3).times(1).return_const(());
            metrics.expect_connection_opened().times(2).return_const(());
            metrics
                .expect_forwarder_peers()
                .withf(|name, peers| name == "lan" && *peers == 4)
                .times(1)
                .return_const(());
            Arc::new(metrics) as Arc<dyn Metrics>
        };
        let fan_out = MetricsFanOut(vec![one(), one()]);
        fan_out.peers_expired(3);
        fan_out.connection_opened();
        fan_out.connection_opened();
        fan_out.forwarder_peers("lan", 4);
    }
}
