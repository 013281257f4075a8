"""gdb commands for looking at the highmem machinery of a stopped kernel.

    ./run-qemu.sh --gdb                      # QEMU waits on :1234
    gdb -x kernel/gdb/highmem.py target/i686-kernel/debug/kernel
    (gdb) target remote :1234
    (gdb) continue        ... Ctrl-C when you want to look
    (gdb) pkmap           the PKMAP slots (1024; 512 on 686-pae), the cursor, the counters
    (gdb) kmap-local 0    the kmap_local stack of the task running on CPU 0
    (gdb) cpu-slots 0     CPU 0's fixmap slot PTEs as the MMU sees them (a walk from CR3)

They read the kernel's own statics through gdb's Rust support: the PKMAP
pool inside `kernel::mm::kmap::KMAP_LOCK`, the per-CPU blocks in
`kernel::percpu::PERCPU`, and the cached kmap PTE array
`kernel::mm::pgtable::KMAP_PTE_BASE`; `cpu-slots` also walks the page
tables from CR3, as the MMU does, and checks that it lands on that array.

Both flavours: the 686 kernel (2-level: CR3 -> PGD -> PTE, 32-bit
entries, a 4 MiB PMD folded into the PGD, LAST_PKMAP 1024) and the 686-pae
one (CR3 -> PDPT -> PMD -> PTE, 64-bit entries, a 2 MiB PMD, LAST_PKMAP
512). Which one is stopped comes from the debug information (the size of
`pteval_t`, a saved PTE: 8 bytes under PAE), checked against CR4.PAE when
gdb can read the control registers.

Rust `const`s leave nothing in the debug information, so the numbers of
mm/src/layout.rs come from what does: the lengths of the kernel's arrays
(NR_CPUS is the length of PERCPU, LAST_PKMAP that of the pool's counts,
KM_MAX_IDX_DEBUG that of a task's saved PTEs) and, for FIX_KMAP_BEGIN, the
position of CPU 0's first slot PTE inside the fixmap page table. What is
left as a constant below is architecture (FIXADDR_TOP, each flavour's PMD
size, PAGE_OFFSET) or has no trace in the image (KM_MAX_IDX without guard
slots).
"""
import gdb

PAGE_SHIFT = 12
FIXADDR_TOP = 0xFFFFF000      # mm/src/layout.rs: the top page (FIX_HOLE) is never mapped
PAGE_OFFSET = 0xC0000000      # the direct map of lowmem (VMSPLIT_3G)
LOWMEM_END = 896 << 20        # physical: as far as the direct map reaches
KM_MAX_IDX = 16               # slots per CPU without guard slots (Linux KM_MAX_IDX)
PTE_PFN_MASK_PAE = 0x000FFFFFFFFFF000   # bits 12-51; bit 63 is NX
_PAGE_PRESENT, _PAGE_PSE = 0x1, 0x80
_PAGE_NX = 1 << 63


class Flavour:
    """The page-table geometry of the stopped kernel."""

    def __init__(self, pae, cr4_pae):
        self.pae = pae
        self.cr4_pae = cr4_pae                          # None: gdb cannot read CR4
        self.name = "686-pae" if pae else "686"
        self.entry = 8 if pae else 4                   # sizeof(pte_t)
        self.pmd_size = (2 << 20) if pae else (4 << 20)
        # layout.rs asserts the fixmap fits one PMD, and PKMAP is the PMD below.
        self.fixmap_pmd_base = FIXADDR_TOP & ~(self.pmd_size - 1)
        self.pkmap_base = self.fixmap_pmd_base - self.pmd_size
        self.walk = "CR3 -> PDPT -> PMD -> PTE, 64-bit entries" if pae else "CR3 -> PGD -> PTE, 32-bit entries"

    def pfn(self, pte):
        return ((pte & PTE_PFN_MASK_PAE) if self.pae else (pte & 0xFFFFF000)) >> PAGE_SHIFT

    def describe(self, pte):
        nx = " NX" if self.pae and pte & _PAGE_NX else ""
        return f"pfn {self.pfn(pte):#x} flags {pte & 0xfff:#x}{nx}"


def flavour():
    """686 or 686-pae: from the size of pteval_t in the debug information,
    and CR4.PAE (bit 5) if gdb can read it (with paging on); they agree."""
    size = gdb.lookup_type("mm::kmap_local::KmapCtrl")["pteval"].type.strip_typedefs().target().sizeof
    if size not in (4, 8):
        raise gdb.GdbError(f"pteval_t is {size} bytes: neither the 686 (4) nor the 686-pae (8) flavour")
    pae = size == 8
    try:
        cr0 = int(gdb.parse_and_eval("$cr0"))
        cr4 = int(gdb.parse_and_eval("$cr4"))
    except gdb.error:
        return Flavour(pae, None)
    cr4_pae = bool(cr4 & (1 << 5))
    if cr0 & (1 << 31) and cr4_pae != pae:
        raise gdb.GdbError(f"the image's PTEs are {size} bytes but CR4.PAE is {int(cr4_pae)}: "
                           "is gdb reading the other flavour's kernel?")
    return Flavour(pae, cr4_pae)


def read_entry(fl, vaddr):
    raw = bytes(gdb.selected_inferior().read_memory(vaddr, fl.entry))
    return int.from_bytes(raw, "little")


def phys_to_virt(phys, what):
    if phys >= LOWMEM_END:
        raise gdb.GdbError(f"{what} at physical {phys:#x} is not in lowmem: gdb reads through the direct map only")
    return phys + PAGE_OFFSET


def walk(fl, vaddr):
    """The PTE the MMU uses for kernel address `vaddr`, walking from this
    CPU's CR3: (the PTE's address, its value), or (None, why not)."""
    cr3 = int(gdb.parse_and_eval("$cr3"))
    if fl.pae:
        # CR3 -> PDPT (4 entries, 32-byte aligned) -> PMD (512) -> PTE (512).
        pdpte = read_entry(fl, phys_to_virt(cr3 & ~0x1F, "the PDPT") + 8 * (vaddr >> 30))
        if not pdpte & _PAGE_PRESENT:
            return None, f"PDPT entry {vaddr >> 30} not present"
        pmd = read_entry(fl, phys_to_virt(pdpte & PTE_PFN_MASK_PAE, "the PMD") + 8 * ((vaddr >> 21) & 0x1FF))
        table = pmd & PTE_PFN_MASK_PAE
        index = (vaddr >> PAGE_SHIFT) & 0x1FF
    else:
        # CR3 -> PGD (1024 entries, the PMD folded into it) -> PTE (1024).
        pmd = read_entry(fl, phys_to_virt(cr3 & ~0xFFF, "the PGD") + 4 * (vaddr >> 22))
        table = pmd & 0xFFFFF000
        index = (vaddr >> PAGE_SHIFT) & 0x3FF
    if not pmd & _PAGE_PRESENT:
        return None, "PMD entry not present"
    if pmd & _PAGE_PSE:
        return None, "mapped by a large page"
    ptep = phys_to_virt(table, "the page table") + fl.entry * index
    return ptep, read_entry(fl, ptep)


def val(expr):
    return gdb.parse_and_eval(expr)


def array_len_type(t):
    """Number of elements of a Rust array type."""
    lo, hi = t.strip_typedefs().range()
    return hi - lo + 1


def array_len(v):
    """Number of elements of a Rust array value, from its type."""
    return array_len_type(v.type)


def atomic(v):
    """The value inside a core::sync::atomic::Atomic* (pointer-sized ones
    wrap it once more, in an alignment newtype)."""
    inner = v["v"]["value"]
    for field in ("__0", "0"):  # gdb names tuple-struct fields __0
        try:
            return inner[field]
        except gdb.error:
            pass
    return inner


def percpu():
    return val("kernel::percpu::PERCPU")


def nr_cpus():
    """NR_CPUS: the length of the per-CPU array."""
    return array_len(percpu())


def online_cpus():
    """The CPUs marked online (the kernel's cpu_online_mask)."""
    pc = percpu()
    return [c for c in range(nr_cpus()) if bool(atomic(pc[c]["online"]))]


def cpu_ranges(cpus):
    """[0, 1, 2, 5] -> '0-2,5'."""
    out, start = [], None
    for i, c in enumerate(cpus):
        if start is None:
            start = c
        if i + 1 == len(cpus) or cpus[i + 1] != c + 1:
            out.append(str(start) if start == c else f"{start}-{c}")
            start = None
    return ",".join(out)


def parse_cpu(cmd, arg):
    """The CPU argument of `cmd [CPU]` (default 0), checked against the
    kernel: a word that is not a number, or a CPU that does not exist or is
    not online, is an error in words rather than a traceback or slots that
    belong to no CPU."""
    words = arg.split()
    if len(words) > 1:
        raise gdb.GdbError(f"{cmd}: one CPU number, not '{arg.strip()}' (usage: {cmd} [CPU])")
    if not words:
        cpu = 0
    elif words[0].isdigit():
        cpu = int(words[0])
    else:
        raise gdb.GdbError(f"{cmd}: '{words[0]}' is not a CPU number (usage: {cmd} [CPU])")
    online = online_cpus()
    if not online:
        have = f"no CPU is online yet (NR_CPUS={nr_cpus()}): let the kernel boot further"
    else:
        plural = "s" if len(online) > 1 else ""
        have = f"this kernel has CPU{plural} {cpu_ranges(online)} online (NR_CPUS={nr_cpus()})"
    if cpu >= nr_cpus():
        raise gdb.GdbError(f"{cmd}: no CPU {cpu}: {have}")
    if cpu not in online:
        raise gdb.GdbError(f"{cmd}: CPU {cpu} is not online: {have}")
    return cpu


def no_argument(cmd, arg):
    if arg.strip():
        raise gdb.GdbError(f"{cmd}: takes no argument (usage: {cmd})")


def kmap_layout():
    """(slots per CPU, index step per mapping, FIX_KMAP_BEGIN).

    With `debug_kmap_local` every mapping has a guard slot below it, and the
    per-CPU stride is KM_MAX_IDX_DEBUG: the length of the PTE array each task
    saves (`KmapCtrl.pteval`, sized for the larger stride). FIX_KMAP_BEGIN
    comes from where the kernel cached CPU 0's slot 0 PTE: its offset in the
    fixmap page table is the slot's page within the fixmap PMD."""
    fl = flavour()
    debug = bool(atomic(val("kernel::mm::kmap_local::DEBUG")))
    km_max_debug = kmap_ctrl_slots()
    base = int(atomic(val("kernel::mm::pgtable::KMAP_PTE_BASE")))
    if base == 0:
        raise gdb.GdbError("the kmap PTEs are not cached yet (paging_init has not run): continue further into the boot")
    slot0 = fl.fixmap_pmd_base + (((base & 0xFFF) // fl.entry) << PAGE_SHIFT)
    fix_kmap_begin = (FIXADDR_TOP - slot0) >> PAGE_SHIFT
    return (km_max_debug, 2, fix_kmap_begin) if debug else (KM_MAX_IDX, 1, fix_kmap_begin)


def kmap_ctrl_slots():
    """KM_MAX_IDX_DEBUG: the length of KmapCtrl.pteval, from its type."""
    return array_len_type(gdb.lookup_type("mm::kmap_local::KmapCtrl")["pteval"].type)


def task_name(task):
    name = task["name"]
    n = int(name["len"])
    return bytes(int(name["buf"][i]) for i in range(n)).decode(errors="replace")


class Pkmap(gdb.Command):
    """pkmap: the PKMAP pool (counts per slot, cursor, counters)."""

    def __init__(self):
        super().__init__("pkmap", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        no_argument("pkmap", arg)
        fl = flavour()
        pool = val("kernel::mm::kmap::KMAP_LOCK")["data"]["value"]
        last_pkmap = array_len(pool["count"])
        counts = [int(pool["count"][i]) for i in range(last_pkmap)]
        print(f"PKMAP at {fl.pkmap_base:#x} ({last_pkmap} slots, {fl.name}): cursor last_pkmap_nr = {int(pool['last_pkmap_nr'])}")
        for row in range(0, last_pkmap, 64):
            line = "".join("." if c == 0 else "u" if c == 1 else str(min(c - 1, 9)) for c in counts[row:row + 64])
            print(f"{row:4} {line}")
        free = counts.count(0)
        unused = counts.count(1)
        print(f"free {free}, unused {unused}, in use {last_pkmap - free - unused}")
        s = pool["stats"]
        print("maps {} reuses {} wraps {} flushes {} waits {}".format(*(int(s[k]) for k in ("maps", "reuses", "wraps", "flushes", "waits"))))


class KmapLocal(gdb.Command):
    """kmap-local [CPU]: the kmap_local slot stack of the task running on CPU."""

    def __init__(self):
        super().__init__("kmap-local", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        cpu = parse_cpu("kmap-local", arg)
        fl = flavour()
        km_max, incr, fix_kmap_begin = kmap_layout()
        ptr = atomic(percpu()[cpu]["current"])
        if int(ptr) == 0:
            print(f"CPU {cpu}: no task")
            return
        task = ptr.dereference()
        ctrl = task["kmap_ctrl"]["value"]
        idx = int(ctrl["idx"])
        print(f"CPU {cpu}: task {task_name(task)}/{int(task['id'])}, kmap_ctrl.idx = {idx} "
              f"({idx // incr} mapping(s)), migrate_disable = {int(atomic(task['migrate_disable']))}")
        for slot in range(idx):
            pte = int(ctrl["pteval"][slot])
            vaddr = FIXADDR_TOP - ((fix_kmap_begin + slot + km_max * cpu) << PAGE_SHIFT)
            kind = "guard" if incr == 2 and slot % 2 == 0 else fl.describe(pte)
            print(f"  slot {slot:2} at {vaddr:#010x}: {kind}")


class CpuSlots(gdb.Command):
    """cpu-slots [CPU]: CPU's fixmap kmap slot PTEs as installed now."""

    def __init__(self):
        super().__init__("cpu-slots", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        cpu = parse_cpu("cpu-slots", arg)
        fl = flavour()
        km_max, _, fix_kmap_begin = kmap_layout()
        base = int(atomic(val("kernel::mm::pgtable::KMAP_PTE_BASE")))
        cr4 = "CR4 unreadable" if fl.cr4_pae is None else f"CR4.PAE {int(fl.cr4_pae)}"
        print(f"CPU {cpu}: {km_max} slots ({fl.name}: {fl.walk}, walked from this CPU's CR3; {cr4})")
        for slot in range(km_max):
            idx = slot + km_max * cpu
            vaddr = FIXADDR_TOP - ((fix_kmap_begin + idx) << PAGE_SHIFT)
            cached = base - fl.entry * idx
            ptep, pte = walk(fl, vaddr)
            if ptep is None:
                print(f"  slot {slot:2} at {vaddr:#010x}: the walk stops: {pte}")
                continue
            if ptep != cached:
                print(f"  slot {slot:2} at {vaddr:#010x}: the walk reaches the PTE at {ptep:#x}, "
                      f"but the kernel's kmap_pte() says {cached:#x}")
            state = "empty" if pte == 0 else fl.describe(pte)
            print(f"  slot {slot:2} at {vaddr:#010x}: {state}")


Pkmap()
KmapLocal()
CpuSlots()
print("highmem gdb commands: pkmap, kmap-local [CPU], cpu-slots [CPU]")
