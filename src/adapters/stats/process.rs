//! The process's resident memory, read from /proc (Linux only; none elsewhere).

/// Bytes of memory the process holds in RAM now.
pub fn resident_bytes() -> Option<u64> {
    // statm: sizes in pages; the second field is the resident set.
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system and touches no memory of ours.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size).ok()?)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn a_running_process_holds_some_memory() {
        let bytes = super::resident_bytes().expect("/proc/self/statm is readable on Linux");
        assert!(bytes > 1024 * 1024, "{bytes} bytes resident");
    }
}
