// Prevents an extra console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// mimalloc: the binder ingest frees many small strings on another thread than made them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    no_transparent_huge_pages();
    oxide_review::run();
}

/// Transparent huge pages off for the app. mimalloc asks for them on its arena
/// (`MADV_HUGEPAGE`, honoured on the common `madvise` THP setting), so every 2 MiB region the
/// app touches at all became resident in full: ~14 MB of the idle app's RSS was such pages
/// (measured with `oxide-bench desktop`). A UI shell over SQLite makes small allocations and
/// gains nothing from huge pages. The kernel checks the flag when a page is faulted in, so
/// the few allocations made before `main` do not matter; the WebKit processes the app starts
/// inherit it.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        #[allow(unsafe_code)] // prctl: std has no wrapper for process flags
        // SAFETY: PR_SET_THP_DISABLE takes integer arguments only; no memory is passed.
        let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if rc != 0 {
            // Older kernels lack the flag: the app runs as before, with a larger footprint.
            eprintln!(
                "OXIDE Review: transparent huge pages stay on ({})",
                std::io::Error::last_os_error()
            );
        }
    }
}
