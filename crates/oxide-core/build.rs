//! The migrations are embedded with `include_dir!`, which Cargo does not track: rebuild when
//! the directory changes (a new migration file included).
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
