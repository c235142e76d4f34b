//! Lets a non-root tracker bind a port below 1024 (the image's `:80`) where the binary carries
//! CAP_NET_BIND_SERVICE as a permitted-only file capability (`setcap cap_net_bind_service=+p`).
//!
//! Podman and Kubernetes, unlike Docker, keep ports below 1024 for root, so the image's binary
//! needs the capability. With the effective bit (`=+ep`) the kernel refuses to start it at all
//! where the capability is outside the bounding set (`docker run --cap-drop ALL`, which needs
//! none to bind :80); permitted only, the binary starts everywhere and raises it here.

use caps::{CapSet, Capability};

/// Makes CAP_NET_BIND_SERVICE effective when it is permitted but not yet effective; returns
/// whether it did. Capabilities belong to a thread and are inherited by the threads it starts,
/// so call this before starting any.
pub fn raise_bind_service() -> bool {
    let bind = Capability::CAP_NET_BIND_SERVICE;
    let permitted = caps::has_cap(None, CapSet::Permitted, bind).unwrap_or(false);
    let effective = caps::has_cap(None, CapSet::Effective, bind).unwrap_or(true);
    permitted && !effective && caps::raise(None, CapSet::Effective, bind).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effective_has_it() -> bool {
        caps::has_cap(None, CapSet::Effective, Capability::CAP_NET_BIND_SERVICE).unwrap()
    }

    /// On a thread of its own (capabilities are per thread): made permitted-only, as the file
    /// capability leaves it after exec, it is raised once, then left alone.
    #[test]
    fn raises_the_capability_from_permitted_to_effective() {
        std::thread::spawn(|| {
            let bind = Capability::CAP_NET_BIND_SERVICE;
            if !caps::has_cap(None, CapSet::Permitted, bind).unwrap() {
                eprintln!("skipped: this test needs CAP_NET_BIND_SERVICE permitted (root)");
                return;
            }
            caps::drop(None, CapSet::Effective, bind).unwrap();
            assert!(!effective_has_it());
            assert!(raise_bind_service());
            assert!(effective_has_it());
            assert!(!raise_bind_service(), "already effective: nothing to do");
        })
        .join()
        .unwrap();
    }
}
