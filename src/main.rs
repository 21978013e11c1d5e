//! The `warden` binary: everything lives in the library.

fn main() {
    quiet_broken_pipe();
    warden::sandbox::launch::ignore_file_size_limit_signal();
    std::process::exit(warden::cli::main_with_args(std::env::args_os()));
}

/// `warden … | head` closes stdout early. SIGPIPE stays ignored (Rust's
/// default) because warden writes to pipes of children that may have
/// exited, and a signal there would kill warden mid-run; instead a failed
/// print to a closed stdout ends the process quietly with the shell's
/// SIGPIPE status rather than a panic message. The audit log is unaffected:
/// every record is already flushed when written.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
