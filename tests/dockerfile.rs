//! The Dockerfile's builder stage, run here from exactly the files its COPY lines bring in.
//!
//! Cargo reads every target and workspace member the manifest names before it builds one
//! package, so a file the stage leaves out stops the image's build (it once did: the benches).
//! The COPY lines are read from the Dockerfile itself, so the two cannot drift. Only the base
//! image cannot be had here (nothing is pulled): this machine's toolchain stands in for it,
//! and the packages its setup installs are checked against what the build uses. Skipped,
//! loudly, where the musl target, musl-gcc or setcap is missing, unless
//! RETRACKER_REQUIRE_CONTAINER=1.

mod image;

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{Stage, can_run, missing_program, repo, stages};

fn builder() -> Stage {
    let stage = stages().into_iter().next().unwrap();
    assert!(stage.name.is_some(), "the builder stage is named, for COPY --from and podman");
    stage
}

/// The builder's RUN lines: the first sets up the base image, the rest build from the copies.
fn setup_and_build(stage: &Stage) -> (String, Vec<String>) {
    let first_copy = stage.instructions.iter().position(|i| i.keyword == "COPY").unwrap();
    let (before, after) = stage.instructions.split_at(first_copy);
    let setup: Vec<&str> =
        before.iter().filter(|i| i.keyword == "RUN").map(|i| i.args.as_str()).collect();
    let build = after.iter().filter(|i| i.keyword == "RUN").map(|i| i.args.clone()).collect();
    (setup.join(" && "), build)
}

/// `(source, destination)` of the final stages' `COPY --from=<builder>`.
fn copied_from(builder: &str) -> Vec<(String, String)> {
    let flag = format!("--from={builder} ");
    stages()
        .iter()
        .skip(1)
        .flat_map(|stage| stage.all("COPY").map(str::to_string).collect::<Vec<_>>())
        .filter_map(|args| args.strip_prefix(&flag).map(str::to_string))
        .map(|rest| {
            let (source, destination) = rest.split_once(' ').unwrap();
            (source.to_string(), destination.trim().to_string())
        })
        .collect()
}

#[test]
fn the_builder_stage_sets_up_what_its_build_uses() {
    let stage = builder();
    let (setup, build) = setup_and_build(&stage);
    let build = build.join(" && ");
    let target = build.split("--target ").nth(1).unwrap().split_whitespace().next().unwrap();
    assert!(setup.contains(&format!("rustup target add {target}")), "{setup}");
    assert!(build.contains("--locked"), "the image builds what Cargo.lock pins");
    assert!(build.contains("-p retracker"), "the image builds the tracker, not the load tool");
    // jemalloc's C code is compiled for musl with musl-gcc.
    assert!(!target.contains("musl") || setup.contains("musl-tools"), "{setup}");
    assert!(!build.contains("setcap") || setup.contains("libcap2-bin"), "{setup}");
    let needs_ca = copied_from(stage.name.as_deref().unwrap())
        .iter()
        .any(|(source, _)| source.starts_with("/etc/ssl/certs/"));
    assert!(!needs_ca || setup.contains("ca-certificates"), "{setup}");
}

#[test]
fn the_builder_stage_builds_from_exactly_what_it_copies() {
    let target = "x86_64-unknown-linux-musl";
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().unwrap();
    let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout).unwrap().trim());
    let missing = missing_program(&["musl-gcc", "setcap", "getcap"])
        .or_else(|| {
            let installed = sysroot.join("lib/rustlib").join(target).exists();
            (!installed).then(|| format!("rustup target add {target} was not run"))
        })
        // SAFETY: geteuid only reads the process's user id.
        .or_else(|| (unsafe { libc::geteuid() } != 0).then(|| "setcap needs root".to_string()));
    if !can_run(missing) {
        return;
    }

    let stage = builder();
    let workdir = stage.only("WORKDIR").to_string();
    let context = tempfile::tempdir().unwrap();
    let work = context.path().join(workdir.trim_start_matches('/'));
    std::fs::create_dir_all(&work).unwrap();
    let ignored = dockerignore();
    for copy in stage.all("COPY") {
        assert!(!copy.starts_with("--"), "COPY flags are not read here: {copy}");
        let words: Vec<&str> = copy.split_whitespace().collect();
        let (destination, sources) = words.split_last().unwrap();
        for source in sources {
            assert!(!ignored.iter().any(|i| i == source), "{source} is in .dockerignore");
            place(&repo().join(source), &work, destination, sources.len() > 1);
        }
    }
    // The build's output goes to this test's target directory, by a link in place of the
    // stage's own `target`: the dependencies CI built a moment ago are reused, not rebuilt.
    std::os::unix::fs::symlink(image::target_dir(), work.join("target")).unwrap();

    let (_, build) = setup_and_build(&stage);
    for run in build {
        let output = Command::new("/bin/sh")
            .args(["-c", &run])
            .current_dir(&work)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "RUN {run}\nfailed in a directory of only what the stage copies:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // What the final stage takes from this one is there: the build's output in the stage's
    // directory, the rest (the CA file) from the base image's packages, here this machine's.
    let mut binary = None;
    for (source, _) in copied_from(stage.name.as_deref().unwrap()) {
        let path = match source.strip_prefix(&format!("{workdir}/")) {
            Some(inside) => work.join(inside),
            None => PathBuf::from(&source),
        };
        assert!(path.exists(), "the final stage copies {source}, which the stage lacks");
        if source.ends_with("/retracker") {
            binary = Some(path);
        }
    }
    let binary = binary.expect("the final stage copies the tracker");
    assert!(!asks_for_an_interpreter(&binary), "{} is not a static binary", binary.display());
    let caps = Command::new("getcap").arg(&binary).output().unwrap();
    let caps = String::from_utf8(caps.stdout).unwrap();
    assert!(caps.contains("cap_net_bind_service"), "no file capability: {caps:?}");
}

/// Copies `source` as `COPY source destination` does: a directory's contents into the
/// destination, a file into it when it ends in `/` (or there are several sources).
fn place(source: &Path, work: &Path, destination: &str, several: bool) {
    let into = work.join(destination);
    if source.is_dir() {
        copy_dir(source, &into);
    } else if destination.ends_with('/') || several {
        std::fs::create_dir_all(&into).unwrap();
        std::fs::copy(source, into.join(source.file_name().unwrap())).unwrap();
    } else {
        std::fs::create_dir_all(into.parent().unwrap()).unwrap();
        std::fs::copy(source, into).unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// The top-level names .dockerignore keeps out of the build context.
fn dockerignore() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join(".dockerignore")).unwrap_or_default();
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.trim_matches('/').to_string())
        .collect();
    assert!(
        names.iter().all(|name| !name.contains(['*', '?', '!', '/'])),
        "only plain top-level names in .dockerignore are read here: {names:?}"
    );
    names
}

/// Whether the ELF file has a PT_INTERP program header (a dynamic loader to start it).
fn asks_for_an_interpreter(path: &Path) -> bool {
    const PT_INTERP: u32 = 3;
    let elf = std::fs::read(path).unwrap();
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()) as usize;
    let program_headers = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let at = program_headers + i * size;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == PT_INTERP
    })
}
