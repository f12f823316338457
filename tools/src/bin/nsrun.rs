fn main() -> std::process::ExitCode {
    nsnet_tools::nsrun::main()
}
