fn main() -> std::process::ExitCode {
    nsnet_tools::netcheck::main()
}
