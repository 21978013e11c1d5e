//! Between `clone` and `execve`, the command's process only makes system
//! calls: this binary's global allocator ends any process but the test's
//! own with exit code 99 (and a message) when it is called, so a child that
//! allocated — or freed — before `execve` would exit 99 instead of running
//! the command. One test in this binary: `run_inherited` makes the calling
//! process a subreaper and reaps whatever it finds.

use crate::sandbox_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI32, Ordering};

use sandbox_support::Fixture;
use warden::sandbox::{ExecRequest, run_inherited};

/// The pid allowed to allocate (0: anyone, before the test starts).
static OWNER: AtomicI32 = AtomicI32::new(0);

struct OnlyTheOwner;

fn check() {
    let owner = OWNER.load(Ordering::Relaxed);
    // SAFETY: getpid, write and _exit are async-signal-safe system calls.
    unsafe {
        if owner != 0 && libc::getpid() != owner {
            let msg = b"allocator called between clone and execve\n";
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(99);
        }
    }
}

// SAFETY: forwards to the system allocator after the check.
unsafe impl GlobalAlloc for OnlyTheOwner {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        check();
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: OnlyTheOwner = OnlyTheOwner;

#[test]
fn the_command_process_allocates_nothing_before_exec() {
    let f = Fixture::new();
    let policy = f.policy();
    let run = |argv: &[&str]| {
        let req = ExecRequest::new(argv.iter().map(|a| a.to_string()).collect(), &f.ws);
        run_inherited(&policy, &req).expect("sandbox ran")
    };
    // SAFETY: getpid has no preconditions.
    OWNER.store(unsafe { libc::getpid() }, Ordering::Relaxed);

    let out = run(&["sh", "-c", "exit 3"]);
    assert_eq!(
        out.exit_code,
        Some(3),
        "99 means the child allocated: {out:?}"
    );
    let e = &out.enforcement;
    assert!(e.sandboxed && e.seccomp && e.no_new_privs, "{e:?}");

    // The `execve` failure path reports and exits without allocating too.
    let out = run(&["warden-no-such-command"]);
    assert_eq!(out.exit_code, Some(127), "{out:?}");

    // And the unsandboxed path (environment scrubbed, no Landlock).
    let full = f.policy_with(
        warden::config::SandboxMode::DangerFullAccess,
        f.sandbox_config(),
    );
    let req = ExecRequest::new(vec!["sh".into(), "-c".into(), "exit 4".into()], &f.ws);
    let out = run_inherited(&full, &req).unwrap();
    assert_eq!(out.exit_code, Some(4), "{out:?}");
    OWNER.store(0, Ordering::Relaxed);
}
