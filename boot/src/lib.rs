//! Everything about how the kernel is started: the multiboot 1 and multiboot 2
//! headers that make one ELF bootable by both QEMU `-kernel` and GRUB, the
//! 32-bit entry code that turns on paging, and the parsing that turns either
//! protocol's boot information into one [`info::BootInfo`].
//!
//! The initramfs the bootloader hands over as a module is a cpio archive;
//! [`initramfs`] reads and checks its entries.
//!
//! The firmware's ACPI tables are read here too ([`acpi`]): the bytes of the
//! RSDP, the root table and the MADT, which the kernel finds and maps.
//!
//! The parsers are plain Rust and run as host unit tests; the entry code is
//! compiled only for the kernel target.
#![cfg_attr(not(test), no_std)]

pub mod acpi;
pub mod cmdline;
pub mod info;
pub mod initramfs;
pub mod multiboot1;
pub mod multiboot2;
pub mod rtc;

#[cfg(target_os = "none")]
pub mod entry;
