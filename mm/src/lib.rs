//! Memory-management policy for the kernel, written as plain Rust so that it
//! also runs as host unit tests (`./run-qemu.sh host-test`).
//!
//! Nothing here touches hardware or knows about tasks and scheduling: the
//! kernel crate owns page tables, interrupts and locks that must disable
//! them, and calls into this crate with page frame numbers and descriptors.
//! Each concept has one file, named as Linux names it:
//!
//! | file          | Linux counterpart            | what it owns                               |
//! |---------------|------------------------------|--------------------------------------------|
//! | `layout`      | `pgtable_32_areas.h`, `fixmap.h` | every virtual-layout constant, drawn   |
//! | `memblock`    | `mm/memblock.c`              | boot-time RAM map and early allocations    |
//! | `page`        | `include/linux/mm_types.h`   | `struct page`, one per physical frame      |
//! | `zone`        | `include/linux/mmzone.h`     | ZONE_DMA / NORMAL / HIGHMEM and their sizes |
//! | `buddy`       | `mm/page_alloc.c`            | the buddy allocator's split and coalesce   |
//! | `gfp`         | `include/linux/gfp.h`        | GFP flags and which zones they may use     |
//! | `node`        | `pg_data_t`                  | all zones together: alloc_pages, meminfo   |
//! | `kmalloc`     | `mm/slab_common.c`           | small-object heap on top of the buddy      |
//! | `pkmap`       | `mm/highmem.c` (kmap)        | the PKMAP pool: counts, cursor, lazy unmap, wrap flush |
//! | `kmap_local`  | `mm/highmem.c` (kmap_local)  | the per-task slot stack, guard slots, LIFO |
//! | `kmap_guard`  | (none: Rust only)            | mappings whose misuse does not compile     |
//! | `vmalloc`     | `mm/vmalloc.c` (vmap_area)   | virtual ranges in the vmalloc area         |
#![cfg_attr(not(test), no_std)]

pub mod buddy;
pub mod gfp;
pub mod kmalloc;
pub mod kmap_guard;
pub mod kmap_local;
pub mod layout;
pub mod memblock;
pub mod node;
pub mod page;
pub mod pkmap;
pub mod vmalloc;
pub mod zone;
