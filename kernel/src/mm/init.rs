//! Boot-time memory set-up (Linux `arch/x86/mm/init_32.c` and friends).
//!
//! The order matters, because each step needs the one before:
//!
//! 1. **memblock**: the firmware's memory map becomes a list of RAM ranges,
//!    and everything already in use (the first MiB, the kernel image, the
//!    bootloader's information) is reserved. From now on, boot-time memory
//!    comes from `memblock.alloc`.
//! 2. **the split**: `max_pfn` (end of RAM below `MAX_ARCH_PFN`) and
//!    `max_low_pfn` (end of lowmem, at most 896 MiB) decide the zones and
//!    the layout. Without PAE, RAM above 4 GiB is reported and dropped: a
//!    page table entry holds only 20 bits of frame number. With PAE (36
//!    bits, 64 GiB) it is highmem; only RAM above 64 GiB is dropped.
//! 3. **mem_map**: one `struct Page` for every frame below `max_pfn`, in
//!    lowmem (highmem frames need descriptors too; that is why they must
//!    live in lowmem and why lowmem is precious: 64 GiB of PAE highmem
//!    costs 512 MiB of it). If mem_map would leave less than
//!    `MIN_LOWMEM_AFTER_MEM_MAP` free, highmem is cut (reported).
//! 4. **paging_init**: `swapper_pg_dir` with 4 KiB pages for the direct map
//!    and preallocated page tables for the rest of the kernel's gigabyte;
//!    the early large-page map (4 MiB pages, or 2 MiB under PAE: see
//!    `boot::entry`) is dropped. The boot stack's guard page is
//!    left unmapped.
//! 5. **zones**: every free frame goes to its zone's buddy allocator.

use core::fmt;

use boot::info::{BootInfo, MemoryKind};
use mm::layout::{
    KERNEL_LOAD_PHYS, KERNEL_PGD_BOUNDARY, KERNEL_PTE_TABLES, KERNEL_VIRT_BASE, KernelLayout, PAGE_OFFSET,
    PAGE_SHIFT, PAGE_SIZE, phys_to_virt, virt_to_phys,
};
use mm::memblock::{MemRegion, Memblock, MemblockError, MemoryLayout, RegionKind};
use mm::page::{Page, init_mem_map, mem_map_bytes};

use super::page_alloc;
use super::pgtable;
use crate::arch::paging::{
    self, PAGE_KERNEL, PAGE_KERNEL_EXEC, PDE_KERNEL_TABLE, enable_global_pages, flush_tlb_all_local, pgd_t, pmd_t, pte_clear, pte_t,
    set_pmd, set_pte,
};
use crate::arch::{cpu, gdt};

unsafe extern "C" {
    static _kernel_phys_start: u8;
    static _kernel_phys_end: u8;
    static _text: u8;
    static _etext: u8;
    static _sdata: u8;
    static _edata: u8;
    static __bss_start: u8;
    static __bss_stop: u8;
}

/// Address of a linker-script symbol.
macro_rules! sym {
    ($s:ident) => {
        core::ptr::addr_of!($s) as usize
    };
}

/// Why memory could not be set up; each names what the user can change.
#[derive(Debug)]
pub enum MemInitError {
    /// memblock refused the memory map (no RAM, too little, too fragmented).
    Memblock(MemblockError),
    /// memblock ran out while allocating `what`.
    OutOfBootMemory { what: &'static str, bytes: usize },
    /// The image was not linked where `mm::layout` says.
    LinkedElsewhere { text: usize, phys_start: usize },
}

impl fmt::Display for MemInitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemInitError::Memblock(e) => write!(f, "{e}"),
            MemInitError::OutOfBootMemory { what, bytes } => write!(
                f,
                "too little RAM: could not allocate {} KiB of lowmem for {what} at boot",
                bytes >> 10
            ),
            MemInitError::LinkedElsewhere { text, phys_start } => write!(
                f,
                "kernel image linked at {text:#x} (load {phys_start:#x}); mm::layout expects \
                 {KERNEL_VIRT_BASE:#x} (load {KERNEL_LOAD_PHYS:#x}): linker.ld and layout.rs disagree"
            ),
        }
    }
}

impl From<MemblockError> for MemInitError {
    fn from(e: MemblockError) -> Self {
        MemInitError::Memblock(e)
    }
}

fn region_kind(kind: MemoryKind) -> RegionKind {
    match kind {
        MemoryKind::Available => RegionKind::Available,
        MemoryKind::Reserved => RegionKind::Reserved,
        MemoryKind::AcpiReclaimable => RegionKind::AcpiReclaimable,
        MemoryKind::AcpiNvs => RegionKind::AcpiNvs,
        MemoryKind::BadMemory => RegionKind::Bad,
        MemoryKind::Unknown(t) => RegionKind::Unknown(t),
    }
}

/// Boot-time allocation of zeroed, page-aligned lowmem.
fn alloc_zeroed(mb: &mut Memblock, bytes: usize, limit_pfn: usize, what: &'static str) -> Result<usize, MemInitError> {
    let phys = mb
        .alloc(bytes as u64, PAGE_SIZE as u64, limit_pfn)
        .ok_or(MemInitError::OutOfBootMemory { what, bytes })? as usize;
    // SAFETY: memblock returned RAM below max_low_pfn that nobody else owns;
    // the early page tables map all of it at PAGE_OFFSET.
    unsafe { core::ptr::write_bytes(phys_to_virt(phys) as *mut u8, 0, bytes) };
    Ok(phys)
}

/// Set up all of memory management. Called once by `start_kernel`.
pub fn mem_init(info: &BootInfo) -> Result<(), MemInitError> {
    let text = sym!(_text);
    let phys_start = sym!(_kernel_phys_start);
    if phys_start != KERNEL_LOAD_PHYS || text & !(PAGE_SIZE * 16 - 1) != KERNEL_VIRT_BASE {
        return Err(MemInitError::LinkedElsewhere { text, phys_start });
    }

    // 0. NX: EFER.NXE and __supported_pte_mask, before paging_init builds
    // the first entry that may carry _PAGE_NX (Linux does it in head_32.S;
    // our early boot map has no NX entry, so here is as early in effect).
    crate::arch::setup_nx::x86_configure_nx();

    // 1. memblock.
    let mut mb = Memblock::new();
    let mut regions = [MemRegion { base: 0, len: 0, kind: RegionKind::Reserved }; boot::info::MAX_MEMORY_REGIONS];
    let map = info.memory_map();
    for (dst, src) in regions.iter_mut().zip(map) {
        *dst = MemRegion { base: src.base, len: src.len, kind: region_kind(src.kind) };
    }
    mb.add_memory(&regions[..map.len()])?;
    mb.reserve_low_memory()?;
    mb.reserve(phys_start as u64, (sym!(_kernel_phys_end) - phys_start) as u64)?;
    let (info_start, info_end) = info.info_phys;
    mb.reserve(info_start as u64, (info_end - info_start) as u64)?;
    for m in info.modules() {
        mb.reserve(m.start as u64, (m.end - m.start) as u64)?;
    }

    // 2. The lowmem / highmem split.
    let split: MemoryLayout = mb.classify()?;
    // Linux's e820__end_of_ram_pfn() line.
    log::info!("last_pfn = {:#x} max_arch_pfn = {:#x}", split.end_of_ram_pfn, mm::layout::MAX_ARCH_PFN);
    // RAM above MAX_ARCH_PFN (4 GiB, or 64 GiB with PAE): see IgnoredRam
    // for the wording and where it differs from Linux's.
    if let Some(ignored) = split.ignored_ram() {
        for line in fmtbuf!(256, "{ignored}").as_str().lines() {
            log::warn!("{line}");
        }
    }
    let highmem_pages = split.max_pfn - split.max_low_pfn;
    log::info!("{}MB HIGHMEM available.", highmem_pages >> (20 - PAGE_SHIFT));
    log::info!("{}MB LOWMEM available.", split.max_low_pfn >> (20 - PAGE_SHIFT));
    let layout = KernelLayout::new(split.max_low_pfn);
    super::kmap_local::set_high_memory(layout.high_memory);
    super::kmap_local::report_config();

    // 3. mem_map: its lowmem cost, and highmem given up if it would eat
    // too much (the split above already accounts for it).
    if split.mem_map.clamped() {
        log::warn!("{}", split.mem_map);
    } else {
        log::info!("{}", split.mem_map);
    }
    let bytes = mem_map_bytes(split.max_pfn);
    let mem_map_phys = alloc_zeroed(&mut mb, bytes, split.max_low_pfn, "mem_map")?;
    // SAFETY: freshly allocated, reserved in memblock for ever, page aligned,
    // `bytes` long, and reachable through the direct map.
    let pages: &'static [Page] =
        unsafe { init_mem_map(phys_to_virt(mem_map_phys) as *mut Page, split.max_pfn) };
    log::info!(
        "mem_map: {} page descriptors of {} bytes at {:#010x} ({} KiB)",
        split.max_pfn,
        core::mem::size_of::<Page>(),
        phys_to_virt(mem_map_phys),
        bytes >> 10
    );

    // 4. Page tables.
    paging_init(&mut mb, split.max_low_pfn)?;

    // 5. Zones.
    page_alloc::init(pages, split, &mb);
    print_layout(&layout, &mut |line| log::info!("{line}"));
    for zone in page_alloc::zones() {
        // Byte addresses as u64: with PAE a zone may end above 4 GiB.
        log::info!(
            "  {:<8} [mem {:#010x}-{:#010x}] {} pages managed ({} spanned, {} present)",
            zone.name(),
            (zone.zone_start_pfn() as u64) << PAGE_SHIFT,
            ((zone.zone_end_pfn() as u64) << PAGE_SHIFT).wrapping_sub(1),
            zone.managed_pages(),
            zone.spanned_pages(),
            zone.present_pages()
        );
    }
    // One log line per line, so that each keeps its time and CPU.
    for line in fmtbuf!(1024, "{}", page_alloc::meminfo()).as_str().lines() {
        log::info!("Memory: {line}");
    }
    super::vmalloc::vmalloc_init();
    super::page_poison::init();
    Ok(())
}

/// The kernel's PMD entries in `swapper_pg_dir`: without PAE, the PMD is
/// folded, so they are the PGD entries from `KERNEL_PGD_BOUNDARY` on.
#[cfg(not(feature = "pae"))]
fn kernel_pmd_init(_mb: &mut Memblock, pgd: *mut pgd_t, _max_low_pfn: usize) -> Result<*mut pmd_t, MemInitError> {
    Ok(pgd.wrapping_add(KERNEL_PGD_BOUNDARY).cast())
}

/// The kernel's PMD entries in `swapper_pg_dir`: with PAE, one PMD page
/// under PDPTE 3 (the kernel's whole GiB), which every address space will
/// share (Linux's `SHARED_KERNEL_PMD`). The PDPTE carries only P: see
/// `PDPTE_FLAGS`.
#[cfg(feature = "pae")]
fn kernel_pmd_init(mb: &mut Memblock, pgd: *mut pgd_t, max_low_pfn: usize) -> Result<*mut pmd_t, MemInitError> {
    const { assert!(KERNEL_PGD_BOUNDARY == mm::layout::PTRS_PER_PGD - 1) };
    let pmd_phys = alloc_zeroed(mb, PAGE_SIZE, max_low_pfn, "kernel PMD")?;
    let entry = mm::pgtable_types::pfn_val(pmd_phys >> PAGE_SHIFT, mm::pgtable_types::PDPTE_FLAGS);
    // SAFETY: pgd is the page just allocated and not loaded yet.
    unsafe { pgd.add(KERNEL_PGD_BOUNDARY).write(pgd_t(entry)) };
    Ok(phys_to_virt(pmd_phys) as *mut pmd_t)
}

/// Build `swapper_pg_dir` and switch to it (Linux `paging_init` +
/// `kernel_physical_mapping_init` + `permanent_kmaps_init` +
/// `early_ioremap_page_table_range_init`).
fn paging_init(mb: &mut Memblock, max_low_pfn: usize) -> Result<(), MemInitError> {
    let pgd_phys = alloc_zeroed(mb, PAGE_SIZE, max_low_pfn, "swapper_pg_dir")?;
    let pgd = phys_to_virt(pgd_phys) as *mut pgd_t;
    let kernel_pmd = kernel_pmd_init(mb, pgd, max_low_pfn)?;
    let tables_phys = alloc_zeroed(mb, KERNEL_PTE_TABLES * PAGE_SIZE, max_low_pfn, "kernel page tables")?;
    for i in 0..KERNEL_PTE_TABLES {
        let table = tables_phys + i * PAGE_SIZE;
        // SAFETY: kernel_pmd is the kernel's run of KERNEL_PTE_TABLES PMD
        // entries in the page(s) we just allocated; not loaded yet.
        unsafe { set_pmd(kernel_pmd.add(i), pmd_t::new(table >> PAGE_SHIFT, PDE_KERNEL_TABLE)) };
    }
    // The direct map: frame n at PAGE_OFFSET + n * 4 KiB. The tables are
    // consecutive, so the PTE of frame n is entry n of one long array.
    //
    // NX: everything is PAGE_KERNEL (no-execute, once NX is on) except the
    // kernel's text, PAGE_KERNEL_EXEC. Linux builds the direct map
    // executable and then takes execute away from all but the text
    // (`mark_nxdata_nx`, `set_memory_nx`, the rodata marking); we build it
    // that way at once. Nothing else ever executes through these tables:
    // `.boot` runs before them (identity-mapped), and the AP trampoline
    // runs from its own identity page (`smpboot::trampoline_pgd`). Data,
    // rodata, bss (the boot stack), every other stack (they come from the
    // page allocator) and the rest of lowmem are NX.
    let ptes = phys_to_virt(tables_phys) as *mut pte_t;
    let text_pfns = virt_to_phys(sym!(_text)) >> PAGE_SHIFT..virt_to_phys(sym!(_etext)).div_ceil(PAGE_SIZE);
    for pfn in 0..max_low_pfn {
        let prot = if text_pfns.contains(&pfn) { PAGE_KERNEL_EXEC } else { PAGE_KERNEL };
        // SAFETY: max_low_pfn <= 896 MiB / 4 KiB < KERNEL_PTE_TABLES *
        // PTRS_PER_PTE entries (1 GiB); the entry is empty.
        unsafe { set_pte(ptes.add(pfn), pte_t::new(pfn, prot)) };
    }
    // The boot stack's guard page stays unmapped.
    let guard = boot::entry::boot_stack_guard();
    // SAFETY: the guard page is inside the kernel image, so in the direct map.
    unsafe { pte_clear(ptes.add(virt_to_phys(guard) >> PAGE_SHIFT)) };

    pgtable::set_swapper_pg_dir(pgd_phys);
    pgtable::cache_kmap_ptes();
    // SAFETY: the new tables map the kernel image, the boot stack and all of
    // lowmem at the same addresses as the early map did; only the identity
    // map of the first 8 MiB and anything past max_low_pfn disappear, and
    // nothing running uses those.
    unsafe { paging::load_cr3(pgd_phys) };
    if cpu::has_feature_edx(cpu::feature::PGE) {
        enable_global_pages();
    }
    flush_tlb_all_local();
    gdt::set_double_fault_cr3(pgd_phys);
    log::info!(
        "paging: swapper_pg_dir at {:#010x}, {} kernel page tables, direct map of {} pages (4 KiB each)",
        phys_to_virt(pgd_phys),
        KERNEL_PTE_TABLES,
        max_low_pfn
    );
    Ok(())
}

/// Linux's old boot-time table of the kernel's virtual memory, one line at
/// a time to `out` (the boot log, or the console's `layout` command).
pub fn print_layout(layout: &KernelLayout, out: &mut dyn FnMut(core::fmt::Arguments)) {
    fn size(bytes: usize) -> crate::fmtbuf::FmtBuf<16> {
        if bytes >= 64 << 20 {
            fmtbuf!(16, "{:4} MB", bytes >> 20)
        } else {
            fmtbuf!(16, "{:4} kB", bytes >> 10)
        }
    }
    out(format_args!("virtual kernel memory layout:"));
    for (name, start, end) in layout.regions() {
        out(format_args!("    {name:<7} : {start:#010x} - {end:#010x}   ({})", size(end - start).as_str()));
    }
    for (name, start, end) in [
        (".text", sym!(_text), sym!(_etext)),
        (".data", sym!(_sdata), sym!(_edata)),
        (".bss", sym!(__bss_start), sym!(__bss_stop)),
    ] {
        out(format_args!("      {name:<5} : {start:#010x} - {end:#010x}   ({})", size(end - start).as_str()));
    }
    debug_assert!(layout.high_memory > PAGE_OFFSET);
}
