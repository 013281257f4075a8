//! The kernel side of memory management: what needs the hardware, the boot
//! information, or global state. The policy itself (zones, buddy, memblock,
//! layout) is the `mm` crate; this module wires it to the machine.
//!
//! | file          | Linux counterpart          | what it owns                              |
//! |---------------|----------------------------|-------------------------------------------|
//! | `init`        | `arch/x86/mm/init_32.c`    | boot-time set-up: memblock, mem_map, paging_init, zones, the boot messages |
//! | `pgtable`     | `arch/x86/mm/pgtable_32.c`, `pgtable.c` | swapper_pg_dir, kernel PTE lookup; user page directories and HIGHPTE page tables (`pgd_alloc`, `pte_offset_map`) |
//! | `memory`      | `mm/memory.c`              | demand paging: handle_mm_fault, the zero page, do_anonymous_page, do_wp_page |
//! | `gup`         | `mm/gup.c`, `__access_remote_vm` | get_user_pages_remote: another mm's pages, faulted in for it; access_remote_vm |
//! | `process_vm_access` | `mm/process_vm_access.c` | process_vm_readv/writev, import_iovec |
//! | `mmap`        | `mm/mmap.c`                | the brk, mmap2 and munmap system calls |
//! | `mm_types`    | `include/linux/mm_types.h` | `MmStruct`: a process's address space |
//! | `page_alloc`  | `mm/page_alloc.c` (entry)  | `alloc_pages`/`free_pages`, `page_address`, meminfo |
//! | `page_poison` | `mm/page_poison.c`         | `page_poison=1`: freed pages filled with 0xaa, checked when allocated |
//! | `heap`        | `mm/slab_common.c`         | the `alloc` crate's global allocator      |
//! | `fault_inject` | `mm/fail_page_alloc.c`, `mm/failslab.c` | the two fault attributes, their options and knobs |
//! | `oom_kill`    | `mm/oom_kill.c` | the OOM killer: out_of_memory, the badness choice (mm::oom), the kill and its report; pagefault_out_of_memory retries |
//! | `kmap`        | `mm/highmem.c` (kmap)      | kmap/kunmap: kmap_lock, pkmap_map_wait, the wrap flush |
//! | `kmap_local`  | `mm/highmem.c` (local)     | kmap_local_*: slots, context-switch hooks, misuse reports |
//! | `kmap_atomic` | `highmem-internal.h`       | kmap_atomic: + preempt and pagefault disable |
//! | `highmem`     | `highmem.h`                | memcpy_page & co, kmap_to_page, highmem totals |
//! | `kmap_guard`  | (Rust only)                | closure-scoped kmap_local, a kmap guard   |
//! | `stack`       | `kernel/fork.c` (stacks)   | kernel stacks and their guard pages       |
//! | `vmalloc`     | `mm/vmalloc.c`, `ioremap`  | the vmalloc area: guarded stacks, device and firmware mappings |
pub mod fault_inject;
pub mod heap;
pub mod highmem;
pub mod init;
pub mod kmap;
pub mod kmap_atomic;
pub mod kmap_guard;
pub mod kmap_local;
pub mod memory;
pub mod oom_kill;
pub mod mmap;
pub mod mm_types;
pub mod filemap;
pub mod gup;
pub mod page_alloc;
pub mod page_poison;
pub mod pgtable;
pub mod process_vm_access;
pub mod stack;
pub mod vmalloc;
