fn main() -> std::process::ExitCode {
    nsnet_tools::vethup::main()
}
