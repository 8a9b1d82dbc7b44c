# GDB pretty-printers for tide::map and tide::set: `print m` shows the size and the entries, as
# libstdc++'s printers show std::unordered_map and std::unordered_set; and for tide::memstats,
# a summary line before its fields.
#
#   (gdb) print m
#   $1 = tide::map with 2 elements = {[1] = "one", [2] = "two"}
#   (gdb) print tide::read_memstats()
#   $2 = tide::memstats: os 8.1 MiB = arena 8.0 MiB (in use 0.2 MiB, idle 7.8 MiB, released
#   0.0 MiB) + metadata 0.1 MiB; live 0.2 MiB in 1024 objects = {arena_bytes = 8388608, ...}
#
# Installed twice by `cmake --install` (cmake/tide_install.cmake): where gdb auto-loads it for
# libtide.so (share/gdb/auto-load/<libdir>/libtide.so.<version>-gdb.py), and as
# share/tide/gdb/tide_printers.py, to `source` from ~/.gdbinit when tide is linked statically.
#
# The layout read here is include/tide/detail/directory.hpp's and table.hpp's: the directory
# dir_ holds 2^global_depth_ table_refs {ctrl, groups}; a table of local depth L fills the
# 2^(global_depth_ - L) entries of its run. A table allocation is
#   [ pad | table_header (16 B) ][ ctrl: 16 per group ][ pad ][ slots: 15 per group ]
# with the header ending at ctrl and the first part max(alignof(slot), 16) bytes long. Ctrl
# byte p of a group (p < 15) is 0 when slot p is empty; byte 15 holds overflow bits.
import gdb
import gdb.printing

GROUP_WIDTH = 16  # ctrl bytes per group (group.hpp)
GROUP_SLOTS = 15  # slots per group
HEADER_BYTES = 16  # sizeof(table_header), static_assert'ed in table.hpp


def _round_up(n, align):
    return (n + align - 1) // align * align


def _slots(container, slot_type):
    """Yields every entry of a tide::map or tide::set, in directory order."""
    if int(container["size_"]) == 0:
        return
    header_type = gdb.lookup_type("tide::detail::table_header")
    global_depth = int(container["global_depth_"])
    directory = container["dir_"]
    inferior = gdb.selected_inferior()
    unit = max(slot_type.alignof, HEADER_BYTES)
    di = 0
    while di < 1 << global_depth:
        table = directory[di]
        ctrl = int(table["ctrl"])
        groups = int(table["groups"])
        header = gdb.Value(ctrl - HEADER_BYTES).cast(header_type.pointer()).dereference()
        slots = ctrl - unit + _round_up(unit + groups * GROUP_WIDTH, slot_type.alignof)
        ctrl_bytes = bytes(inferior.read_memory(ctrl, groups * GROUP_WIDTH))
        for p, byte in enumerate(ctrl_bytes):
            if p % GROUP_WIDTH != GROUP_SLOTS and byte != 0:
                slot = slots + (p - p // GROUP_WIDTH) * slot_type.sizeof
                yield gdb.Value(slot).cast(slot_type.pointer()).dereference()
        di += 1 << (global_depth - int(header["local_depth"]))


def _allocator_value_type(container_type, allocator_index):
    # The slot type is the allocator's value_type: std::pair<const Key, T> for a map.
    return container_type.template_argument(allocator_index).template_argument(0)


class _ContainerPrinter:
    def __init__(self, name, val):
        self.name = name
        self.val = val

    def to_string(self):
        size = int(self.val["size_"])
        return f"{self.name} with {size} element{'' if size == 1 else 's'}"


class MapPrinter(_ContainerPrinter):
    def __init__(self, val):
        super().__init__("tide::map", val)

    def display_hint(self):
        return "map"

    def children(self):
        slot_type = _allocator_value_type(self.val.type.strip_typedefs(), 4)
        for i, entry in enumerate(_slots(self.val, slot_type)):
            yield f"[{2 * i}]", entry["first"]
            yield f"[{2 * i + 1}]", entry["second"]


class SetPrinter(_ContainerPrinter):
    def __init__(self, val):
        super().__init__("tide::set", val)

    def display_hint(self):
        return "array"

    def children(self):
        slot_type = _allocator_value_type(self.val.type.strip_typedefs(), 3)
        for i, entry in enumerate(_slots(self.val, slot_type)):
            yield f"[{i}]", entry


class MemstatsPrinter:
    """tide::memstats: a summary line (where the heap's memory is), then the fields as gdb
    prints a struct."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        def mib(field):
            return f"{int(self.val[field]) / 2**20:.1f} MiB"

        return (f"tide::memstats: os {mib('os_bytes')} = arena {mib('arena_bytes')} (in use "
                f"{mib('in_use_bytes')}, idle {mib('idle_bytes')}, released "
                f"{mib('released_bytes')}) + metadata {mib('metadata_bytes')}; live "
                f"{mib('live_bytes')} in {int(self.val['live_objects'])} objects")

    def children(self):
        for field in self.val.type.fields():
            yield field.name, self.val[field.name]


def build_pretty_printer():
    printer = gdb.printing.RegexpCollectionPrettyPrinter("tide")
    printer.add_printer("map", "^tide::map<.*>$", MapPrinter)
    printer.add_printer("set", "^tide::set<.*>$", SetPrinter)
    printer.add_printer("memstats", "^tide::memstats$", MemstatsPrinter)
    return printer


# Auto-loaded: for libtide.so's objfile (gdb consults every objfile's printers for every
# value). Sourced by hand: for all objfiles.
gdb.printing.register_pretty_printer(gdb.current_objfile(), build_pretty_printer(), replace=True)
