#!/usr/bin/env python3
"""ESP32-C3 app image from the firmware ELF, and the firmware's budgets: the independent cross-check.

`make firmware-c3` makes the image with the desktop's own conversion (espflash's library,
`cargo run --example elf2image`); desktop/tests/firmware_elf.rs runs this script and compares: the two agree on
every byte but the header's chip-revision range (espflash copies it from its bundled bootloader: min_rev 3,
max_chip_rev_full 199; this script, like esptool, writes 0 and 0xFFFF) and so the appended SHA-256.

Lays the ELF's loadable sections out as an ESP-IDF app image the way esptool's `elf2image` (and espflash's
`save-image`) do: adjacent sections merged into segments, each flash-mapped segment (DROM 0x3C.., IROM 0x42..)
placed at a file offset congruent to its address modulo the 64 KB MMU page, gaps filled with pieces of RAM
segments (or a padding segment), the XOR checksum on the last byte of a 16-byte block, and the SHA-256 appended.
Writes the image beside the ELF (`.bin`, or `--out`) and prints its size and the static RAM (.data + .bss, all `.data*` and
`.bss*` sections). With budgets given, exits 1 when one is exceeded.

Usage: app_image.py ELF [--out IMAGE] [--max-image BYTES] [--max-static-ram BYTES]
Python 3 standard library only.
"""

import argparse
import hashlib
import struct
import sys

CHIP_ID_ESP32C3 = 5
IROM_ALIGN = 0x10000
SEG_HEADER_LEN = 8
FLASH_RANGES = [(0x3C00_0000, 0x3C80_0000), (0x4200_0000, 0x4280_0000)]
SHT_PROGBITS, SHT_NOBITS = 1, 8
SHF_ALLOC = 0x2


def sections(elf):
    """(name, type, flags, addr, data-or-size) of every section of a little-endian ELF32."""
    if elf[:4] != b"\x7fELF" or elf[4] != 1 or elf[5] != 1:
        raise SystemExit("not a little-endian ELF32 file")
    e_entry, e_shoff = struct.unpack_from("<I", elf, 24)[0], struct.unpack_from("<I", elf, 32)[0]
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", elf, 46)
    headers = [struct.unpack_from("<IIIIIIIIII", elf, e_shoff + i * e_shentsize) for i in range(e_shnum)]
    strtab_off = headers[e_shstrndx][4]

    def name(off):
        end = elf.index(b"\0", strtab_off + off)
        return elf[strtab_off + off:end].decode()

    out = []
    for sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, *_ in headers:
        data = elf[sh_offset:sh_offset + sh_size] if sh_type == SHT_PROGBITS else sh_size
        out.append((name(sh_name), sh_type, sh_flags, sh_addr, data))
    return e_entry, out


def is_flash(addr):
    return any(lo <= addr < hi for lo, hi in FLASH_RANGES)


def segments(all_sections):
    """Loadable sections merged where contiguous, as [addr, bytearray]."""
    loadable = sorted(
        (addr, data) for _, typ, flags, addr, data in all_sections
        if typ == SHT_PROGBITS and flags & SHF_ALLOC and addr != 0 and len(data) > 0
    )
    merged = []
    for addr, data in loadable:
        if merged and merged[-1][0] + len(merged[-1][1]) == addr and is_flash(addr) == is_flash(merged[-1][0]):
            merged[-1][1] += data
        else:
            merged.append([addr, bytearray(data)])
    for seg in merged:  # segment lengths are multiples of 4
        seg[1] += b"\0" * (-len(seg[1]) % 4)
    return merged


def padding_needed(addr, pos):
    """Bytes of a padding segment's data so that `addr`'s segment data lands on its MMU page offset."""
    align_past = (addr % IROM_ALIGN) - SEG_HEADER_LEN
    pad = (IROM_ALIGN - (pos % IROM_ALIGN)) + align_past
    if pad in (0, IROM_ALIGN):
        return 0
    pad -= SEG_HEADER_LEN
    return pad + IROM_ALIGN if pad < 0 else pad


APP_DESC_MAGIC = 0xABCD5432
APP_DESC_ELF_SHA256 = 0x90


def fill_app_desc(segs, elf):
    """Writes the ELF's SHA-256 into the app descriptor (`esp_app_desc_t.app_elf_sha256`) as esptool does."""
    for addr, data in segs:
        if is_flash(addr) and struct.unpack_from("<I", data, 0)[0] == APP_DESC_MAGIC:
            field = slice(APP_DESC_ELF_SHA256, APP_DESC_ELF_SHA256 + 32)
            if not any(data[field]):
                data[field] = hashlib.sha256(elf).digest()
            return


def app_image(entry, segs):
    flash = [s for s in segs if is_flash(s[0])]
    ram = [s for s in segs if not is_flash(s[0])]
    body = bytearray()
    pos = 24
    checksum = 0xEF
    count = 0

    def put(addr, data):
        nonlocal pos, checksum, count
        body.extend(struct.pack("<II", addr, len(data)) + data)
        for b in data:
            checksum ^= b
        pos += SEG_HEADER_LEN + len(data)
        count += 1

    while flash:
        addr, data = flash[0]
        pad = padding_needed(addr, pos)
        if pad == 0:
            put(addr, bytes(data))
            flash.pop(0)
        elif ram and pad > SEG_HEADER_LEN:
            piece = bytes(ram[0][1][:pad])
            put(ram[0][0], piece)
            ram[0] = [ram[0][0] + len(piece), ram[0][1][len(piece):]]
            if not ram[0][1]:
                ram.pop(0)
        else:
            put(0, b"\0" * pad)
    for addr, data in ram:
        put(addr, bytes(data))

    header = struct.pack("<BBBBI", 0xE9, count, 2, 0x20, entry)  # DIO, 4 MB / 40 MHz
    header += bytes([0xEE, 0, 0, 0]) + struct.pack("<HBHH", CHIP_ID_ESP32C3, 0, 0, 0xFFFF)
    header += bytes(4) + bytes([1])  # reserved, hash appended
    assert len(header) == 24
    image = header + body
    image += b"\0" * (15 - len(image) % 16) + bytes([checksum])
    return image + hashlib.sha256(image).digest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("elf")
    ap.add_argument("--out")
    ap.add_argument("--max-image", type=int)
    ap.add_argument("--max-static-ram", type=int)
    args = ap.parse_args()
    with open(args.elf, "rb") as f:
        elf = f.read()
    entry, secs = sections(elf)
    segs = segments(secs)
    fill_app_desc(segs, elf)
    image = app_image(entry, segs)
    out = args.out or args.elf + ".bin"
    with open(out, "wb") as f:
        f.write(image)
    static_ram = sum(
        len(data) if typ == SHT_PROGBITS else data
        for name, typ, flags, _, data in secs
        if flags & SHF_ALLOC and (name.startswith(".data") or name.startswith(".bss"))
    )
    print(f"esp32c3 app image: {len(image)} bytes ({len(image) / 1024:.1f} KiB) -> {out}")
    print(f"esp32c3 static RAM (.data + .bss): {static_ram} bytes ({static_ram / 1024:.1f} KiB)")
    over = []
    if args.max_image is not None and len(image) > args.max_image:
        over.append(f"app image {len(image)} B > budget {args.max_image} B")
    if args.max_static_ram is not None and static_ram > args.max_static_ram:
        over.append(f"static RAM {static_ram} B > budget {args.max_static_ram} B")
    for o in over:
        print(f"esp32c3 budget exceeded: {o}", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
