//! Measuring through the node agent: when this user cannot read the RAPL counters but an
//! `ecotrace agent` (running as root) answers on its Unix socket, the CPU and RAM energy of the
//! run's process tree come from the agent's counters instead of the local models.
//!
//! The socket is `ECOTRACE_AGENT_SOCKET` (`none` turns this off), else
//! `/run/ecotrace/agent.sock`. [`AgentLink::connect`] asks the agent which devices it measures. In
//! process scope, [`AgentLink::register`] (at [`crate::Run::start`]) names the process tree and
//! the [`AgentSensor`]s then read the tree's cumulative energy each interval; in machine scope
//! ([`AgentLink::connect_node`]) they read the whole node's counters. The messages are those of
//! `ecotrace-agent-protocol`: a run links none of the agent's own code. Without an agent nothing
//! changes. Must not spawn processes or print.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecotrace_agent_protocol::{DeviceDesc, Request, Response, DEFAULT_SOCKET};
use ecotrace_core::{ComponentKind, Energy, Method};
use ecotrace_sensors::{Sensor, SensorError, Tick};

/// The agent's socket, if one is configured and exists: `ECOTRACE_AGENT_SOCKET`, else the default
/// — except when `ECOTRACE_SYSFS_ROOT` points at another sysfs (a test's fake machine), where only
/// an explicitly named socket is used, so a real agent on the machine cannot change a test.
pub fn socket_path() -> Option<PathBuf> {
    let p = match std::env::var("ECOTRACE_AGENT_SOCKET") {
        Ok(v) if v.trim().eq_ignore_ascii_case("none") => return None,
        Ok(v) if !v.trim().is_empty() => PathBuf::from(v.trim()),
        _ if std::env::var_os("ECOTRACE_SYSFS_ROOT").is_some_and(|v| !v.is_empty()) => return None,
        _ => PathBuf::from(DEFAULT_SOCKET),
    };
    p.exists().then_some(p)
}

struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

/// A connection to the agent, shared by the CPU and RAM sensors of one run.
pub struct AgentLink {
    conn: Mutex<Conn>,
    path: PathBuf,
    devices: Vec<DeviceDesc>,
    node: String,
    registered: Mutex<bool>,
    /// Machine scope: the sensors read the node's counters (`node`), not a registered tree.
    node_scope: bool,
    /// The totals the sensors count from, per device: the node's at connection in machine scope,
    /// zero for a registered tree.
    baseline: Vec<f64>,
}

impl std::fmt::Debug for AgentLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentLink")
            .field("path", &self.path)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl AgentLink {
    /// Connects and asks which devices the agent measures. An error means: measure locally.
    pub fn connect(path: &Path) -> Result<Arc<AgentLink>, String> {
        let s = UnixStream::connect(path)
            .map_err(|e| format!("cannot connect to {}: {e}", path.display()))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .and_then(|()| s.set_write_timeout(Some(Duration::from_secs(5))))
            .map_err(|e| e.to_string())?;
        let writer = s.try_clone().map_err(|e| e.to_string())?;
        let link = AgentLink {
            conn: Mutex::new(Conn {
                reader: BufReader::new(s),
                writer,
            }),
            path: path.to_path_buf(),
            devices: Vec::new(),
            node: String::new(),
            registered: Mutex::new(false),
            node_scope: false,
            baseline: Vec::new(),
        };
        let hello = link.ask(&Request::Hello)?;
        Ok(Arc::new(AgentLink {
            devices: hello.devices,
            node: hello.node,
            ..link
        }))
    }

    /// [`AgentLink::connect`] for a machine-scope run: the sensors read the whole node's energy
    /// (no process tree is registered).
    pub fn connect_node(path: &Path) -> Result<Arc<AgentLink>, String> {
        let link = Self::connect(path)?;
        let mut link = Arc::try_unwrap(link).map_err(|_| "the link is shared".to_string())?;
        link.node_scope = true;
        // Count from now: the node's energy before the run is not the run's.
        link.baseline = link.totals()?;
        Ok(Arc::new(link))
    }

    /// Whether this link reads the whole node (machine scope).
    pub fn is_node_scope(&self) -> bool {
        self.node_scope
    }

    fn ask(&self, req: &Request) -> Result<Response, String> {
        let mut c = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        c.writer
            .write_all(&ecotrace_agent_protocol::to_line(req))
            .map_err(|e| format!("the agent at {} went away: {e}", self.path.display()))?;
        let mut answer = String::new();
        c.reader
            .read_line(&mut answer)
            .map_err(|e| format!("the agent at {} did not answer: {e}", self.path.display()))?;
        let r: Response = serde_json::from_str(&answer).map_err(|e| {
            format!(
                "the agent at {} answered something else: {e}",
                self.path.display()
            )
        })?;
        if !r.ok {
            return Err(r.error.unwrap_or_else(|| "the agent refused".into()));
        }
        Ok(r)
    }

    /// Starts charging the process tree of `pid` to run `run`.
    pub fn register(
        &self,
        run: &str,
        pid: u32,
        include_root: bool,
        project: &str,
    ) -> Result<(), String> {
        self.ask(&Request::Register {
            run: run.to_string(),
            pid,
            include_root,
            project: Some(project.to_string()),
        })?;
        *self.registered.lock().unwrap_or_else(|e| e.into_inner()) = true;
        Ok(())
    }

    /// Whether the sensors have something to read: a registered tree, or the node.
    fn is_registered(&self) -> bool {
        self.node_scope || *self.registered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run's (or, in machine scope, the node's) cumulative energy per device, in joules.
    fn totals(&self) -> Result<Vec<f64>, String> {
        let req = if self.node_scope {
            Request::Node
        } else {
            Request::Read
        };
        let r = self.ask(&req)?;
        Ok(r.energy.iter().map(|e| e.total_j()).collect())
    }

    /// The node the agent measures.
    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the agent measures `component` with counters (not a model): then it is worth
    /// using instead of a local model.
    pub fn measures(&self, component: ComponentKind) -> bool {
        self.devices
            .iter()
            .any(|d| d.component == component && d.method == Method::Rapl)
    }

    /// The sensors for `component` reading through this link, if the agent has such devices.
    pub fn sensor(self: &Arc<Self>, component: ComponentKind) -> Option<AgentSensor> {
        let idx: Vec<usize> = self
            .devices
            .iter()
            .enumerate()
            .filter(|(_, d)| d.component == component)
            .map(|(i, _)| i)
            .collect();
        if idx.is_empty() {
            return None;
        }
        let names = idx
            .iter()
            .map(|&i| self.devices[i].device.clone())
            .collect();
        let methods = idx
            .iter()
            .map(|&i| match self.devices[i].method {
                Method::Rapl => Method::AgentRapl,
                m => m,
            })
            .collect();
        Some(AgentSensor {
            link: Arc::clone(self),
            component,
            prev: idx
                .iter()
                .map(|&i| self.baseline.get(i).copied().unwrap_or(0.0))
                .collect(),
            idx,
            names,
            methods,
        })
    }
}

/// One component's devices, read through the agent.
pub struct AgentSensor {
    link: Arc<AgentLink>,
    component: ComponentKind,
    idx: Vec<usize>,
    names: Vec<String>,
    methods: Vec<Method>,
    /// Cumulative joules at the last read, per device.
    prev: Vec<f64>,
}

impl Sensor for AgentSensor {
    fn component(&self) -> ComponentKind {
        self.component
    }

    fn method(&self, device: usize) -> Method {
        self.methods[device]
    }

    fn devices(&self) -> &[String] {
        &self.names
    }

    fn read(&mut self, _tick: &Tick<'_>, out: &mut [Energy]) -> Result<(), SensorError> {
        out.fill(Energy::ZERO);
        if !self.link.is_registered() {
            return Ok(());
        }
        let totals = self.link.totals().map_err(|detail| SensorError::Parse {
            path: self.link.path.clone(),
            detail,
        })?;
        for (k, &i) in self.idx.iter().enumerate() {
            let now = totals.get(i).copied().unwrap_or(self.prev[k]);
            let d = (now - self.prev[k]).max(0.0);
            self.prev[k] = self.prev[k].max(now);
            out[k] = Energy::from_joules(d);
        }
        Ok(())
    }

    fn figures(&self, _device: usize) -> std::collections::BTreeMap<String, f64> {
        std::collections::BTreeMap::new()
    }

    fn note(&self, device: usize) -> String {
        let d = &self.link.devices[self.idx[device]];
        let what = if self.link.node_scope {
            "the whole node"
        } else {
            "the process tree's share"
        };
        format!(
            "measured by the ecotrace agent on {} through {} ({}): {what}; agent: {}",
            self.link.node,
            self.link.path.display(),
            d.method,
            d.note
        )
    }
}
