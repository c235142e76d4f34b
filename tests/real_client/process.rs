//! A started process, killed by its own id when its guard is dropped.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Process {
    name: &'static str,
    pub child: Child,
}

impl Process {
    /// Starts `command` with no input and no output, its standard error going to `stderr`.
    pub fn spawn(name: &'static str, command: &mut Command, stderr: Stdio) -> Self {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {name}: {e}"));
        Self { name, child }
    }

    /// Waits for the process to exit; the caller's time limit bounds the wait.
    pub async fn wait(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                eprintln!("the {} exited after {:?}", self.name, started.elapsed());
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Child::kill signals this child's own pid; a no-op error if it already exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
