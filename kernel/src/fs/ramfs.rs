//! ramfs: files whose only home is their pages (Linux `fs/ramfs/`).
//!
//! Linux's ramfs is the page cache with no disk behind it: a file *is* its
//! pages, which are never written back and never freed until the file is.
//! Here a regular file keeps its pages in a plain list ([`FilePages`]) and
//! a directory its entries in a sorted map. Nothing else: no block device,
//! no writeback, no size limit but free memory.
//!
//! The point of this file, in a highmem kernel: the file pages come from
//! `GFP_HIGHUSER`, so on a machine with highmem they *are* highmem
//! (Linux's `mapping_set_gfp_mask(..., GFP_HIGHUSER)` for ramfs inodes), and
//! every byte is read and written through [`kmap_local_page`], one page at
//! a time, never through the direct map. That is what makes a file read a
//! real consumer of kmap_local: a later `read()` copies from the mapped page
//! straight into the user's buffer, and may fault (and sleep) inside the
//! mapping.

use alloc::vec::Vec;

use mm::gfp::{__GFP_ZERO, GFP_HIGHUSER};
use mm::layout::PAGE_SIZE;
use mm::page::Page;

use super::FsError;
use crate::mm::kmap_local::{kmap_local_page, kunmap_local};
use crate::mm::page_alloc::{PageHighMem, __free_pages, alloc_pages};

/// The allocation flags of file pages: highmem first, lowmem when highmem
/// is gone (or the machine has none). Linux ramfs uses the same.
pub const GFP_RAMFS: mm::gfp::GfpFlags = GFP_HIGHUSER;

/// The contents of a regular file: `size` bytes in `pages` (page `i` holds
/// bytes `i * PAGE_SIZE ..`). Every page up to `size` exists (no holes);
/// bytes past `size` in the last page are zero.
#[derive(Default)]
pub struct FilePages {
    pages: Vec<&'static Page>,
    size: usize,
}

impl FilePages {
    /// An empty file.
    pub const fn new() -> Self {
        Self { pages: Vec::new(), size: 0 }
    }

    /// The file's size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The pages, in file order.
    pub fn pages(&self) -> &[&'static Page] {
        &self.pages
    }

    /// Call `f` on each piece of `[offset, offset + len)` that lies inside
    /// the file, in order, one page at a time: each piece is a slice of the
    /// file page mapped with `kmap_local_page` for the duration of the call
    /// only, so `f` may fault and sleep (a user copy), but must not keep the
    /// slice. `f` returns how many bytes of the piece it used; fewer than
    /// offered (a copy that came back short) ends the walk. Returns the
    /// bytes used in all. This is Linux's `filemap_read` loop, with `f` as
    /// its `copy_page_to_iter`.
    pub fn read_pages(&self, offset: usize, len: usize, mut f: impl FnMut(&[u8]) -> usize) -> usize {
        let end = offset.saturating_add(len).min(self.size);
        let mut pos = offset;
        while pos < end {
            let (index, in_page) = (pos / PAGE_SIZE, pos % PAGE_SIZE);
            let n = (PAGE_SIZE - in_page).min(end - pos);
            let vaddr = kmap_local_page(self.pages[index]);
            // SAFETY: kmap_local_page mapped the whole page at vaddr for
            // this task until the kunmap_local below; in_page + n <=
            // PAGE_SIZE. The slice does not outlive the call to f.
            let chunk = unsafe { core::slice::from_raw_parts((vaddr + in_page) as *const u8, n) };
            let used = f(chunk).min(n);
            kunmap_local(vaddr);
            pos += used;
            if used < n {
                break;
            }
        }
        pos.saturating_sub(offset)
    }

    /// Write `data` at `offset`, growing the file (zero-filled) as needed;
    /// new pages come from [`GFP_RAMFS`]. Each page is written through its
    /// own kmap_local mapping. On running out of memory the file keeps
    /// what was written before and the size grows only that far.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<(), FsError> {
        let end = offset.checked_add(data.len()).ok_or(FsError::FileTooBig)?;
        // Pages for the whole range first: a page that the write does not
        // cover completely is allocated zeroed (a hole, or the tail).
        let first_new = self.pages.len();
        let want = end.div_ceil(PAGE_SIZE);
        while self.pages.len() < want {
            let i = self.pages.len();
            let (page_start, page_end) = (i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
            let covered = offset <= page_start && end >= page_end;
            let gfp = if covered { GFP_RAMFS } else { GFP_RAMFS | __GFP_ZERO };
            match alloc_pages(gfp, 0) {
                Some(p) => self.pages.push(p),
                None => {
                    for p in self.pages.drain(first_new..) {
                        __free_pages(p, 0);
                    }
                    return Err(FsError::NoMemory);
                }
            }
        }
        let (mut pos, mut rest) = (offset, data);
        while !rest.is_empty() {
            let (index, in_page) = (pos / PAGE_SIZE, pos % PAGE_SIZE);
            let n = (PAGE_SIZE - in_page).min(rest.len());
            let vaddr = kmap_local_page(self.pages[index]);
            // SAFETY: the page is mapped at vaddr until kunmap_local;
            // in_page + n <= PAGE_SIZE; the page belongs to this file,
            // whose &mut self the caller holds.
            unsafe { core::ptr::copy_nonoverlapping(rest.as_ptr(), (vaddr + in_page) as *mut u8, n) };
            kunmap_local(vaddr);
            pos += n;
            rest = &rest[n..];
        }
        self.size = self.size.max(end);
        Ok(())
    }

    /// Cut the file to nothing, freeing its pages (`O_TRUNC`).
    pub fn truncate(&mut self) {
        for p in self.pages.drain(..) {
            __free_pages(p, 0);
        }
        self.size = 0;
    }

    /// How many of the pages are highmem.
    pub fn nr_highmem_pages(&self) -> usize {
        self.pages.iter().filter(|p| PageHighMem(p)).count()
    }
}

impl Drop for FilePages {
    /// The last reference to a file is gone: its pages go back (Linux
    /// `truncate_inode_pages` in `evict`).
    fn drop(&mut self) {
        self.truncate();
    }
}
