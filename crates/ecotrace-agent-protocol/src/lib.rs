//! ecotrace-agent-protocol: what the node agent (`ecotrace agent`) and its clients (an
//! unprivileged `ecotrace run`, the Python tracker) say to each other on the agent's Unix socket.
//!
//! One JSON object per line each way: the client sends a [`Request`], the agent answers with a
//! [`Response`]. A client may ask `hello` (the devices the agent measures), `node` (the node's
//! energy so far, for machine-scope runs), or register one process tree as a run, then `read` its
//! energy whenever it wants and `end` it. Devices name their component and method with the core's
//! types ([`ComponentKind`], [`Method`]), spelled on the wire as in run records (`"cpu"`,
//! `"rapl"`).
//!
//! This crate only defines the messages: it must not open sockets, read files or measure anything,
//! so that a client links none of the agent's HTTP, cgroup or Prometheus code.

use ecotrace_core::{ComponentKind, Method};
use serde::{Deserialize, Serialize};

/// The default socket path; `--socket PATH` and `ECOTRACE_AGENT_SOCKET` change it on both sides.
pub const DEFAULT_SOCKET: &str = "/run/ecotrace/agent.sock";

/// Longest request line the agent accepts, newline included.
pub const MAX_LINE: usize = 4096;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// The devices the agent measures (in the order of every later `energy`), without registering.
    Hello,
    /// The whole node's energy so far per device (machine scope), without registering.
    Node,
    /// Start charging the process tree of `pid` (its descendants; `pid` itself too with
    /// `include_root`) to the run `run`.
    Register {
        run: String,
        pid: u32,
        #[serde(default)]
        include_root: bool,
        #[serde(default)]
        project: Option<String>,
    },
    /// The run's energy so far.
    Read,
    /// The run's energy so far; then stop charging it.
    End,
}

/// One device as the agent measures it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceDesc {
    pub component: ComponentKind,
    pub device: String,
    pub method: Method,
    pub note: String,
}

/// Energy of one device so far, in joules (active and idle shares).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeviceEnergy {
    pub active_j: f64,
    pub idle_j: f64,
}

impl DeviceEnergy {
    /// Active and idle together.
    pub fn total_j(&self) -> f64 {
        self.active_j + self.idle_j
    }
}

/// What the agent answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// On hello and register: the devices, in the order of every later `energy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceDesc>,
    /// On read/end/node: per device, in the order of `devices`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub energy: Vec<DeviceEnergy>,
    /// The agent's sampling interval, seconds.
    #[serde(default)]
    pub interval_s: f64,
    /// The node the agent measures.
    #[serde(default)]
    pub node: String,
}

impl Response {
    /// A refusal saying why.
    pub fn err(msg: impl Into<String>) -> Self {
        Response {
            ok: false,
            error: Some(msg.into()),
            devices: Vec::new(),
            energy: Vec::new(),
            interval_s: 0.0,
            node: String::new(),
        }
    }
}

/// `msg` as one line of the protocol (JSON and a newline).
pub fn to_line<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(msg).unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_devices_read_as_json_lines() {
        let r: Request =
            serde_json::from_str(r#"{"op":"register","run":"abc-1","pid":42}"#).unwrap();
        assert_eq!(
            r,
            Request::Register {
                run: "abc-1".into(),
                pid: 42,
                include_root: false,
                project: None
            }
        );
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"op":"node"}"#).unwrap(),
            Request::Node
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"drop tables"}"#).is_err());
        let d: DeviceDesc = serde_json::from_str(
            r#"{"component":"cpu","device":"package-0","method":"rapl","note":"n"}"#,
        )
        .unwrap();
        assert_eq!((d.component, d.method), (ComponentKind::Cpu, Method::Rapl));
        // An unknown component is an error, not a string passed along.
        assert!(serde_json::from_str::<DeviceDesc>(
            r#"{"component":"tpu","device":"x","method":"rapl","note":""}"#
        )
        .is_err());
        let line = to_line(&Request::Read);
        assert_eq!(line, b"{\"op\":\"read\"}\n");
    }
}
