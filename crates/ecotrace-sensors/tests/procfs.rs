//! /proc readers and process-tree accounting against fake trees, plus one run against the real
//! /proc of this machine.

mod common;

use std::sync::atomic::Ordering;

use common::{FakeRoot, Proc, ARM64, MEMINFO_16G, X86_2S};
use ecotrace_sensors::procfs::{hostname, read_cpu_times, read_cpuinfo, read_meminfo, ProcessTree};
use ecotrace_sensors::{Roots, SensorError};

#[test]
fn machine_files_parse() {
    let f = FakeRoot::new();
    f.write("proc/stat", &common::stat_line(300, 700));
    f.write("proc/meminfo", MEMINFO_16G);
    f.write("proc/cpuinfo", X86_2S);
    f.write("proc/sys/kernel/hostname", "gpu-box-7\n");
    let r = f.roots();
    let t = read_cpu_times(&r).unwrap();
    assert_eq!((t.busy, t.total), (300, 1000));
    let m = read_meminfo(&r).unwrap();
    assert_eq!(m.total_bytes, 16_000_000 * 1024);
    assert_eq!(m.used_bytes(), 8_000_000 * 1024);
    let c = read_cpuinfo(&r).unwrap();
    assert_eq!(c.model_name, "Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz");
    assert_eq!((c.logical_cpus, c.sockets, c.physical_cores), (4, 2, 2));
    assert!(!c.virtualized);
    assert_eq!(hostname(&r), "gpu-box-7");
}

#[test]
fn arm_cpuinfo_has_a_name_and_one_socket() {
    let f = FakeRoot::new();
    f.write("proc/cpuinfo", ARM64);
    let c = read_cpuinfo(&f.roots()).unwrap();
    assert_eq!(c.model_name, "ARM Neoverse-N1");
    assert_eq!((c.logical_cpus, c.sockets, c.physical_cores), (2, 1, 2));
    // Nothing recognisable at all.
    f.write("proc/cpuinfo", "processor : 0\n");
    assert_eq!(read_cpuinfo(&f.roots()).unwrap().model_name, "unknown");
}

#[test]
fn vm_flag_is_seen() {
    let f = FakeRoot::new();
    f.write(
        "proc/cpuinfo",
        &X86_2S.replace("fpu vme sse2", "fpu vme sse2 hypervisor"),
    );
    assert!(read_cpuinfo(&f.roots()).unwrap().virtualized);
}

#[test]
fn missing_files_are_errors_naming_the_path() {
    let f = FakeRoot::new();
    let e = read_cpu_times(&f.roots()).unwrap_err();
    assert!(matches!(e, SensorError::Io { .. }));
    assert!(e.to_string().contains("stat"), "{e}");
    f.write("proc/stat", "intr 1 2\n");
    assert!(matches!(
        read_cpu_times(&f.roots()).unwrap_err(),
        SensorError::Parse { .. }
    ));
}

#[test]
fn comm_with_spaces_and_parens() {
    let f = FakeRoot::new();
    let mut p = Proc::new(200, 100).times(7, 3, 0, 0);
    p.comm = "my (weird) ) name".into();
    f.process(&p);
    let mut t = ProcessTree::new(&f.roots(), 100, false);
    let s = t.sample().unwrap();
    assert_eq!(s.cpu_ticks, 10);
    assert_eq!(t.pids(), &[200]);
}

/// The CLI case: root = the CLI (not counted), a child subreaper, so orphans re-parent to it.
/// Each tree scenario runs twice: finding the tree by scanning every process, and through the
/// `task/<tid>/children` files.
fn both_ways(scenario: fn(FakeRoot)) {
    scenario(FakeRoot::new());
    scenario(FakeRoot::with_children_files());
}

#[test]
fn children_that_exit_mid_run_count_once_and_ticks_never_go_down() {
    both_ways(children_exit_scenario);
}

fn children_exit_scenario(f: FakeRoot) {
    let cli = 100;
    // Something unrelated on the machine.
    f.process(&Proc::new(1, 0).times(5000, 5000, 0, 0));
    f.process(&Proc::new(50, 1).times(999, 0, 0, 0));
    f.process(&Proc::new(cli, 50).times(1, 1, 0, 0));
    let mut py = Proc::new(200, cli).times(10, 0, 0, 0);
    let mut worker = Proc::new(300, 200).times(5, 0, 0, 0);
    f.process(&py);
    f.process(&worker);
    let mut tree = ProcessTree::new(&f.roots(), cli, false);
    let reaped = tree.reaped_ticks();
    let mut last = 0;
    let mut check = |tree: &mut ProcessTree, want: u64| {
        let s = tree.sample().unwrap();
        assert!(s.cpu_ticks >= last, "went down: {} < {last}", s.cpu_ticks);
        last = s.cpu_ticks;
        assert_eq!(s.cpu_ticks, want);
        s
    };

    let s = check(&mut tree, 15);
    assert_eq!(tree.pids(), &[200, 300]);
    assert!(s.rss_bytes > 0);

    // Both run.
    py.utime = 30;
    worker.utime = 20;
    f.process(&py);
    f.process(&worker);
    check(&mut tree, 50);

    // The worker exits and python reaps it: its 20 ticks move to python's cutime. A short-lived
    // process (never seen) also ran 7 ticks and was reaped by python.
    f.kill(300);
    py.utime = 35;
    py.cutime = 20 + 7;
    f.process(&py);
    check(&mut tree, 35 + 27);
    assert_eq!(tree.pids(), &[200]);

    // Python forks 500, then exits before it: 500 is re-parented to the CLI (subreaper); python
    // is reaped by the CLI, which adds its rusage to the reaped counter.
    let mut orphan = Proc::new(500, cli).times(4, 0, 0, 0);
    f.process(&orphan);
    f.kill(200);
    reaped.fetch_add(py.total(), Ordering::SeqCst);
    check(&mut tree, 62 + 4);
    assert_eq!(tree.pids(), &[500]);

    // The orphan runs, then the reaper's counter is updated a little late: a dip must not show.
    orphan.utime = 10;
    f.process(&orphan);
    check(&mut tree, 62 + 10);
    f.kill(500);
    check(&mut tree, 72); // reaped but not yet added: clamped, not 62
    reaped.fetch_add(orphan.total(), Ordering::SeqCst);
    check(&mut tree, 72); // added now: same total, nothing double counted
    assert!(tree.pids().is_empty());
}

/// The Python-tracker case: root = the tracked process itself, no subreaper.
#[test]
fn include_root_and_orphans_adopted_by_init_stay_tracked() {
    both_ways(adopted_orphans_scenario);
}

fn adopted_orphans_scenario(f: FakeRoot) {
    f.process(&Proc::new(1, 0).times(5000, 0, 0, 0));
    let mut root = Proc::new(100, 1).times(50, 10, 0, 0);
    let child = Proc::new(200, 100).times(5, 0, 0, 0);
    let mut grandchild = Proc::new(300, 200).times(3, 0, 0, 0);
    for p in [&root, &child, &grandchild] {
        f.process(p);
    }
    let mut tree = ProcessTree::new(&f.roots(), 100, true);
    assert_eq!(tree.sample().unwrap().cpu_ticks, 68);
    assert_eq!(tree.pids(), &[100, 200, 300]);

    // The child exits and the root reaps it; the grandchild is adopted by init (ppid 1) and keeps
    // running: it is still tracked.
    f.kill(200);
    root.cutime = child.total();
    grandchild.ppid = 1;
    grandchild.utime = 13;
    f.process(&root);
    f.process(&grandchild);
    assert_eq!(tree.sample().unwrap().cpu_ticks, 60 + 5 + 13);
    assert_eq!(tree.pids(), &[100, 300]);

    // The grandchild exits and init reaps it: its last seen ticks are kept.
    f.kill(300);
    assert_eq!(tree.sample().unwrap().cpu_ticks, 78);
    // A new, unrelated process reuses its pid: not tracked.
    let stranger = Proc {
        start: 99_999,
        ..Proc::new(300, 1).times(1000, 0, 0, 0)
    };
    f.process(&stranger);
    root.utime = 52;
    f.process(&root);
    assert_eq!(tree.sample().unwrap().cpu_ticks, 80);
    assert_eq!(tree.pids(), &[100]);
}

#[test]
fn a_child_with_a_lower_pid_than_its_parent_is_in_the_tree() {
    both_ways(lower_pid_scenario);
}

fn lower_pid_scenario(f: FakeRoot) {
    // Pids wrap around: a child can have a lower pid than its parent.
    f.process(&Proc::new(30000, 100).times(1, 0, 0, 0));
    f.process(&Proc::new(12, 30000).times(2, 0, 0, 0));
    f.process(&Proc::new(13, 1).times(400, 0, 0, 0));
    let mut tree = ProcessTree::new(&f.roots(), 100, false);
    assert_eq!(tree.sample().unwrap().cpu_ticks, 3);
    assert_eq!(tree.pids(), &[12, 30000]);
}

#[test]
fn unreadable_or_garbled_entries_are_skipped() {
    let f = FakeRoot::new();
    f.process(&Proc::new(200, 100).times(4, 0, 0, 0));
    f.write("proc/201/stat", "201 (half"); // vanished mid-write
    f.write("proc/self/stat", "not a pid dir");
    std::fs::create_dir_all(f.path("proc/202")).unwrap(); // no stat file
    let mut tree = ProcessTree::new(&f.roots(), 100, false);
    assert_eq!(tree.sample().unwrap().cpu_ticks, 4);
    // No procfs at all is an error.
    let mut t = ProcessTree::new(
        &Roots {
            procfs: f.path("nope"),
            sysfs: f.sys(),
        },
        1,
        true,
    );
    assert!(t.sample().is_err());
}

/// The real /proc of this machine: the parsers accept it and the test's own process tree shows CPU
/// time after burning some.
#[test]
fn real_proc() {
    let r = Roots::default();
    let t = read_cpu_times(&r).unwrap();
    assert!(t.total >= t.busy && t.total > 0);
    let m = read_meminfo(&r).unwrap();
    assert!(m.total_bytes > 0 && m.available_bytes <= m.total_bytes);
    let c = read_cpuinfo(&r).unwrap();
    assert!(c.logical_cpus >= 1 && c.sockets >= 1);
    assert!(!c.model_name.is_empty());
    assert!(!hostname(&r).is_empty());
    assert!(ecotrace_sensors::procfs::clock_ticks_per_sec() > 0);

    let me = std::process::id();
    let mut tree = ProcessTree::new(&r, me, true);
    let before = tree.sample().unwrap();
    assert!(tree.pids().contains(&me));
    assert!(before.rss_bytes > 0);
    // Burn CPU until the tree shows it (a few ticks; bounded at 20 s on a starved machine).
    let start = std::time::Instant::now();
    let mut x = 0u64;
    let after = loop {
        let burst = std::time::Instant::now();
        while burst.elapsed() < std::time::Duration::from_millis(100) {
            for i in 0..10_000u64 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
            }
        }
        std::hint::black_box(x);
        let s = tree.sample().unwrap();
        if s.cpu_ticks > before.cpu_ticks + 2 {
            break s;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no CPU time seen: {before:?} -> {s:?}"
        );
    };
    assert!(after.cpu_ticks > 0);
}

/// A real child: seen in the tree while it runs; once it exits and is reaped, its CPU time stays
/// counted (through this process's cutime), so the total does not drop.
#[test]
fn real_child_is_tracked_and_its_time_kept_after_reaping() {
    let r = Roots::default();
    let me = std::process::id();
    let mut tree = ProcessTree::new(&r, me, true);
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done")
        .spawn()
        .expect("sh");
    let s1 = tree.sample().unwrap();
    assert!(tree.pids().contains(&child.id()), "{:?}", tree.pids());
    child.wait().unwrap();
    let s2 = tree.sample().unwrap();
    assert!(!tree.pids().contains(&child.id()));
    assert!(s2.cpu_ticks >= s1.cpu_ticks);
    // The child's time is in our cutime now: at least what the tree saw of it while it ran.
    let own = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
    let after_paren = &own[own.rfind(')').unwrap() + 1..];
    let f: Vec<&str> = after_paren.split_whitespace().collect();
    let cutime: u64 = f[13].parse().unwrap();
    let cstime: u64 = f[14].parse().unwrap();
    assert!(
        cutime + cstime > 0,
        "the reaped shell's CPU time should be in cutime"
    );
}

/// The real /proc, where member stat files are kept open and the tree is searched again only
/// when a task was created: a grandchild started later by a member is found, and members that end
/// leave the tree (their kept files stop answering) without the total going down.
#[test]
fn real_tree_finds_late_grandchildren_and_drops_ended_members() {
    /// Killed if the test fails half-way.
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let r = Roots::default();
    assert!(ecotrace_sensors::procfs::is_own_procfs(&r.procfs));
    let dir = tempfile::tempdir().unwrap();
    let grandchild_pid = dir.path().join("pid");
    // The child waits for a line on its stdin (`read` is built in: no process is started while
    // it waits), then starts a grandchild and prints its pid.
    let mut child = Guard(
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "read go; sleep 20 & echo $! > {pid}; wait",
                pid = grandchild_pid.display()
            ))
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("sh"),
    );
    let me = child.0.id();
    // The child's tree (other tests' children of this process stay out of it).
    let mut tree = ProcessTree::new(&r, me, true);
    let s1 = tree.sample().unwrap();
    assert_eq!(tree.pids(), &[me]);
    // Sampled again with the tree unchanged: the same member, read through its kept file.
    let s2 = tree.sample().unwrap();
    assert_eq!(tree.pids(), &[me]);
    assert!(s2.cpu_ticks >= s1.cpu_ticks);
    {
        use std::io::Write;
        let mut stdin = child.0.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let grandchild: u32 = loop {
        // `echo` is built in too; its line may be read half-written: then read again.
        let text = std::fs::read_to_string(&grandchild_pid).unwrap_or_default();
        if let Ok(p) = text.trim().parse() {
            if text.ends_with('\n') {
                break p;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no grandchild");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let s3 = tree.sample().unwrap();
    assert_eq!(tree.pids(), &[me, grandchild]);
    assert!(s3.cpu_ticks >= s2.cpu_ticks && s3.rss_bytes > 0, "{s3:?}");
    // The grandchild ends (the child reaps it and ends too): both leave the tree.
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(grandchild as libc::pid_t, libc::SIGKILL) };
    child.0.wait().unwrap();
    let s4 = tree.sample().unwrap();
    assert!(tree.pids().is_empty(), "{:?}", tree.pids());
    assert!(s4.cpu_ticks >= s3.cpu_ticks);
}
