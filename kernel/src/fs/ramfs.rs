//! ramfs: files whose only home is the page cache (Linux `fs/ramfs/`,
//! `fs/ramfs/file-mmu.c`, and the `simple_*` helpers of `fs/libfs.c`).
//!
//! Linux's ramfs is the page cache with no disk behind it: a file *is* its
//! pages, which are never written back and never freed until the file is
//! truncated or deleted. Here a regular file is [`FilePages`]: its
//! `struct address_space` (`kernel/src/mm/filemap.rs`: pages by index, so
//! a hole costs nothing), its `i_size`, and its `i_rwsem` (writers and
//! truncation take it; readers do not). A directory keeps its entries in a
//! sorted map (`fs/mod.rs`).
//!
//! The point of this file, in a highmem kernel: the file pages come from
//! `GFP_HIGHUSER_MOVABLE` (Linux's `inode_init_always` sets that mask for
//! every inode), so on a machine with highmem they *are* highmem, and every
//! byte is read and written through a temporary mapping (kmap_local, or
//! kmap_atomic/kmap in the old copy mode), never through the direct map.
//!
//! The address-space operations, as Linux's `ram_aops`:
//!
//! | operation            | what it does here (and in Linux's libfs)                         |
//! |----------------------|-------------------------------------------------------------------|
//! | `simple_read_folio`  | a page not in the cache is a hole: zero it, mark it up to date    |
//! | `simple_write_begin` | find or create the page, locked; a new page that the write covers only in part is zeroed around the write (`zero_user_segments`) |
//! | `simple_write_end`   | a short copy into a new page zeroes what did not arrive; `i_size` grows to `pos + copied` only; unlock, put; return `copied` |

use alloc::vec::Vec;

use mm::filemap::{MAX_LFS_FILESIZE, page_index, write_begin_zero_segments, write_end_size};
use mm::layout::PAGE_SIZE;
use mm::page::Page;

use super::FsError;
use crate::errno::{EFAULT, ENOMEM};
use crate::locking::Mutex;
use crate::mm::filemap::{AddressSpace, AddressSpaceOperations, ISize, IovIter, filemap_read, generic_perform_write, put_page, unlock_page};
use crate::mm::highmem::zero_user_segments;
use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
use crate::mm::page_alloc::PageHighMem;

/// ramfs's largest file (Linux ramfs sets `s_maxbytes =
/// MAX_LFS_FILESIZE`).
pub const RAMFS_MAXBYTES: u64 = MAX_LFS_FILESIZE;

/// ramfs's address-space operations (Linux `ram_aops`).
pub struct RamAops;

/// The one instance.
pub static RAM_AOPS: RamAops = RamAops;

impl AddressSpaceOperations for RamAops {
    /// Linux `simple_read_folio`: there is nothing to read from, so a page
    /// the cache does not have is a hole, and reads as zeros.
    fn read_folio(&self, page: &'static Page) {
        zero_user_segments(page, 0, 0, PAGE_SIZE, PAGE_SIZE, PAGE_SIZE);
        page.set_uptodate();
        unlock_page(page);
    }

    /// Linux `simple_write_begin`: the page, locked
    /// (`grab_cache_page_write_begin`); if it is new and the write covers
    /// only `[from, from + len)` of it, the rest is zeroed first, so the
    /// file never shows what the page held before.
    fn write_begin(&self, mapping: &AddressSpace, pos: u64, len: usize) -> Result<&'static Page, i32> {
        let (index, from) = page_index(pos);
        let page = mapping.find_or_create_page(index).map_err(|_| ENOMEM)?;
        if !page.page_uptodate() && len != PAGE_SIZE {
            let [(s1, e1), (s2, e2)] = write_begin_zero_segments(from, len);
            zero_user_segments(page, 0, s1, e1, s2, e2);
        }
        Ok(page)
    }

    /// Linux `simple_write_end` (6.1): a short copy into a page that was
    /// not up to date zeroes the part that did not arrive (the rest was
    /// zeroed by `write_begin`), so the whole page is valid and marked up
    /// to date; `i_size` grows to the end of what was *copied*; the page
    /// is unlocked and put. Returns `copied`, which may be 0: then
    /// `generic_perform_write` prefaults again and retries.
    fn write_end(&self, i_size: &ISize, pos: u64, len: usize, copied: usize, page: &'static Page) -> usize {
        if !page.page_uptodate() {
            if copied < len {
                let from = page_index(pos).1;
                zero_user_segments(page, 0, from + copied, from + len, PAGE_SIZE, PAGE_SIZE);
            }
            page.set_uptodate();
        }
        // The caller holds i_rwsem: i_size cannot change under us.
        let size = i_size.read();
        let new = write_end_size(size, pos, copied);
        if new != size {
            i_size.write(new);
        }
        unlock_page(page);
        put_page(page);
        copied
    }
}

/// The contents of a regular file (the parts of Linux's ramfs inode that
/// hold them): the page cache, the size, the lock writers take.
pub struct FilePages {
    /// The file's pages (Linux `inode->i_mapping`).
    pub i_mapping: AddressSpace,
    /// The size in bytes (Linux `inode->i_size`).
    pub i_size: ISize,
    /// Serialises writers and truncation (Linux `inode->i_rwsem`, taken
    /// by `generic_file_write_iter` and `do_truncate`); readers do not
    /// take it.
    pub i_rwsem: Mutex<()>,
    /// The address spaces that map this file (Linux's `i_mmap`, an
    /// interval tree of the VMAs, under `i_mmap_rwsem`). Ours is simpler,
    /// and says so: a list of the `mm`s that have mapped the file, weak
    /// (an `mm` that exited is skipped and pruned); which of their areas
    /// map which pages is found in each `mm`'s VMAs, under its
    /// `mmap_lock`, when `unmap_mapping_range` needs it. Added to by
    /// `mmap2` and `fork`.
    pub i_mmap: crate::locking::SpinLock<Vec<alloc::sync::Weak<crate::mm::mm_types::MmStruct>>>,
}

impl Default for FilePages {
    fn default() -> Self {
        Self::new()
    }
}

impl FilePages {
    /// An empty file.
    pub const fn new() -> Self {
        Self { i_mapping: AddressSpace::new(), i_size: ISize::new(), i_rwsem: Mutex::new(()), i_mmap: crate::locking::SpinLock::new(Vec::new()) }
    }

    /// The file's size in bytes (`i_size_read`).
    pub fn i_size(&self) -> u64 {
        self.i_size.read()
    }

    /// The size as a `usize` (saturating: a sparse file may be larger
    /// than the address space).
    pub fn size(&self) -> usize {
        usize::try_from(self.i_size()).unwrap_or(usize::MAX)
    }

    /// The cached pages in index order (a hole has none).
    pub fn pages(&self) -> Vec<&'static Page> {
        self.i_mapping.pages().into_iter().map(|(_, p)| p).collect()
    }

    /// Read `[offset, offset + len)` (cut at the size) as `filemap_read`
    /// does: call `f` on each piece, one page at a time, the page mapped
    /// with `kmap_local_page` for the duration of the call only, so `f`
    /// may fault and sleep (a user copy) but must not keep the slice. `f`
    /// returns how many bytes of the piece it used; fewer than offered ends
    /// the walk. A hole reads as zeros (its page is created, zero-filled,
    /// as Linux's `simple_read_folio` does). Returns the bytes used in all.
    pub fn read_pages(&self, offset: usize, len: usize, mut f: impl FnMut(&[u8]) -> usize) -> Result<usize, FsError> {
        let r = filemap_read(&RAM_AOPS, &self.i_mapping, &self.i_size, offset as u64, len, |page, off, n| {
            let vaddr = kmap_local_page(page);
            // SAFETY: kmap_local_page mapped the whole page at vaddr for
            // this task until the kunmap_local below; off + n <=
            // PAGE_SIZE. The slice does not outlive the call to f.
            let chunk = unsafe { core::slice::from_raw_parts((vaddr + off) as *const u8, n) };
            let used = f(chunk).min(n);
            kunmap_local(vaddr);
            used
        });
        match r {
            Ok(n) => Ok(n),
            Err(EFAULT) => Ok(0), // f took nothing of the first piece
            Err(_) => Err(FsError::NoMemory),
        }
    }

    /// Write `data` at `offset` (`kernel_write`: `generic_perform_write`
    /// from a kernel buffer, under `i_rwsem`). The bytes between the old
    /// end and `offset` stay a hole. On running out of memory the file
    /// keeps what was written before and the size grows only that far:
    /// `ENOMEM` if anything is missing.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), FsError> {
        let end = (offset as u64).checked_add(data.len() as u64).ok_or(FsError::FileTooBig)?;
        if end > RAMFS_MAXBYTES {
            return Err(FsError::FileTooBig);
        }
        let _guard = self.i_rwsem.lock();
        let mut iter = IovIter::kvec(data);
        match generic_perform_write(&RAM_AOPS, &self.i_mapping, &self.i_size, &mut iter, offset as u64) {
            Ok(n) if n == data.len() => Ok(()),
            _ => Err(FsError::NoMemory),
        }
    }

    /// Set the size to `newsize` (Linux `simple_setattr` →
    /// `truncate_setsize`): `i_size` first, then the page cache cut to it
    /// (pages wholly past the end freed, the page the end falls in zeroed
    /// from there on). Growing the file makes a hole: no page is
    /// allocated. `EFBIG` past ramfs's largest size (`inode_newsize_ok`).
    pub fn truncate(&self, newsize: u64) -> Result<(), FsError> {
        if newsize > RAMFS_MAXBYTES {
            return Err(FsError::FileTooBig);
        }
        let _guard = self.i_rwsem.lock();
        let old = self.i_size();
        self.i_size.write(newsize);
        // Linux `truncate_pagecache`: unmap the pages past the new end from
        // every process that maps them (private copies too: "even_cows"),
        // so that a later touch faults and finds i_size (SIGBUS); then cut
        // the cache. The partial last page stays mapped (its tail is
        // zeroed in place, as Linux does).
        if newsize < old {
            self.unmap_mapping_range(newsize.div_ceil(PAGE_SIZE as u64));
        }
        self.i_mapping.truncate_inode_pages(newsize);
        Ok(())
    }

    /// Note that `mm` maps this file (for [`unmap_mapping_range`](Self::unmap_mapping_range)).
    pub fn i_mmap_insert(&self, mm: &alloc::sync::Arc<crate::mm::mm_types::MmStruct>) {
        let mut list = self.i_mmap.lock_irqsave();
        list.retain(|w| w.strong_count() > 0);
        if !list.iter().any(|w| core::ptr::eq(w.as_ptr(), alloc::sync::Arc::as_ptr(mm))) {
            list.push(alloc::sync::Arc::downgrade(mm));
        }
    }

    /// Take every page of the file from page `first` on out of every
    /// address space that maps it (Linux `unmap_mapping_range(mapping,
    /// holebegin, 0, even_cows = 1)`): for each `mm` in `i_mmap`, under its
    /// `mmap_lock`, each area of this file whose pages reach `first` has
    /// that part zapped (the PTEs cleared, the TLBs flushed where the `mm`
    /// is loaded, the page references dropped). Returns how many areas
    /// were cut. The caller holds `i_rwsem` (lock order: `i_rwsem`, then
    /// `mmap_lock`, as a `write()` that faults on its source takes them).
    pub fn unmap_mapping_range(&self, first: u64) -> usize {
        let mms: Vec<alloc::sync::Arc<crate::mm::mm_types::MmStruct>> =
            self.i_mmap.lock_irqsave().iter().filter_map(|w| w.upgrade()).collect();
        let mut cut = 0;
        for mm in &mms {
            let map = mm.mmap_lock();
            let Some(inode) = mm.vm_files().into_iter().find(|i| i.file().is_ok_and(|f| core::ptr::eq(f, self))) else {
                continue;
            };
            let id = mm::vma::VmaKind::File(mm::vma::FileId(inode.ino));
            for v in map.iter().filter(|v| v.kind == id) {
                let last = v.vm_pgoff as u64 + v.vma_pages() as u64;
                if last <= first {
                    continue;
                }
                let from = if first <= v.vm_pgoff as u64 {
                    v.vm_start
                } else {
                    v.vm_start + ((first - v.vm_pgoff as u64) as usize) * PAGE_SIZE
                };
                mm.zap_page_range(from, v.vm_end);
                cut += 1;
            }
        }
        cut
    }

    /// How many of the pages are highmem.
    pub fn nr_highmem_pages(&self) -> usize {
        self.pages().iter().filter(|p| PageHighMem(p)).count()
    }
}
