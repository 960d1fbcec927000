//! The real `imagestreams serve` binary on a free loopback port with its own data directory,
//! for tests that drive it with real clients (skopeo, podman, the CLI). Stopped when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_imagestreams");

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
        let host = format!("127.0.0.1:{}", super::registry::free_port());
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", &host, "--data-dir"]).arg(&data_dir).args(args).env("RUST_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
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
