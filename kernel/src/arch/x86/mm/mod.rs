//! The memory-management side of the CPU (Linux `arch/x86/mm/` and
//! `arch/x86/include/asm/pgtable*.h`, `tlbflush.h`): what a page-table entry
//! looks like, the TLB instructions, and the exception table.
pub mod extable;
pub mod fault;
pub mod paging;
pub mod setup_nx;
pub mod tlb;
