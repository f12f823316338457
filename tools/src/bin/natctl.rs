fn main() -> std::process::ExitCode {
    nsnet_tools::natctl::main()
}
