"""gdb commands for looking at the highmem machinery of a stopped kernel.

    ./run-qemu.sh --gdb                      # QEMU waits on :1234
    gdb -x kernel/gdb/highmem.py target/i686-kernel/debug/kernel
    (gdb) target remote :1234
    (gdb) continue        ... Ctrl-C when you want to look
    (gdb) pkmap           the 1024 PKMAP slots, the cursor, the counters
    (gdb) kmap-local 0    the kmap_local stack of the task running on CPU 0
    (gdb) cpu-slots 0     CPU 0's fixmap slot PTEs as the MMU sees them

They read the kernel's own statics through gdb's Rust support: the PKMAP
pool inside `kernel::mm::kmap::KMAP_LOCK`, the per-CPU blocks in
`kernel::percpu::PERCPU`, and the cached kmap PTE array
`kernel::mm::pgtable::KMAP_PTE_BASE`.
"""
import gdb

LAST_PKMAP = 1024
PKMAP_BASE = 0xFF800000
FIXADDR_TOP = 0xFFFFF000
FIX_KMAP_BEGIN = 4  # mm/src/layout.rs: FIX_HOLE, FIX_APIC_BASE, 2 x IO-APIC


def val(expr):
    return gdb.parse_and_eval(expr)


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


def config():
    debug = bool(atomic(val("kernel::mm::kmap_local::DEBUG")))
    return (33, 2) if debug else (16, 1)  # KM_MAX_IDX, KM_INCR


def task_name(task):
    name = task["name"]
    n = int(name["len"])
    return bytes(int(name["buf"][i]) for i in range(n)).decode(errors="replace")


class Pkmap(gdb.Command):
    """pkmap: the PKMAP pool (counts per slot, cursor, counters)."""

    def __init__(self):
        super().__init__("pkmap", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        pool = val("kernel::mm::kmap::KMAP_LOCK")["data"]["value"]
        counts = [int(pool["count"][i]) for i in range(LAST_PKMAP)]
        print(f"PKMAP at {PKMAP_BASE:#x}: cursor last_pkmap_nr = {int(pool['last_pkmap_nr'])}")
        for row in range(0, LAST_PKMAP, 64):
            line = "".join("." if c == 0 else "u" if c == 1 else str(min(c - 1, 9)) for c in counts[row:row + 64])
            print(f"{row:4} {line}")
        free = counts.count(0)
        unused = counts.count(1)
        print(f"free {free}, unused {unused}, in use {LAST_PKMAP - free - unused}")
        s = pool["stats"]
        print("maps {} reuses {} wraps {} flushes {} waits {}".format(*(int(s[k]) for k in ("maps", "reuses", "wraps", "flushes", "waits"))))


class KmapLocal(gdb.Command):
    """kmap-local [CPU]: the kmap_local slot stack of the task running on CPU."""

    def __init__(self):
        super().__init__("kmap-local", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        cpu = int(arg or 0)
        km_max, incr = config()
        ptr = atomic(val(f"kernel::percpu::PERCPU[{cpu}]")["current"])
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
            vaddr = FIXADDR_TOP - ((FIX_KMAP_BEGIN + slot + km_max * cpu) << 12)
            kind = "guard" if incr == 2 and slot % 2 == 0 else f"pfn {pte >> 12:#x} flags {pte & 0xfff:#x}"
            print(f"  slot {slot:2} at {vaddr:#010x}: {kind}")


class CpuSlots(gdb.Command):
    """cpu-slots [CPU]: CPU's fixmap kmap slot PTEs as installed now."""

    def __init__(self):
        super().__init__("cpu-slots", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        cpu = int(arg or 0)
        km_max, _ = config()
        base = int(atomic(val("kernel::mm::pgtable::KMAP_PTE_BASE")))
        inferior = gdb.selected_inferior()
        print(f"CPU {cpu}: {km_max} slots")
        for slot in range(km_max):
            idx = slot + km_max * cpu
            raw = bytes(inferior.read_memory(base - 4 * idx, 4))
            pte = int.from_bytes(raw, "little")
            vaddr = FIXADDR_TOP - ((FIX_KMAP_BEGIN + idx) << 12)
            state = "empty" if pte == 0 else f"pfn {pte >> 12:#x} flags {pte & 0xfff:#x}"
            print(f"  slot {slot:2} at {vaddr:#010x}: {state}")


Pkmap()
KmapLocal()
CpuSlots()
print("highmem gdb commands: pkmap, kmap-local [CPU], cpu-slots [CPU]")
