fn main() {
    // The UI is embedded at compile time: fail early with a clear message instead of a cryptic macro error.
    let dist = std::path::Path::new("../ui/dist/index.html");
    if !dist.exists() {
        panic!(
            "ui/dist is missing: build the front end first (`npm run build -w ui`, or just `make build`)"
        );
    }
    println!("cargo:rerun-if-changed=../ui/dist");
    tauri_build::build()
}
