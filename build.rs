// Migrations and templates are embedded at compile time; make Cargo notice new ones.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=templates");
}
