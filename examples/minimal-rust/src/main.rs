fn main() -> std::process::ExitCode {
    shared_ui::kit::main::<minimal_rust::Hello>()
}
