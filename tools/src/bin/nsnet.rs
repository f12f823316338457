fn main() -> std::process::ExitCode {
    nsnet_tools::cni::main()
}
