//! The real `imagestreams serve` binary on a free loopback port with its own data directory,
//! for tests that drive it with real clients (skopeo, podman, the CLI). Stopped when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_imagestreams");

/// Spawns `cmd`, an `imagestreams serve` without `--listen`, on a loopback port the system
/// picks (`--listen 127.0.0.1:0`), and waits until it accepts requests: the server writes its
/// address to `<dir>/address` then. Returns the child and `127.0.0.1:PORT`.
///
/// Why not pick a free port first and pass it: between the probe releasing the port and the
/// server binding it, a test running alongside can take it (an upstream binding port 0), and
/// the harness then talks to the wrong process (CI saw a "connection refused" from exactly this).
pub fn spawn_serving(cmd: &mut Command, dir: &Path) -> (Child, String) {
    let file = dir.join("address");
    let _ = std::fs::remove_file(&file);
    cmd.args(["--listen", "127.0.0.1:0", "--address-file"]).arg(&file);
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some(host) = text.strip_suffix('\n')
        {
            return (child, host.to_string());
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server stopped before it accepted requests: {status}");
        }
        assert!(Instant::now() < deadline, "the server did not start within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Portal {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub data_dir: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Portal {
    /// Starts `serve` with `args` after the listen address and data directory, and `env`.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Portal {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        Portal::start_with(dir, data_dir, args, env)
    }

    /// `start` on an existing data directory (a restored backup, a restart).
    pub fn start_on(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Portal {
        Portal::start_with(tempfile::tempdir().unwrap(), data_dir.to_path_buf(), args, env)
    }

    fn start_with(dir: tempfile::TempDir, data_dir: PathBuf, args: &[&str], env: &[(&str, &str)]) -> Portal {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--data-dir"]).arg(&data_dir).args(args).env("RUST_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        cmd.stdout(Stdio::null()).stderr(log);
        let (child, host) = spawn_serving(&mut cmd, dir.path());
        Portal { child, url: format!("http://{host}"), host, data_dir, dir }
    }

    /// The server's process id (to read its memory and descriptors under `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (what service managers send to stop it).
    pub fn terminate(&self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM");
    }

    /// Waits up to `limit` for the process to exit; its status, or `None` if it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A scratch directory that lives as long as the portal.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Runs the CLI against this portal with its own config directory `config`.
    pub fn cli(&self, config: &Path, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("IMAGESTREAMS_SERVER", &self.url)
            .env("IMAGESTREAMS_CONFIG", config)
            .env_remove("IMAGESTREAMS_NAMESPACE")
            .env_remove("IMAGESTREAMS_TOKEN")
            .output()
            .unwrap()
    }
}
