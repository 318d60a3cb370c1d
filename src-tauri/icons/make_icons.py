#!/usr/bin/env python3
"""Draws Switchyard's app icon (a rail switch: one track forking in two) as PNGs.

Standard library only (zlib + struct), so nothing is downloaded. Run from anywhere:
    python3 src-tauri/icons/make_icons.py
and commit the PNGs it writes beside this script.
"""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
BACKGROUND = (30, 41, 59)  # slate
TRACK = (56, 189, 248)  # sky
BRANCH = (251, 191, 36)  # amber


def png(width, height, rows):
    """Encodes RGBA rows (lists of (r, g, b, a)) as a PNG file's bytes."""
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def coverage(distance, half_width):
    """Anti-aliased coverage of a stroke of `half_width` at `distance` from its centre line."""
    return max(0.0, min(1.0, half_width - distance + 0.5))


def draw(size):
    # Geometry in a unit square, scaled to the icon's size.
    s = size
    radius = 0.2 * s
    stroke = 0.055 * s
    trunk = (0.5 * s, 0.86 * s, 0.5 * s, 0.5 * s)
    left = (0.5 * s, 0.5 * s, 0.26 * s, 0.16 * s)
    right = (0.5 * s, 0.5 * s, 0.74 * s, 0.16 * s)
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            px, py = x + 0.5, y + 0.5
            # Rounded square background, anti-aliased at its corners.
            cx = min(max(px, radius), s - radius)
            cy = min(max(py, radius), s - radius)
            inside = coverage(math.hypot(px - cx, py - cy), radius) if (px, py) != (cx, cy) else 1.0
            colour = BACKGROUND
            track = max(
                coverage(segment_distance(px, py, *trunk), stroke),
                coverage(segment_distance(px, py, *left), stroke),
            )
            branch = coverage(segment_distance(px, py, *right), stroke)
            hub = coverage(math.hypot(px - 0.5 * s, py - 0.5 * s), 1.6 * stroke)
            colour = mix(colour, BRANCH, branch)
            colour = mix(colour, TRACK, max(track, hub))
            row.append((*colour, round(255 * inside)))
        rows.append(row)
    return png(size, size, rows)


def mix(a, b, t):
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def main():
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(draw(size))
        print(name, size)


if __name__ == "__main__":
    main()
