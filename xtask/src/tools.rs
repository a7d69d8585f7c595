//! Installing the pinned tools the build and the tests need, idempotently: each is checked first
//! and skipped quickly when present. Cargo-built tools go into a folder outside the checkout,
//! keyed by version (`~/.cache/ekphrasis/tools/trunk-0.21.14/`), so every clone reuses them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::cmd;
use crate::lint::Lint;

/// Trunk, the wasm app bundler.
const TRUNK_VERSION: &str = "0.21.14";
/// Must equal the `wasm-bindgen` crate version in Cargo.lock (checked below).
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The npm packages (binaryen's wasm-opt, playwright-core) live beside the browser tests.
const NPM_DIR: &str = "tests/browser";

/// What a task needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Building the app.
    Build,
    /// Building the app and running the browser tests.
    Everything,
}

/// The installed tools.
pub struct Tools {
    trunk: PathBuf,
    /// Folders to put first on PATH so Trunk finds the pinned wasm-bindgen and wasm-opt.
    path_dirs: Vec<PathBuf>,
    /// Chromium for the browser tests, when asked for.
    pub chromium: Option<PathBuf>,
}

impl Tools {
    /// Installs whatever is missing.
    pub fn ensure(need: Need) -> anyhow::Result<Self> {
        let dir = tools_dir()?;
        check_wasm_bindgen_pin()?;
        ensure_wasm_target()?;
        let trunk = cargo_install(&dir, "trunk", TRUNK_VERSION, "trunk", true)?;
        let wasm_bindgen = cargo_install(
            &dir,
            "wasm-bindgen-cli",
            WASM_BINDGEN_VERSION,
            "wasm-bindgen",
            // Its lock file pins a dependency the registry here lacks; unlocked it builds.
            false,
        )?;
        let node_modules = ensure_npm_packages(&dir)?;
        let chromium = match need {
            Need::Build => None,
            Need::Everything => Some(ensure_chromium()?),
        };
        Ok(Self {
            trunk,
            path_dirs: vec![
                wasm_bindgen.parent().expect("a bin folder").to_path_buf(),
                node_modules.join(".bin"),
            ],
            chromium,
        })
    }

    /// PATH with the pinned tools first.
    pub fn path_env(&self) -> anyhow::Result<OsString> {
        let current = std::env::var_os("PATH").unwrap_or_default();
        let dirs = self
            .path_dirs
            .iter()
            .cloned()
            .chain(std::env::split_paths(&current));
        Ok(std::env::join_paths(dirs)?)
    }

    /// Builds the web app in release mode into `dist/`.
    pub fn build_app(&self, lint: Option<&Lint>) -> anyhow::Result<()> {
        let root = crate::root();
        // Trunk runs cargo offline: make sure every crate is downloaded first.
        cmd::run(Command::new("cargo").arg("fetch").current_dir(&root))?;
        let mut trunk = Command::new(&self.trunk);
        trunk
            .args(["build", "--release"])
            .current_dir(&root)
            .env("PATH", self.path_env()?)
            .env("TRUNK_OFFLINE", "true");
        if let Some(lint) = lint {
            lint.apply(&mut trunk);
        }
        cmd::run(&mut trunk)
    }
}

/// Where pinned tools live: `$EKPHRASIS_TOOLS_DIR`, else `~/.cache/ekphrasis/tools`.
pub fn tools_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("EKPHRASIS_TOOLS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let cache = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".cache"),
    };
    Ok(cache.join("ekphrasis").join("tools"))
}

/// The crate, the lock file and the CLI must agree, or the wasm build breaks at run time.
fn check_wasm_bindgen_pin() -> anyhow::Result<()> {
    let lock =
        std::fs::read_to_string(crate::root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let entry = format!("name = \"wasm-bindgen\"\nversion = \"{WASM_BINDGEN_VERSION}\"");
    if lock.contains("name = \"wasm-bindgen\"") && !lock.contains(&entry) {
        bail!(
            "Cargo.lock's wasm-bindgen differs from the pinned CLI {WASM_BINDGEN_VERSION}: \
             keep `wasm-bindgen = \"={WASM_BINDGEN_VERSION}\"` in Cargo.toml"
        );
    }
    Ok(())
}

fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = cmd::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("rustup is needed to add the wasm32 target")?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    cmd::run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// `cargo install`s a pinned version into its own folder unless it is already there.
fn cargo_install(
    dir: &Path,
    krate: &str,
    version: &str,
    bin: &str,
    locked: bool,
) -> anyhow::Result<PathBuf> {
    let root = dir.join(format!("{krate}-{version}"));
    let exe = root.join("bin").join(bin);
    if reports_version(&exe, version) {
        return Ok(exe);
    }
    eprintln!(
        "xtask: installing {krate} {version} into {} (once)",
        root.display()
    );
    let mut install = Command::new("cargo");
    install
        .args(["install", krate, "--version", version, "--root"])
        .arg(&root);
    if locked {
        install.arg("--locked");
    }
    cmd::run(&mut install)?;
    if !reports_version(&exe, version) {
        bail!("{} does not report version {version}", exe.display());
    }
    Ok(exe)
}

fn reports_version(exe: &Path, version: &str) -> bool {
    exe.is_file()
        && cmd::output(Command::new(exe).arg("--version")).is_some_and(|v| v.contains(version))
}

/// Installs the npm packages of the committed lock file into a cached folder keyed by the lock
/// file's hash, and links `tests/browser/node_modules` to it. Returns that `node_modules`.
fn ensure_npm_packages(dir: &Path) -> anyhow::Result<PathBuf> {
    let source = crate::root().join(NPM_DIR);
    let manifest = std::fs::read(source.join("package.json")).context("reading package.json")?;
    let lock =
        std::fs::read(source.join("package-lock.json")).context("reading package-lock.json")?;
    let mut hasher = Sha256::new();
    hasher.update(&manifest);
    hasher.update(&lock);
    let key = hex::encode(&hasher.finalize()[..8]);
    let cached = dir.join(format!("npm-{key}"));
    let node_modules = cached.join("node_modules");
    let marker = cached.join(".complete");
    if !marker.is_file() {
        eprintln!(
            "xtask: installing npm packages into {} (once)",
            cached.display()
        );
        if cached.exists() {
            std::fs::remove_dir_all(&cached)?;
        }
        std::fs::create_dir_all(&cached)?;
        std::fs::write(cached.join("package.json"), &manifest)?;
        std::fs::write(cached.join("package-lock.json"), &lock)?;
        cmd::run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
                .current_dir(&cached),
        )?;
        std::fs::write(&marker, b"")?;
    }
    link(&node_modules, &source.join("node_modules"))?;
    Ok(node_modules)
}

fn link(target: &Path, link: &Path) -> anyhow::Result<()> {
    if std::fs::read_link(link).is_ok_and(|current| current == target) {
        return Ok(());
    }
    match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(link)?,
        Ok(_) => std::fs::remove_file(link)?,
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("linking {} to {}", link.display(), target.display()))
}

/// Debian's Chromium, installed with apt when missing.
fn ensure_chromium() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("EKPHRASIS_CHROMIUM") {
        return Ok(PathBuf::from(path));
    }
    let path = PathBuf::from("/usr/bin/chromium");
    if path.is_file() {
        return Ok(path);
    }
    let is_root = cmd::output(Command::new("id").arg("-u")).is_some_and(|id| id.trim() == "0");
    let sudo: &[&str] = if is_root { &[] } else { &["sudo", "-n"] };
    let apt = |args: &[&str]| {
        let all: Vec<&str> = sudo
            .iter()
            .chain(["apt-get"].iter())
            .chain(args)
            .copied()
            .collect();
        let mut command = Command::new(all[0]);
        command
            .args(&all[1..])
            .env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    eprintln!("xtask: installing Debian's chromium for the browser tests (once)");
    cmd::run(&mut apt(&["update", "-qq"]))
        .and_then(|()| cmd::run(&mut apt(&["install", "-y", "-qq", "chromium"])))
        .context("installing chromium needs root (or password-less sudo)")?;
    Ok(path)
}
