// Reservoir runs on Linux (x86-64 and arm64): it relies on fdatasync, posix_fallocate, futexes,
// open-file-description locks and the kernel's page-cache semantics for shared mappings, which
// it documents and tests there. Elsewhere it says so at once rather than failing file by file.
#if !os(Linux)
#error("Reservoir supports Linux only (x86-64 and arm64); see README.md")
#endif
