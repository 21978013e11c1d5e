//! The `warden` binary: everything lives in the library.

fn main() {
    std::process::exit(warden::cli::main_with_args(std::env::args_os()));
}
