//! The tracker's log lines, the scrapes and the clients' log files, shown when a test fails.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Lines from the end of each file shown: the tail is where a failure shows, and a whole
/// libtorrent alert log runs to hundreds of lines.
const TAIL_LINES: usize = 80;

#[derive(Default)]
pub struct Logs {
    pub lines: Arc<Mutex<Vec<String>>>,
    files: Mutex<Vec<(String, PathBuf)>>,
}

impl Logs {
    pub fn note(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    /// Adds a file, written by some process, to the report.
    pub fn file(&self, name: String, path: PathBuf) {
        self.files.lock().unwrap().push((name, path));
    }

    pub fn report(&self) -> String {
        let mut report = String::from("--- tracker (-d) and scrapes ---\n");
        for line in self.lines.lock().unwrap().iter() {
            report.push_str(line);
            report.push('\n');
        }
        for (name, path) in self.files.lock().unwrap().iter() {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(TAIL_LINES).collect();
            report.push_str(&format!("--- {name}: last lines of {} ---\n", path.display()));
            for line in tail.into_iter().rev() {
                report.push_str(line);
                report.push('\n');
            }
        }
        report
    }
}
