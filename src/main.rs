//! The `mailnook` binary: argv → command. Everything else lives in the library.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(mailnook::cli::main(std::env::args_os().skip(1).collect()));
}
