//! The `warden` binary: everything lives in the library.

fn main() {
    restore_sigpipe();
    std::process::exit(warden::cli::main_with_args(std::env::args_os()));
}

/// Rust ignores SIGPIPE by default, so `warden … | head` would panic on a
/// closed stdout. Restore the default (die quietly), as Unix tools do.
fn restore_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; setting
    // a signal disposition to SIG_DFL has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
