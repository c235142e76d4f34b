//! Lets a non-root tracker bind a port below 1024 (the image's `:80`) where the binary carries
//! CAP_NET_BIND_SERVICE as a permitted-only file capability (`setcap cap_net_bind_service=+p`).
//!
//! Podman and Kubernetes, unlike Docker, keep ports below 1024 for root, so the image's binary
//! needs the capability. With the effective bit (`=+ep`) the kernel refuses to start it at all
//! where the capability is outside the bounding set (`docker run --cap-drop ALL`, which needs
//! none to bind :80); permitted only, the binary starts everywhere and raises it here.

/// `CAP_NET_BIND_SERVICE` from `linux/capability.h`.
const CAP_NET_BIND_SERVICE: u32 = 10;
/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, as two 32-bit halves.
const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Sets {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Makes CAP_NET_BIND_SERVICE effective when it is permitted but not yet effective; returns
/// whether it did. Capabilities belong to a thread and are inherited by the threads it starts,
/// so call this before starting any.
pub fn raise_bind_service() -> bool {
    let bit = 1 << CAP_NET_BIND_SERVICE;
    let mut header = Header { version: VERSION_3, pid: 0 };
    let mut sets = [Sets::default(); 2];
    // SAFETY: capget writes two `Sets` (version 3) through a pointer to an array of two.
    let read = unsafe { libc::syscall(libc::SYS_capget, &mut header, sets.as_mut_ptr()) };
    if read != 0 || sets[0].permitted & bit == 0 || sets[0].effective & bit != 0 {
        return false;
    }
    sets[0].effective |= bit;
    // SAFETY: capset reads the header and two `Sets`, which outlive the call.
    let written = unsafe { libc::syscall(libc::SYS_capset, &mut header, sets.as_ptr()) };
    written == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effective_has_it() -> bool {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim();
        u64::from_str_radix(hex, 16).unwrap() & (1 << CAP_NET_BIND_SERVICE) != 0
    }

    /// On a thread of its own (capabilities are per thread): made permitted-only, as the file
    /// capability leaves it after exec, it is raised once, then left alone.
    #[test]
    fn raises_the_capability_from_permitted_to_effective() {
        std::thread::spawn(|| {
            let bit = 1 << CAP_NET_BIND_SERVICE;
            let mut header = Header { version: VERSION_3, pid: 0 };
            let mut sets = [Sets::default(); 2];
            // SAFETY: as in raise_bind_service.
            unsafe { libc::syscall(libc::SYS_capget, &mut header, sets.as_mut_ptr()) };
            if sets[0].permitted & bit == 0 {
                eprintln!("skipped: this test needs CAP_NET_BIND_SERVICE permitted (root)");
                return;
            }
            sets[0].effective &= !bit;
            // SAFETY: as in raise_bind_service.
            let cleared = unsafe { libc::syscall(libc::SYS_capset, &mut header, sets.as_ptr()) };
            assert_eq!(cleared, 0);
            assert!(!effective_has_it());
            assert!(raise_bind_service());
            assert!(effective_has_it());
            assert!(!raise_bind_service(), "already effective: nothing to do");
        })
        .join()
        .unwrap();
    }
}
