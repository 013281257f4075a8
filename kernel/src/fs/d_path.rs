//! `getcwd` (Linux `fs/d_path.c`): the current directory's name, built
//! from the bottom up by following each directory's parent to the root
//! and finding its name there.

use crate::arch::entry::PtRegs;
use crate::arch::lib::usercopy_32::copy_to_user;
use crate::errno::{EFAULT, ENOENT, ERANGE};

/// The current directory's absolute path as Linux's `getcwd` writes it,
/// or `ENOENT` if it has been removed (Linux answers "(unreachable)" only
/// through `/proc`; the system call says `ENOENT`).
pub fn d_path_cwd() -> Result<alloc::string::String, i32> {
    let base = super::namei::Base::current();
    // The names must not change under us (Linux: rename_lock).
    let _ns = super::libfs::NAMESPACE_LOCK.lock();
    let names = super::namei::path_names(&base.root, &base.cwd).ok_or(ENOENT)?;
    let mut path = alloc::string::String::new();
    for n in &names {
        path.push('/');
        path.push_str(n);
    }
    if path.is_empty() {
        path.push('/');
    }
    Ok(path)
}

/// `getcwd(buf, size)` (i386 183): writes the path and its NUL; returns
/// the length including the NUL (the raw system call's value; C's
/// `getcwd` turns it into `buf`). `ERANGE` if `size` cannot hold it,
/// `EFAULT` for a bad buffer, `ENOENT` for a removed directory.
pub fn sys_getcwd(regs: &mut PtRegs) -> i32 {
    let (buf, size) = (regs.bx as usize, regs.cx as usize);
    let mut path = match d_path_cwd() {
        Ok(p) => p.into_bytes(),
        Err(e) => return -e,
    };
    path.push(0);
    if path.len() > size {
        return -ERANGE;
    }
    if copy_to_user(buf, &path) != 0 {
        return -EFAULT;
    }
    path.len() as i32
}
