fn main() {
    std::process::exit(catalog_server::cli::main());
}
