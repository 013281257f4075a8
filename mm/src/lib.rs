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
//! | `pgtable_types` | `asm/pgtable_types.h`      | `pte_t`/`pmd_t`/`pgd_t`, `_PAGE_*`, `PTRS_PER_*`, for the flavour built |
//! | `pgtable_2level_types` | `asm/pgtable-2level_types.h` | the 10/10/12 geometry (default) |
//! | `pgtable_3level_types` | `asm/pgtable-3level_types.h` | the 2/9/9/12 PAE geometry (feature `pae`) |
//! | `pgtable_3level` | `asm/pgtable-3level.h`   | writing a 64-bit entry in 32-bit halves, and its model check |
//! | `memblock`    | `mm/memblock.c`              | boot-time RAM map and early allocations    |
//! | `page`        | `include/linux/mm_types.h`   | `struct page`, one per physical frame      |
//! | `zone`        | `include/linux/mmzone.h`     | ZONE_DMA / NORMAL / HIGHMEM and their sizes |
//! | `buddy`       | `mm/page_alloc.c`            | the buddy allocator's split and coalesce   |
//! | `gfp`         | `include/linux/gfp.h`        | GFP flags and which zones they may use     |
//! | `fault_inject` | `lib/fault-inject.c`, `mm/fail_page_alloc.c`, `mm/failslab.c` | forced allocation failures: `should_fail`, the knobs |
//! | `node`        | `pg_data_t`                  | all zones together: alloc_pages, meminfo   |
//! | `kmalloc`     | `mm/slab_common.c`           | small-object heap on top of the buddy      |
//! | `pkmap`       | `mm/highmem.c` (kmap)        | the PKMAP pool: counts, cursor, lazy unmap, wrap flush |
//! | `kmap_local`  | `mm/highmem.c` (kmap_local)  | the per-task slot stack, guard slots, LIFO |
//! | `kmap_guard`  | (none: Rust only)            | mappings whose misuse does not compile     |
//! | `vmalloc`     | `mm/vmalloc.c` (vmap_area)   | virtual ranges in the vmalloc area         |
//! | `vma`         | `mm/mmap.c`, `mm/mprotect.c` | a process's VMAs: find, split, merge, mmap, munmap, mprotect, stack, brk |
//!
//! ## Mutation testing
//!
//! The highmem and allocator bookkeeping (`pkmap`, `kmap_local`, `buddy`,
//! `zone`) is checked with [cargo-mutants](https://mutants.rs): it makes
//! small changes to the code (`<` for `<=`, a function body replaced by a
//! constant, ...) and runs the host tests on each; a change no test notices
//! ("missed") is a behaviour nothing checks. From the repository root:
//!
//! ```text
//! cargo install cargo-mutants
//! CARGO=$PWD/mm/mutants-cargo.sh cargo-mutants mutants -j 2 --package mm \
//!     -f mm/src/pkmap.rs -f mm/src/kmap_local.rs -f mm/src/buddy.rs -f mm/src/zone.rs \
//!     -o target/mutants
//! ```
//!
//! Why the detour: `.cargo/config.toml` makes every cargo command inside the
//! tree build for the kernel target with build-std, and `--config` or
//! `CARGO_*` variables add to it rather than replace it. `mutants-cargo.sh`
//! runs cargo from `/` with `--manifest-path`, as `./run-qemu.sh host-test`
//! does; call the `cargo-mutants` binary directly, because `cargo mutants`
//! would set `$CARGO` back to plain cargo.
//!
//! Last run: 287 mutants, 270 caught, 1 missed, 7 timeouts, 9 unviable.
//! Every mutant not caught is one of these:
//!
//! * Missed, equivalent: `buddy::free_pages_prepare`, `pfn + 1` as
//!   `pfn * 1` makes the tail-page loop check the head page too. Its only
//!   caller, `Zone::free`, calls it after the head has passed
//!   `free_pages_check_entry` (not reserved, not free) and dropped its last
//!   reference, so the head always passes the tail check.
//! * Timeouts (5 in `Pkmap::map_new_virtual`: the cursor step, the wrap
//!   test, the count-down; `buddy::expand` and `Zone::free_boot_range`
//!   shrinking the order with `/=`): the mutant loops for ever, which the
//!   run's time limit catches; they count as detected.
//! * Unviable, they do not compile: `Default::default()` in place of
//!   `Pkmap::kmap_high`, `ZoneType::from_index`, `zone_spans` (4),
//!   `Zone::zone_type` and `kmap_local::slots` (none of these types has a
//!   `Default`), and `std::iter::empty()` for `slots` (the crate is
//!   `no_std`).
#![cfg_attr(not(test), no_std)]

// The VMA set (`vma`) is a `BTreeMap`: the kernel has a global allocator
// (kmalloc), host tests have std's.
extern crate alloc;

pub mod buddy;
pub mod fault_inject;
pub mod filemap;
pub mod gfp;
pub mod kmalloc;
pub mod kmap_guard;
pub mod kmap_local;
pub mod layout;
pub mod memblock;
pub mod node;
pub mod oom;
pub mod page;
pub mod pgtable_2level_types;
pub mod pgtable_3level;
pub mod pgtable_3level_types;
pub mod pgtable_types;
pub mod pkmap;
pub mod vma;
pub mod vmalloc;
pub mod zone;
