//! The open file limit: raised at start to the most this process may have, and checked
//! against what the settings can need, since every connection is a file descriptor, and so is
//! every request to an upstream tracker that a client waits on.

/// File descriptors the tracker needs besides connections and forwards: the listener, the
/// runtime's, the log's, the name resolver's.
const DESCRIPTORS_BESIDES_CONNECTIONS: u64 = 64;

/// The soft limit on open files after [`raise_to_hard_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimit {
    /// `None`: unlimited.
    pub soft: Option<u64>,
    /// The soft limit before, if it was raised.
    pub raised_from: Option<u64>,
}

/// File descriptors the tracker can hold at once: one per connection, one more per connection
/// for each forwarder (a client waiting on every forwarder keeps a socket open to each), and
/// a few dozen besides.
pub fn descriptors_needed(max_connections: usize, forwarders: usize) -> u64 {
    let per_connection = 1 + forwarders as u64;
    (max_connections as u64)
        .saturating_mul(per_connection)
        .saturating_add(DESCRIPTORS_BESIDES_CONNECTIONS)
}

/// Raises the soft limit on open files to the hard limit, as Go programs do since Go 1.19.
/// The usual soft limit, 1024, suits programs that use `select(2)`, which fails on higher
/// descriptors; nothing here does, and the hard limit is what the administrator allows.
#[cfg(unix)]
pub fn raise_to_hard_limit() -> std::io::Result<FileLimit> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own and pass by a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur >= limit.rlim_max {
        return Ok(FileLimit { soft: finite(limit.rlim_cur), raised_from: None });
    }
    let before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: setrlimit reads the struct we own, passed by a valid pointer.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(FileLimit { soft: finite(limit.rlim_cur), raised_from: finite(before) })
}

#[cfg(not(unix))]
pub fn raise_to_hard_limit() -> std::io::Result<FileLimit> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "no open file limit here"))
}

#[cfg(unix)]
fn finite(limit: libc::rlim_t) -> Option<u64> {
    (limit != libc::RLIM_INFINITY).then_some(limit)
}

/// Raises the limit as [`raise_to_hard_limit`] does, and logs what came of it; the soft
/// limit in force after, if it could be read.
pub fn raise_and_log() -> Option<FileLimit> {
    match raise_to_hard_limit() {
        Ok(limit) => {
            if let (Some(from), Some(to)) = (limit.raised_from, limit.soft) {
                tracing::info!(from, to, "raised the open file limit to its hard limit");
            }
            Some(limit)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the open file limit");
            None
        }
    }
}

/// Warns when `limit` is below `needed`: past it, accepts fail instead of queueing.
pub fn warn_if_below(limit: FileLimit, needed: u64) {
    if let Some(limit) = limit.soft.filter(|limit| *limit < needed) {
        tracing::warn!(
            open_file_limit = limit,
            needed,
            "the open file limit is below what MAX_CONNECTIONS can need (a descriptor per \
             connection, and one more per forwarder while a client waits); raise the hard \
             limit to at least {needed} (systemd: LimitNOFILE=, shell: ulimit -Hn as root) \
             or lower MAX_CONNECTIONS"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_needs_a_descriptor_per_connection_for_each_forwarder() {
        assert_eq!(descriptors_needed(10_000, 0), 10_064);
        assert_eq!(descriptors_needed(10_000, 1), 20_064);
        assert_eq!(descriptors_needed(10_000, 3), 40_064);
        assert_eq!(descriptors_needed(usize::MAX, 2), u64::MAX);
    }
}
