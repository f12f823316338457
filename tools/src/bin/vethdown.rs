fn main() -> std::process::ExitCode {
    nsnet_tools::vethdown::main()
}
