fn main() -> std::process::ExitCode {
    commonpot::cli::main()
}
