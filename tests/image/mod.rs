//! Shared by the container tests: the Dockerfile read as stages of instructions, and the rule
//! for a missing tool (skip loudly, or fail where RETRACKER_REQUIRE_CONTAINER=1 says CI has it).

#![allow(dead_code)] // each test file uses its own share of these

use std::io::Write;
use std::path::{Path, PathBuf};

pub const REQUIRE: &str = "RETRACKER_REQUIRE_CONTAINER";

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the test must run: when it cannot, it panics under RETRACKER_REQUIRE_CONTAINER=1
/// and otherwise says so on stderr (libtest hides eprintln! of a passing test) and skips.
pub fn can_run(missing: Option<String>) -> bool {
    let Some(missing) = missing else { return true };
    let required = std::env::var(REQUIRE).is_ok_and(|value| value == "1");
    assert!(!required, "{REQUIRE}=1, but {missing}");
    let _ = writeln!(std::io::stderr(), "\n*** container test skipped: {missing} ***\n");
    false
}

/// The first program of `names` not found on PATH, if any.
pub fn missing_program(names: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names
        .iter()
        .find(|name| !std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
        .map(|name| format!("{name} is not installed"))
}

/// One instruction: its keyword in upper case and the rest of its (joined) lines.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
}

#[derive(Debug)]
pub struct Stage {
    pub base: String,
    pub name: Option<String>,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    pub fn all(&self, keyword: &str) -> impl Iterator<Item = &str> {
        self.instructions.iter().filter(move |i| i.keyword == keyword).map(|i| i.args.as_str())
    }

    pub fn only(&self, keyword: &str) -> &str {
        let found: Vec<&str> = self.all(keyword).collect();
        assert_eq!(found.len(), 1, "one {keyword} expected in stage {:?}", self.name);
        found[0]
    }
}

/// The Dockerfile's stages, continuation lines joined and comments left out.
pub fn stages() -> Vec<Stage> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let mut stages: Vec<Stage> = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start);
            continue;
        }
        pending.push_str(line);
        let (keyword, args) = pending.split_once(' ').unwrap_or((&pending, ""));
        let instruction =
            Instruction { keyword: keyword.to_uppercase(), args: args.trim().to_string() };
        pending.clear();
        if instruction.keyword == "FROM" {
            let words: Vec<&str> = instruction.args.split_whitespace().collect();
            let name = match words.as_slice() {
                [_] => None,
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
                _ => panic!("cannot read FROM {}", instruction.args),
            };
            stages.push(Stage { base: words[0].to_string(), name, instructions: Vec::new() });
        } else {
            stages.last_mut().expect("FROM first").instructions.push(instruction);
        }
    }
    stages
}

/// The target directory this test binary was built in (it holds CARGO_TARGET_TMPDIR).
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf()
}
