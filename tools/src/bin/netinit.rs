fn main() -> std::process::ExitCode {
    nsnet_tools::netinit::main()
}
