#!/usr/bin/env python3
"""Writes PNG, GIF and BMP test files with hand-rolled encoders (no imaging library), each with
the RGB pixels Pillow's Image.open(f).convert("RGB") gives for it, as a binary PPM next to it.

The expected pixels follow Pillow's documented conversions: alpha dropped, grey replicated,
1/2/4-bit grey scaled to 0..255, 16-bit colour samples reduced to their high byte, 16-bit grey
clipped at 255 (mode I -> RGB), palette entries looked up (black past the palette), 5-bit and
6-bit BMP fields scaled with v * 255 // 31 (or 63).

Run from this folder: python3 make_png_gif_bmp_cases.py (needs numpy).
"""
import os
import struct
import zlib

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'src', 'test', 'resources', 'image-cases')
rng = np.random.default_rng(20240601)


def write_ppm(path, rgb):
    h, w, _ = rgb.shape
    with open(path, 'wb') as f:
        f.write(b'P6\n%d %d\n255\n' % (w, h) + rgb.astype(np.uint8).tobytes())


def save(folder, name, data, rgb):
    os.makedirs(os.path.join(OUT, folder), exist_ok=True)
    with open(os.path.join(OUT, folder, name), 'wb') as f:
        f.write(data)
    write_ppm(os.path.join(OUT, folder, os.path.splitext(name)[0] + '.ppm'), rgb)


# ------------------------------------------------------------------------------------- PNG

def chunk(kind, body):
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body) & 0xffffffff)


def pack_row(samples, bit_depth):
    """samples: 1-D int array of one row (all channels interleaved)."""
    if bit_depth == 16:
        return samples.astype('>u2').tobytes()
    if bit_depth == 8:
        return samples.astype(np.uint8).tobytes()
    per = 8 // bit_depth
    out = bytearray((len(samples) * bit_depth + 7) // 8)
    for i, s in enumerate(samples):
        out[i // per] |= int(s) << (8 - bit_depth * (i % per + 1))
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_row(kind, row, prev, bpp):
    out = bytearray(len(row))
    for i in range(len(row)):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        out[i] = (row[i] - pred) & 0xFF
    return bytes([kind]) + bytes(out)


def png(samples, color_type, bit_depth, interlace=False, extra_before=(), extra_after=(), idat_split=3):
    """samples: [H, W, C] ints. Rows use filter types 0..4 in turn."""
    h, w, c = samples.shape
    bpp = max(1, c * bit_depth // 8)
    raw = bytearray()
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] if interlace else [(0, 0, 1, 1)]
    n = 0
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        prev = bytes(len(pack_row(sub[0].reshape(-1), bit_depth)))
        for r in sub:
            row = pack_row(r.reshape(-1), bit_depth)
            raw += filter_row(n % 5, row, prev, bpp)
            prev = row
            n += 1
    z = zlib.compress(bytes(raw), 9)
    parts = [z[i * len(z) // idat_split:(i + 1) * len(z) // idat_split] for i in range(idat_split)]
    out = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, bit_depth, color_type, 0, 0, int(interlace)))
    for k, b in extra_before:
        out += chunk(k, b)
    for p in parts:
        out += chunk(b'IDAT', p)
    for k, b in extra_after:
        out += chunk(k, b)
    return out + chunk(b'IEND', b'')


def png_cases():
    w, h = 13, 11
    rgb8 = rng.integers(0, 256, (h, w, 3))
    a8 = rng.integers(0, 256, (h, w, 1))
    g8 = rng.integers(0, 256, (h, w, 1))
    save('png', 'rgb8.png', png(rgb8, 2, 8, extra_before=[(b'gAMA', struct.pack('>I', 45455)), (b'tEXt', b'Comment\x00hi')]), rgb8)
    save('png', 'rgb8_interlaced.png', png(rgb8, 2, 8, interlace=True), rgb8)
    save('png', 'rgba8.png', png(np.concatenate([rgb8, a8], 2), 6, 8), rgb8)
    save('png', 'gray8.png', png(g8, 0, 8), np.repeat(g8, 3, 2))
    save('png', 'gray8_trns.png', png(g8, 0, 8, extra_before=[(b'tRNS', struct.pack('>H', int(g8[0, 0, 0])))]), np.repeat(g8, 3, 2))
    save('png', 'graya8.png', png(np.concatenate([g8, a8], 2), 4, 8), np.repeat(g8, 3, 2))
    for bits, scale in [(1, 255), (2, 0x55), (4, 0x11)]:
        g = rng.integers(0, 1 << bits, (h, w, 1))
        save('png', 'gray%d.png' % bits, png(g, 0, bits), np.repeat(g * scale, 3, 2))
        save('png', 'gray%d_interlaced.png' % bits, png(g, 0, bits, interlace=True), np.repeat(g * scale, 3, 2))
    g16 = rng.integers(0, 65536, (h, w, 1))
    g16[0, :4, 0] = [0, 1, 255, 256]  # around Pillow's clip at 255
    save('png', 'gray16.png', png(g16, 0, 16), np.repeat(np.minimum(g16, 255), 3, 2))
    a16 = rng.integers(0, 65536, (h, w, 1))
    save('png', 'graya16.png', png(np.concatenate([g16, a16], 2), 4, 16), np.repeat(g16 >> 8, 3, 2))
    rgb16 = rng.integers(0, 65536, (h, w, 3))
    save('png', 'rgb16.png', png(rgb16, 2, 16), rgb16 >> 8)
    save('png', 'rgba16_interlaced.png', png(np.concatenate([rgb16, a16], 2), 6, 16, interlace=True), rgb16 >> 8)
    for bits in (1, 2, 4, 8):
        entries = min(1 << bits, 200)
        pal = rng.integers(0, 256, (entries, 3))
        # the last used index may lie past a short PLTE: Pillow shows black there
        plte_entries = entries - 1 if bits >= 2 else entries
        idx = rng.integers(0, entries, (h, w, 1))
        idx[0, 0, 0] = entries - 1
        lut = np.zeros((256, 3), int)
        lut[:plte_entries] = pal[:plte_entries]
        trns = bytes(rng.integers(0, 256, plte_entries).astype(np.uint8))
        data = png(idx, 3, bits, extra_before=[(b'PLTE', pal[:plte_entries].astype(np.uint8).tobytes()), (b'tRNS', trns)])
        save('png', 'palette%d_trns.png' % bits, data, lut[idx[:, :, 0]])
    # a 1x1 image and an interlaced image smaller than the first Adam7 passes
    one = np.array([[[10, 200, 30]]])
    save('png', 'rgb8_1x1.png', png(one, 2, 8), one)
    tiny = rng.integers(0, 256, (3, 2, 3))
    save('png', 'rgb8_2x3_interlaced.png', png(tiny, 2, 8, interlace=True), tiny)


# ------------------------------------------------------------------------------------- GIF

def lzw_encode(indices, min_code_size):
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    codes, width = [], min_code_size + 1
    table = {bytes([i]): i for i in range(clear)}
    nxt = end + 1
    out_bits = []

    def emit(code):
        out_bits.append((code, width))

    emit(clear)
    cur = b''
    for v in indices:
        cand = cur + bytes([v])
        if cand in table:
            cur = cand
            continue
        emit(table[cur])
        if nxt < 4096:
            table[cand] = nxt
            nxt += 1
            if nxt - 1 == (1 << width) and width < 12:
                width += 1
        else:
            emit(clear)
            table = {bytes([i]): i for i in range(clear)}
            nxt = end + 1
            width = min_code_size + 1
        cur = bytes([v])
    if cur:
        emit(table[cur])
    emit(end)
    acc, nbits, data = 0, 0, bytearray()
    for code, wdt in out_bits:
        acc |= code << nbits
        nbits += wdt
        while nbits >= 8:
            data.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        data.append(acc & 0xFF)
    blocks = bytearray()
    for i in range(0, len(data), 255):
        part = data[i:i + 255]
        blocks += bytes([len(part)]) + part
    return bytes(blocks) + b'\x00'


def gif(screen_w, screen_h, frame, x0=0, y0=0, global_pal=None, local_pal=None, transparency=None,
        interlace=False, second_frame=None):
    h, w = frame.shape
    bits_for = lambda pal: max(1, int(np.ceil(np.log2(len(pal)))))
    flags = 0
    out = b'GIF89a' + struct.pack('<HH', screen_w, screen_h)
    if global_pal is not None:
        gb = bits_for(global_pal)
        out += bytes([0x80 | (gb - 1), 0, 0])
        pal = np.zeros((1 << gb, 3), int)
        pal[:len(global_pal)] = global_pal
        out += pal.astype(np.uint8).tobytes()
    else:
        out += bytes([flags, 0, 0])
    out += b'!\xfe' + bytes([5]) + b'hello' + b'\x00'  # a comment extension
    if transparency is not None:
        out += b'!\xf9\x04' + bytes([1, 0, 0, transparency]) + b'\x00'
    iflags = 0x40 if interlace else 0
    if local_pal is not None:
        lb = bits_for(local_pal)
        iflags |= 0x80 | (lb - 1)
    out += b',' + struct.pack('<HHHH', x0, y0, w, h) + bytes([iflags])
    if local_pal is not None:
        pal = np.zeros((1 << lb, 3), int)
        pal[:len(local_pal)] = local_pal
        out += pal.astype(np.uint8).tobytes()
    rows = frame
    if interlace:
        order = list(range(0, h, 8)) + list(range(4, h, 8)) + list(range(2, h, 4)) + list(range(1, h, 2))
        rows = frame[order]
    mcs = max(2, int(frame.max()).bit_length())
    out += bytes([mcs]) + lzw_encode(bytes(rows.reshape(-1).astype(np.uint8)), mcs)
    if second_frame is not None:
        out += b',' + struct.pack('<HHHH', 0, 0, w, h) + b'\x00' + bytes([mcs]) + lzw_encode(bytes(second_frame.reshape(-1).astype(np.uint8)), mcs)
    return out + b';'


def gif_cases():
    pal = rng.integers(0, 256, (16, 3))
    frame = rng.integers(0, 16, (19, 23))
    save('gif', 'global_palette.gif', gif(23, 19, frame, global_pal=pal, second_frame=(frame + 1) % 16), pal[frame])
    save('gif', 'interlaced.gif', gif(23, 19, frame, global_pal=pal, interlace=True), pal[frame])
    local = rng.integers(0, 256, (16, 3))
    save('gif', 'local_palette.gif', gif(23, 19, frame, global_pal=pal, local_pal=local), local[frame])
    # a frame inside a larger screen: the rest is the transparent index (or index 0)
    canvas = np.full((30, 40), 5)
    canvas[4:4 + 19, 7:7 + 23] = frame
    save('gif', 'offset_transparent.gif', gif(40, 30, frame, x0=7, y0=4, global_pal=pal, transparency=5), pal[canvas])
    canvas0 = np.zeros((30, 40), int)
    canvas0[4:4 + 19, 7:7 + 23] = frame
    save('gif', 'offset.gif', gif(40, 30, frame, x0=7, y0=4, global_pal=pal), pal[canvas0])
    # a frame sticking out of the logical screen grows the canvas
    grown = np.zeros((19 + 3, 23 + 2), int)
    grown[3:, 2:] = frame
    save('gif', 'frame_outside_screen.gif', gif(10, 10, frame, x0=2, y0=3, global_pal=pal), pal[grown])
    # an identity grey palette makes Pillow read indices as grey levels
    grey = np.stack([np.arange(16)] * 3, 1)
    save('gif', 'grey_identity_palette.gif', gif(23, 19, frame, global_pal=grey), np.stack([frame] * 3, 2))
    # a large image with many LZW table resets
    big_frame = rng.integers(0, 256, (97, 131))
    big_pal = rng.integers(0, 256, (256, 3))
    save('gif', 'large_256_colours.gif', gif(131, 97, big_frame, global_pal=big_pal), big_pal[big_frame])


# ------------------------------------------------------------------------------------- BMP

def bmp(width, height, bits, rows_bottom_up, palette=None, compression=0, masks=None, header=40, top_down=False,
        colors=None):
    """rows_bottom_up: list of row byte strings (already padded) in file order."""
    pixel_data = b''.join(rows_bottom_up)
    pal = b''
    if palette is not None:
        if header == 12:
            pal = b''.join(bytes([b, g, r]) for r, g, b in palette)
        else:
            pal = b''.join(bytes([b, g, r, 0]) for r, g, b in palette)
    extra = b''
    if header == 12:
        info = struct.pack('<IHHHH', 12, width, height, 1, bits)
    else:
        h = -height if top_down else height
        ncol = colors if colors is not None else (len(palette) if palette is not None else 0)
        info = struct.pack('<IiiHHIIiiII', header, width, h, 1, bits, compression, len(pixel_data), 2835, 2835, ncol, 0)
        if masks is not None:
            if header == 40:
                extra = struct.pack('<III', *masks[:3])
            else:
                info += struct.pack('<' + 'I' * len(masks), *masks)
        info += b'\x00' * (header - len(info))
    offset = 14 + len(info) + len(extra) + len(pal)
    return b'BM' + struct.pack('<IHHI', offset + len(pixel_data), 0, 0, offset) + info + extra + pal + pixel_data


def pad4(b):
    return b + b'\x00' * (-len(b) % 4)


def bmp_cases():
    w, h = 13, 7
    rgb = rng.integers(0, 256, (h, w, 3))
    rows24 = [pad4(bytes(rgb[y][:, ::-1].reshape(-1).astype(np.uint8))) for y in range(h)]
    save('bmp', 'rgb24.bmp', bmp(w, h, 24, rows24[::-1]), rgb)
    save('bmp', 'rgb24_top_down.bmp', bmp(w, h, 24, rows24, top_down=True), rgb)
    rows32 = [bytes(np.concatenate([rgb[y][:, ::-1], rng.integers(0, 256, (w, 1))], 1).reshape(-1).astype(np.uint8)) for y in range(h)]
    save('bmp', 'bgrx32.bmp', bmp(w, h, 32, rows32[::-1]), rgb)
    save('bmp', 'bgra32_v5.bmp', bmp(w, h, 32, rows32[::-1], compression=3, header=124,
                                      masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)), rgb)
    rgba_rows = [bytes(np.concatenate([rgb[y], rng.integers(0, 256, (w, 1))], 1).reshape(-1).astype(np.uint8)) for y in range(h)]
    save('bmp', 'rgba32_v4_masks.bmp', bmp(w, h, 32, rgba_rows[::-1], compression=3, header=108,
                                           masks=(0xFF, 0xFF00, 0xFF0000, 0xFF000000)), rgb)
    v = rng.integers(0, 1 << 15, (h, w))
    rows16 = [pad4(v[y].astype('<u2').tobytes()) for y in range(h)]
    exp555 = np.stack([((v >> 10) & 31) * 255 // 31, ((v >> 5) & 31) * 255 // 31, (v & 31) * 255 // 31], 2)
    save('bmp', 'rgb555.bmp', bmp(w, h, 16, rows16[::-1]), exp555)
    v565 = rng.integers(0, 1 << 16, (h, w))
    rows565 = [pad4(v565[y].astype('<u2').tobytes()) for y in range(h)]
    exp565 = np.stack([((v565 >> 11) & 31) * 255 // 31, ((v565 >> 5) & 63) * 255 // 63, (v565 & 31) * 255 // 31], 2)
    save('bmp', 'rgb565_bitfields.bmp', bmp(w, h, 16, rows565[::-1], compression=3, masks=(0xF800, 0x7E0, 0x1F)), exp565)
    for bits in (1, 4, 8):
        n = 1 << bits
        pal = rng.integers(0, 256, (n, 3))
        idx = rng.integers(0, n, (h, w))
        rows = [pad4(pack_row(idx[y], bits)) for y in range(h)]
        save('bmp', 'palette%d.bmp' % bits, bmp(w, h, bits, rows[::-1], palette=pal), pal[idx])
    pal = rng.integers(0, 256, (256, 3))
    idx = rng.integers(0, 256, (h, w))
    rows = [pad4(bytes(idx[y].astype(np.uint8))) for y in range(h)]
    save('bmp', 'os2_core_palette8.bmp', bmp(w, h, 8, rows[::-1], palette=pal, header=12), pal[idx])
    # a grey ramp palette with fewer entries than used indices: Pillow reads indices as grey
    grey_pal = np.stack([np.arange(16)] * 3, 1)
    gidx = rng.integers(0, 256, (h, w))
    rows = [pad4(bytes(gidx[y].astype(np.uint8))) for y in range(h)]
    save('bmp', 'grey_ramp_palette8.bmp', bmp(w, h, 8, rows[::-1], palette=grey_pal), np.stack([gidx] * 3, 2))
    # RLE8: runs, absolute runs (odd length, padded), end of line, delta, end of bitmap
    pal = rng.integers(0, 256, (256, 3))
    w2, h2 = 10, 6
    idx = np.zeros((h2, w2), int)  # file order rows (bottom first)
    data = bytearray()
    data += bytes([4, 7, 3, 9]) + bytes([0, 3, 1, 2, 3, 0])  # run 4x7, run 3x9, absolute [1,2,3] + pad
    idx[0, :4] = 7; idx[0, 4:7] = 9; idx[0, 7:10] = [1, 2, 3]
    data += bytes([0, 0])  # end of line (already full)
    data += bytes([2, 5, 0, 0])  # row 1: 5 5, then end of line
    idx[1, :2] = 5
    data += bytes([0, 2, 3, 1])  # delta right 3, up 1: from row 2 col 0 to row 3 col 3
    data += bytes([3, 8])
    idx[3, 3:6] = 8
    data += bytes([0, 0, 12, 6])  # EOL then a run longer than the row (clipped to the row)
    idx[4, :] = 6
    data += bytes([0, 1])  # end of bitmap: the rest stays index 0
    save('bmp', 'rle8.bmp', bmp(w2, h2, 8, [bytes(data)], palette=pal, compression=1), pal[idx[::-1]])
    pal4 = rng.integers(0, 256, (16, 3))
    idx4 = np.zeros((h2, w2), int)
    data = bytearray()
    data += bytes([5, 0x3A])  # 3 A 3 A 3
    idx4[0, :5] = [3, 10, 3, 10, 3]
    data += bytes([0, 4, 0x12, 0x34])  # absolute 4 pixels 1 2 3 4 (2 bytes, already word aligned)
    idx4[0, 5:9] = [1, 2, 3, 4]
    data += bytes([0, 0, 10, 0xF1, 0, 0])  # EOL, row 1 = F 1 F 1..., EOL
    idx4[1, :] = [15, 1] * 5
    data += bytes([0, 1])
    save('bmp', 'rle4.bmp', bmp(w2, h2, 4, [bytes(data)], palette=pal4, compression=2), pal4[idx4[::-1]])


png_cases()
gif_cases()
bmp_cases()
