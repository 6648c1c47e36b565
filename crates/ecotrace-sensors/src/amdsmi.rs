//! AMD GPUs through AMD SMI (`libamd_smi.so`, ROCm's management library), loaded at run time with
//! `dlopen` like NVML: nothing AMD is needed to build, and no library or no AMD GPU is not an
//! error. `ECOTRACE_AMDSMI_LIBRARY` names the library (`none` disables AMD SMI); by default
//! `libamd_smi.so` is looked for by the dynamic loader, then under `$ROCM_PATH/lib` and
//! `/opt/rocm/lib`.
//!
//! What is read, per GPU (processor handles from `amdsmi_get_socket_handles` then
//! `amdsmi_get_processor_handles`):
//! - energy: `amdsmi_get_energy_count(handle, *u64 counter, *f32 resolution_uJ, *u64 timestamp)`,
//!   counter × resolution µJ (MI200 and newer, most recent Radeons); [`energy_mj`];
//! - power, for GPUs without the counter: the amdgpu driver's own `power1_average` (or
//!   `power1_input`), µW, in the device's hwmon directory under the sysfs root (the same reading
//!   AMD SMI reports, found through `amdsmi_get_gpu_device_bdf`), so it does not depend on the
//!   layout of `amdsmi_power_info_t`, which changed between releases;
//! - processes: `amdsmi_get_gpu_process_list` (the KFD's list of processes with a queue on the
//!   GPU, host PIDs). Its entry struct changed size between releases (process-handle array,
//!   32-byte names, 256-byte names): [`parse_process_list`] accepts the layout whose every entry
//!   is well formed;
//! - name: the ASIC's market name (the first field of `amdsmi_asic_info_t` in every release) and
//!   the UUID (`amdsmi_get_gpu_device_uuid`), as `ROCR_VISIBLE_DEVICES` names it.
//!
//! Read only: nothing here changes a GPU setting.

use std::ffi::{c_char, c_uint, c_void, OsString};
use std::path::{Path, PathBuf};

use crate::gpu::{GpuBackend, GpuVendor};
use crate::Roots;

/// Environment variable naming the AMD SMI library to load; `none` disables AMD SMI.
pub const AMDSMI_ENV: &str = "ECOTRACE_AMDSMI_LIBRARY";

const AMDSMI_INIT_AMD_GPUS: u64 = 1 << 1;
const AMDSMI_STATUS_SUCCESS: u32 = 0;
/// `AMDSMI_STATUS_OUT_OF_RESOURCES`: the list was larger than the buffer (the buffer is filled).
const AMDSMI_STATUS_OUT_OF_RESOURCES: u32 = 15;

/// Which AMD SMI library to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmdSmiLibrary {
    /// `none`: do not use AMD SMI.
    Disabled,
    /// `libamd_smi.so` from the loader's path, then `$ROCM_PATH/lib`, then `/opt/rocm/lib`.
    Default,
    Path(PathBuf),
}

impl AmdSmiLibrary {
    /// From a configured path (wins) or [`AMDSMI_ENV`]; `none` (any case) disables AMD SMI.
    pub fn resolve(configured: Option<&Path>) -> Self {
        match crate::gpu::choose_library(configured, AMDSMI_ENV) {
            None => AmdSmiLibrary::Default,
            Some(None) => AmdSmiLibrary::Disabled,
            Some(Some(p)) => AmdSmiLibrary::Path(p),
        }
    }

    /// The names to try, in order.
    fn candidates(&self) -> Vec<OsString> {
        match self {
            AmdSmiLibrary::Disabled => Vec::new(),
            AmdSmiLibrary::Path(p) => vec![p.clone().into_os_string()],
            AmdSmiLibrary::Default => {
                let mut v: Vec<OsString> = vec!["libamd_smi.so".into()];
                if let Some(r) = std::env::var_os("ROCM_PATH").filter(|r| !r.is_empty()) {
                    v.push(PathBuf::from(r).join("lib/libamd_smi.so").into_os_string());
                }
                v.push("/opt/rocm/lib/libamd_smi.so".into());
                v
            }
        }
    }
}

/// Why AMD SMI could not be used. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum AmdSmiLoadError {
    #[error("AMD SMI disabled ({AMDSMI_ENV}=none)")]
    Disabled,
    #[error(
        "AMD SMI not found ({lib}: {detail}): no ROCm, or set {AMDSMI_ENV}=/path/libamd_smi.so"
    )]
    NotFound { lib: String, detail: String },
    #[error(
        "AMD SMI found ({lib}) but could not start: {detail}; check that the amdgpu driver is \
         loaded (`amd-smi list` works) and that this user may use the GPU (groups video, render)"
    )]
    Init { lib: String, detail: String },
}

type InitFn = unsafe extern "C" fn(u64) -> u32;
type ShutDownFn = unsafe extern "C" fn() -> u32;
type SocketHandlesFn = unsafe extern "C" fn(*mut u32, *mut *mut c_void) -> u32;
type ProcessorHandlesFn = unsafe extern "C" fn(*mut c_void, *mut u32, *mut *mut c_void) -> u32;
type BufferFn = unsafe extern "C" fn(*mut c_void, *mut u8) -> u32;
type UuidFn = unsafe extern "C" fn(*mut c_void, *mut c_uint, *mut c_char) -> u32;
type EnergyFn = unsafe extern "C" fn(*mut c_void, *mut u64, *mut f32, *mut u64) -> u32;
type BdfFn = unsafe extern "C" fn(*mut c_void, *mut u64) -> u32;
type ProcessListFn = unsafe extern "C" fn(*mut c_void, *mut u32, *mut u8) -> u32;

/// The entry points used, resolved once.
struct Api {
    shut_down: ShutDownFn,
    energy: Option<EnergyFn>,
    process_list: Option<ProcessListFn>,
    // Keeps the library mapped while the pointers above are in use.
    _lib: libloading::Library,
}

/// An opaque processor handle. AMD SMI handles are tokens valid on any thread (the library is
/// thread safe), so they may be sent with the backend.
#[derive(Clone, Copy)]
struct Handle(*mut c_void);
// SAFETY: see above; the pointer is never dereferenced here, only passed back to AMD SMI.
unsafe impl Send for Handle {}

/// One AMD GPU found.
struct Gpu {
    handle: Handle,
    name: String,
    uuid: Option<String>,
    /// Its hwmon directory (`…/device/hwmon/hwmonN`), for power.
    hwmon: Option<PathBuf>,
}

/// The real backend: AMD SMI, loaded at run time.
pub struct AmdSmiBackend {
    api: Api,
    gpus: Vec<Gpu>,
}

impl AmdSmiBackend {
    /// Loads AMD SMI and lists the AMD GPUs (zero GPUs is not an error here). `roots`: where
    /// the GPUs' hwmon power readings are (sysfs).
    pub fn load(lib: &AmdSmiLibrary, roots: &Roots) -> Result<Self, AmdSmiLoadError> {
        if *lib == AmdSmiLibrary::Disabled {
            return Err(AmdSmiLoadError::Disabled);
        }
        let mut last = None;
        let mut loaded = None;
        let candidates = lib.candidates();
        for c in &candidates {
            // SAFETY: loading AMD SMI runs its (ROCm's) initialisers, as any program using it does.
            match unsafe { libloading::Library::new(c) } {
                Ok(l) => {
                    loaded = Some((l, c.clone()));
                    break;
                }
                Err(e) => last = Some(e.to_string()),
            }
        }
        let (library, name) = match loaded {
            Some((l, c)) => (l, c.to_string_lossy().into_owned()),
            None => {
                let tried: Vec<String> = candidates
                    .iter()
                    .map(|c| c.to_string_lossy().into_owned())
                    .collect();
                return Err(AmdSmiLoadError::NotFound {
                    lib: tried.join(", "),
                    detail: last.unwrap_or_default(),
                });
            }
        };
        let missing = |s: &str| AmdSmiLoadError::NotFound {
            lib: name.clone(),
            detail: format!("not an AMD SMI library (missing {s})"),
        };
        // SAFETY: the symbols are looked up by their C names and given the C signatures of
        // amdsmi.h; they stay valid while `library` is alive (it moves into `Api`).
        unsafe {
            macro_rules! sym {
                ($t:ty, $n:literal) => {
                    library
                        .get::<$t>(concat!($n, "\0").as_bytes())
                        .map(|s| *s)
                        .map_err(|_| missing($n))
                };
            }
            let init = sym!(InitFn, "amdsmi_init")?;
            let shut_down = sym!(ShutDownFn, "amdsmi_shut_down")?;
            let sockets = sym!(SocketHandlesFn, "amdsmi_get_socket_handles")?;
            let processors = sym!(ProcessorHandlesFn, "amdsmi_get_processor_handles")?;
            let asic = sym!(BufferFn, "amdsmi_get_gpu_asic_info").ok();
            let uuid = sym!(UuidFn, "amdsmi_get_gpu_device_uuid").ok();
            let energy = sym!(EnergyFn, "amdsmi_get_energy_count").ok();
            let bdf = sym!(BdfFn, "amdsmi_get_gpu_device_bdf").ok();
            let process_list = sym!(ProcessListFn, "amdsmi_get_gpu_process_list").ok();

            let status = init(AMDSMI_INIT_AMD_GPUS);
            if status != AMDSMI_STATUS_SUCCESS {
                return Err(AmdSmiLoadError::Init {
                    lib: name,
                    detail: format!("amdsmi_init returned status {status}"),
                });
            }
            let api = Api {
                shut_down,
                energy,
                process_list,
                _lib: library,
            };
            let mut gpus = Vec::new();
            for socket in handles(|n, buf| sockets(n, buf)) {
                for h in handles(|n, buf| processors(socket, n, buf)) {
                    let h = Handle(h);
                    let i = gpus.len();
                    let name = asic
                        .and_then(|f| first_string(|buf| f(h.0, buf)))
                        .unwrap_or_else(|| format!("AMD GPU {i}"));
                    let uuid = uuid.and_then(|f| {
                        let mut buf = [0 as c_char; 128];
                        let mut len = buf.len() as c_uint;
                        (f(h.0, &mut len, buf.as_mut_ptr()) == AMDSMI_STATUS_SUCCESS)
                            .then(|| c_string(&buf.map(|c| c as u8)))
                            .flatten()
                    });
                    let hwmon = bdf.and_then(|f| {
                        let mut v = 0u64;
                        (f(h.0, &mut v) == AMDSMI_STATUS_SUCCESS)
                            .then(|| hwmon_dir(roots, v))
                            .flatten()
                    });
                    gpus.push(Gpu {
                        handle: h,
                        name,
                        uuid,
                        hwmon,
                    });
                }
            }
            Ok(AmdSmiBackend { api, gpus })
        }
    }
}

impl Drop for AmdSmiBackend {
    fn drop(&mut self) {
        // SAFETY: AMD SMI was initialised in `load`; no handle is used after this.
        unsafe {
            (self.api.shut_down)();
        }
    }
}

/// Calls a `(count*, handles*)` listing function twice: for the count, then for the handles.
///
/// # Safety
/// `f` must be an AMD SMI listing function with that contract.
unsafe fn handles(f: impl Fn(*mut u32, *mut *mut c_void) -> u32) -> Vec<*mut c_void> {
    let mut n = 0u32;
    if f(&mut n, std::ptr::null_mut()) != AMDSMI_STATUS_SUCCESS || n == 0 {
        return Vec::new();
    }
    let mut v = vec![std::ptr::null_mut(); n as usize];
    if f(&mut n, v.as_mut_ptr()) != AMDSMI_STATUS_SUCCESS {
        return Vec::new();
    }
    v.truncate(n as usize);
    v
}

/// Fills a large zeroed buffer with a struct whose first field is a string, and returns that
/// string (the struct's size varies by release; 16 KiB is far more than any of them).
fn first_string(fill: impl FnOnce(*mut u8) -> u32) -> Option<String> {
    let mut buf = vec![0u64; 2048];
    if fill(buf.as_mut_ptr().cast()) != AMDSMI_STATUS_SUCCESS {
        return None;
    }
    let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).take(256).collect();
    c_string(&bytes).filter(|s| !s.trim().is_empty())
}

/// The NUL-terminated string at the start of `bytes`, if it is one.
fn c_string(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|b| *b == 0)?;
    std::str::from_utf8(&bytes[..end])
        .ok()
        .map(|s| s.trim().to_string())
}

/// The hwmon directory of the PCI device `amdsmi_bdf_t` names (function: bits 0-2, device: 3-7,
/// bus: 8-15, domain: 16-63).
pub fn hwmon_dir(roots: &Roots, bdf: u64) -> Option<PathBuf> {
    let (function, device, bus, domain) =
        (bdf & 0x7, (bdf >> 3) & 0x1f, (bdf >> 8) & 0xff, bdf >> 16);
    let dir = roots.sysfs.join(format!(
        "bus/pci/devices/{domain:04x}:{bus:02x}:{device:02x}.{function:x}/hwmon"
    ));
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("hwmon"))
        })
        .collect();
    entries.sort();
    entries.into_iter().next()
}

/// The GPU's power from its hwmon directory, in mW: `power1_average`, else `power1_input` (µW).
pub fn hwmon_power_mw(hwmon: &Path) -> Option<u64> {
    ["power1_average", "power1_input"].iter().find_map(|f| {
        std::fs::read_to_string(hwmon.join(f))
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(|uw| uw / 1000)
    })
}

/// Energy in mJ from AMD SMI's accumulator and its resolution in µJ per count.
pub fn energy_mj(counter: u64, resolution_uj: f32) -> Option<u64> {
    let r = f64::from(resolution_uj);
    if !(r.is_finite() && r > 0.0) {
        return None;
    }
    Some((counter as f64 * r / 1000.0).round() as u64)
}

/// The layouts `amdsmi_proc_info_t` has had: (entry size, offset of the pid, length of the name
/// field before it, which must hold a NUL). Newest first; the last is the old list of bare
/// process handles.
const PROC_LAYOUTS: [(usize, usize, usize); 3] = [(704, 256, 256), (224, 32, 32), (4, 0, 0)];

/// The largest entry any layout has, for sizing the buffer.
pub const PROC_ENTRY_MAX: usize = 1024;

/// The pids in a process list AMD SMI filled (`count` entries), in the first layout whose every
/// entry is well formed: a NUL-terminated name and a pid in 1..=4194304 (the kernel's limit).
pub fn parse_process_list(buf: &[u8], count: usize) -> Option<Vec<u32>> {
    if count == 0 {
        return Some(Vec::new());
    }
    'layout: for (stride, pid_at, name_len) in PROC_LAYOUTS {
        let mut pids = Vec::with_capacity(count);
        for k in 0..count {
            let base = k * stride;
            let Some(p) = buf.get(base + pid_at..base + pid_at + 4) else {
                continue 'layout;
            };
            if name_len > 0 && !buf[base..base + name_len].contains(&0) {
                continue 'layout;
            }
            let pid = u32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
            if !(1..=4_194_304).contains(&pid) {
                continue 'layout;
            }
            pids.push(pid);
        }
        pids.sort_unstable();
        pids.dedup();
        return Some(pids);
    }
    None
}

impl GpuBackend for AmdSmiBackend {
    fn vendor(&self) -> GpuVendor {
        GpuVendor::Amd
    }
    fn device_count(&self) -> usize {
        self.gpus.len()
    }
    fn name(&self, i: usize) -> String {
        self.gpus.get(i).map(|g| g.name.clone()).unwrap_or_default()
    }
    fn total_energy_mj(&self, i: usize) -> Option<u64> {
        let g = self.gpus.get(i)?;
        let f = self.api.energy?;
        let (mut counter, mut resolution, mut ts) = (0u64, 0f32, 0u64);
        // SAFETY: a valid handle and three out-pointers, as amdsmi.h declares.
        let status = unsafe { f(g.handle.0, &mut counter, &mut resolution, &mut ts) };
        (status == AMDSMI_STATUS_SUCCESS)
            .then(|| energy_mj(counter, resolution))
            .flatten()
    }
    fn power_mw(&self, i: usize) -> Option<u64> {
        hwmon_power_mw(self.gpus.get(i)?.hwmon.as_deref()?)
    }
    fn pids(&self, i: usize) -> Vec<u32> {
        let (Some(g), Some(f)) = (self.gpus.get(i), self.api.process_list) else {
            return Vec::new();
        };
        // SAFETY: first call with no buffer asks for the count; the second gets a buffer of
        // `cap` entries of the largest layout, so whatever the release writes fits.
        unsafe {
            let mut n = 0u32;
            let s = f(g.handle.0, &mut n, std::ptr::null_mut());
            if (s != AMDSMI_STATUS_SUCCESS && s != AMDSMI_STATUS_OUT_OF_RESOURCES) || n == 0 {
                return Vec::new();
            }
            let cap = n + 8;
            let mut buf = vec![0u64; cap as usize * PROC_ENTRY_MAX / 8];
            let mut got = cap;
            let s = f(g.handle.0, &mut got, buf.as_mut_ptr().cast());
            if s != AMDSMI_STATUS_SUCCESS && s != AMDSMI_STATUS_OUT_OF_RESOURCES {
                return Vec::new();
            }
            let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
            parse_process_list(&bytes, got.min(cap) as usize).unwrap_or_default()
        }
    }
    fn uuid(&self, i: usize) -> Option<String> {
        self.gpus.get(i)?.uuid.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_counter_times_resolution() {
        // 15.259 µJ per count (a typical MI250X resolution): 1e6 counts = 15.259 J.
        assert_eq!(energy_mj(1_000_000, 15.259), Some(15_259));
        assert_eq!(energy_mj(5, 0.0), None);
        assert_eq!(energy_mj(5, f32::NAN), None);
    }

    fn entry(stride: usize, pid_at: usize, name: &str, pid: u32) -> Vec<u8> {
        let mut e = vec![0u8; stride];
        e[..name.len()].copy_from_slice(name.as_bytes());
        e[pid_at..pid_at + 4].copy_from_slice(&pid.to_ne_bytes());
        e
    }

    #[test]
    fn every_process_list_layout_is_read() {
        for (stride, pid_at, _) in PROC_LAYOUTS.iter().take(2) {
            let mut buf = entry(*stride, *pid_at, "python3", 4242);
            buf.extend(entry(*stride, *pid_at, "torchrun", 77));
            buf.resize(buf.len() + 4096, 0);
            assert_eq!(
                parse_process_list(&buf, 2),
                Some(vec![77, 4242]),
                "{stride}"
            );
            // One entry alone too (no neighbour to be mistaken for a pid).
            let mut one = entry(*stride, *pid_at, "python3", 31337);
            one.resize(4096, 0);
            assert_eq!(parse_process_list(&one, 1), Some(vec![31337]), "{stride}");
        }
        let mut handles: Vec<u8> = [12u32, 13].iter().flat_map(|p| p.to_ne_bytes()).collect();
        handles.resize(4096, 0);
        assert_eq!(parse_process_list(&handles, 2), Some(vec![12, 13]));
        assert_eq!(parse_process_list(&[0u8; 4096], 1), None);
    }
}
