//! Which distributed job a run belongs to, from what the scheduler put in the environment: SLURM
//! (`SLURM_JOB_ID`, step, `SLURM_PROCID`), torchrun (`TORCHELASTIC_RUN_ID`, `RANK`), a Kubernetes
//! pod (`KUBERNETES_SERVICE_HOST` with `JOB_NAME`/`POD_NAME`), or an explicit `--job ID`
//! (`ECOTRACE_JOB`). The job key is the same on every node and rank of the job, so reports can sum
//! a job across nodes.
//!
//! Pure: the environment is passed in as a lookup function. Must not read anything else.

use ecotrace_core::{JobInfo, JobSource};

/// Detects the job from `env` (a lookup such as `|k| std::env::var(k).ok()`). `flag` (`--job`)
/// wins over everything; then `ECOTRACE_JOB`, SLURM, torchrun, Kubernetes. `None` when the run is
/// not part of a job. `node` is left empty when the environment does not name it (the caller fills
/// in the host name).
pub fn detect(flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Option<JobInfo> {
    let get = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let num = |k: &str| get(k).and_then(|v| v.parse::<u32>().ok());
    // Ranks: torchrun's (set per worker) before SLURM's (per task), as torchrun inside a SLURM
    // step runs several workers per task.
    let rank = num("RANK").or_else(|| num("SLURM_PROCID"));
    let local_rank = num("LOCAL_RANK").or_else(|| num("SLURM_LOCALID"));
    let world_size = num("WORLD_SIZE").or_else(|| num("SLURM_NTASKS"));
    let node = get("SLURMD_NODENAME")
        .or_else(|| get("NODE_NAME"))
        .unwrap_or_default();
    let slurm_step = get("SLURM_STEP_ID");
    let make = |id: String, source: JobSource, step: Option<String>| JobInfo {
        id,
        source,
        step,
        node: node.clone(),
        rank,
        local_rank,
        world_size,
    };

    if let Some(id) = flag
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .or_else(|| get("ECOTRACE_JOB"))
    {
        return Some(make(id, JobSource::Flag, slurm_step));
    }
    if let Some(job) = get("SLURM_JOB_ID") {
        // An array task is its own job: key it by array id and task, as `squeue` shows it.
        let id = match (get("SLURM_ARRAY_JOB_ID"), get("SLURM_ARRAY_TASK_ID")) {
            (Some(a), Some(t)) => format!("slurm:{a}_{t}"),
            _ => format!("slurm:{job}"),
        };
        return Some(make(id, JobSource::Slurm, slurm_step));
    }
    if let Some(run) = get("TORCHELASTIC_RUN_ID") {
        return Some(make(format!("torchrun:{run}"), JobSource::Torchrun, None));
    }
    if get("KUBERNETES_SERVICE_HOST").is_some() {
        let ns = get("POD_NAMESPACE").unwrap_or_else(|| "default".into());
        // The job name is not in a pod's environment by default: set JOB_NAME from the
        // `batch.kubernetes.io/job-name` label with the downward API (docs/cluster.md). Without
        // it, the pod itself is the job.
        let name = get("JOB_NAME")
            .or_else(|| get("POD_NAME"))
            .or_else(|| get("HOSTNAME"))?;
        let mut j = make(format!("k8s:{ns}/{name}"), JobSource::Kubernetes, None);
        j.rank = j.rank.or_else(|| num("JOB_COMPLETION_INDEX"));
        return Some(j);
    }
    None
}

/// [`detect`] on this process's environment.
pub fn detect_from_env(flag: Option<&str>) -> Option<JobInfo> {
    detect(flag, &|k| std::env::var(k).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn no_scheduler_no_job() {
        assert_eq!(detect(None, &env(&[("HOME", "/root")])), None);
        assert_eq!(detect(Some("  "), &env(&[])), None);
    }

    #[test]
    fn slurm_job_step_rank_and_node() {
        let j = detect(
            None,
            &env(&[
                ("SLURM_JOB_ID", "4242"),
                ("SLURM_STEP_ID", "0"),
                ("SLURM_PROCID", "5"),
                ("SLURM_LOCALID", "1"),
                ("SLURM_NTASKS", "8"),
                ("SLURMD_NODENAME", "gpu-007"),
            ]),
        )
        .unwrap();
        assert_eq!(j.id, "slurm:4242");
        assert_eq!(j.source, JobSource::Slurm);
        assert_eq!(j.step.as_deref(), Some("0"));
        assert_eq!(j.node, "gpu-007");
        assert_eq!(
            (j.rank, j.local_rank, j.world_size),
            (Some(5), Some(1), Some(8))
        );
        let a = detect(
            None,
            &env(&[
                ("SLURM_JOB_ID", "4300"),
                ("SLURM_ARRAY_JOB_ID", "4299"),
                ("SLURM_ARRAY_TASK_ID", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(a.id, "slurm:4299_1");
    }

    #[test]
    fn torchrun_ranks_win_inside_slurm() {
        let e = env(&[
            ("TORCHELASTIC_RUN_ID", "abc"),
            ("RANK", "3"),
            ("LOCAL_RANK", "3"),
            ("WORLD_SIZE", "16"),
        ]);
        let j = detect(None, &e).unwrap();
        assert_eq!(
            (j.id.as_str(), j.source),
            ("torchrun:abc", JobSource::Torchrun)
        );
        assert_eq!((j.rank, j.world_size), (Some(3), Some(16)));
        assert_eq!(j.node, "");
        let j = detect(
            None,
            &env(&[
                ("SLURM_JOB_ID", "7"),
                ("SLURM_PROCID", "1"),
                ("TORCHELASTIC_RUN_ID", "7"),
                ("RANK", "9"),
            ]),
        )
        .unwrap();
        assert_eq!((j.id.as_str(), j.rank), ("slurm:7", Some(9)));
    }

    #[test]
    fn kubernetes_job_or_pod() {
        let j = detect(
            None,
            &env(&[
                ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
                ("POD_NAMESPACE", "ml"),
                ("JOB_NAME", "bert-ft"),
                ("JOB_COMPLETION_INDEX", "2"),
                ("NODE_NAME", "node-a"),
            ]),
        )
        .unwrap();
        assert_eq!(j.id, "k8s:ml/bert-ft");
        assert_eq!((j.rank, j.node.as_str()), (Some(2), "node-a"));
        let p = detect(
            None,
            &env(&[("KUBERNETES_SERVICE_HOST", "x"), ("HOSTNAME", "web-7f9c")]),
        )
        .unwrap();
        assert_eq!(p.id, "k8s:default/web-7f9c");
    }

    #[test]
    fn the_flag_and_ecotrace_job_win() {
        let e = env(&[("SLURM_JOB_ID", "1"), ("ECOTRACE_JOB", "from-env")]);
        assert_eq!(detect(None, &e).unwrap().id, "from-env");
        let j = detect(Some("mine"), &e).unwrap();
        assert_eq!((j.id.as_str(), j.source), ("mine", JobSource::Flag));
    }
}
