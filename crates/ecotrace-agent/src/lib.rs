//! ecotrace-agent: the node agent (`ecotrace agent`). One per node, it measures the whole machine
//! continuously with the same sensors as `ecotrace run`, attributes the energy to what runs there
//! (cgroups: SLURM jobs, Kubernetes pods, containers, services, user sessions; and process trees
//! registered by unprivileged `ecotrace run` through its Unix socket), keeps idle power apart from
//! the active share, and serves it all as Prometheus metrics.
//!
//! Every file it reads goes through [`ecotrace_sensors::Roots`] (`/sys`, `/sys/fs/cgroup`,
//! `/proc`), so tests run it on fake trees. It must not write to the ledger or anywhere but its
//! own socket, and listens on loopback unless told otherwise.

pub mod account;
pub mod agent;
pub mod cgroups;
pub mod exposition;
pub mod http;
pub mod serving;
pub mod socket;

pub use agent::{run, Agent, AgentConfig, AgentError, GpuBackends, Stop, DEFAULT_LISTEN};
pub use socket::{DeviceDesc, DeviceEnergy, Request, Response, DEFAULT_SOCKET};
