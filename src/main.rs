//! The `hico` binary: see `hico --help`, or the README.
fn main() -> std::process::ExitCode {
    hico_cli::main()
}
