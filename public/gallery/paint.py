#!/usr/bin/env python3
"""Paints Ekphrasis's demo gallery: eight procedural paintings, released as CC0-1.0.

This script exists only to regenerate the committed images in this folder; nothing in the
build or the server runs it. It uses no third-party material: every picture is composed from
shapes, gradients and noise below, then repainted with thousands of short, oriented,
semi-transparent brush strokes that follow a flow field over the underpainting, with a little
impasto relief and canvas weave.

Deterministic: every scene has a fixed seed, and two runs with the pinned versions below on the
same platform give byte-identical JPEGs (a different numpy/Pillow/libjpeg may change pixels). It
writes only the .jpg files next to itself; gallery.toml and README.md are kept by hand. All eight
take about five minutes on two CPU cores.

    python3 -m venv /tmp/galleryenv
    /tmp/galleryenv/bin/pip install numpy==2.4.6 pillow==13.0.0
    /tmp/galleryenv/bin/python public/gallery/paint.py            # all eight
    /tmp/galleryenv/bin/python public/gallery/paint.py moonlit-lake  # just one

Pinned: Python 3.11 (made with 3.11.7), numpy 2.4.6, pillow 13.0.0.
"""

import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

W, H = 960, 720
QUALITY = 85
HERE = os.path.dirname(os.path.abspath(__file__))

X, Y = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))


# ---------------------------------------------------------------------------------------------
# Small numeric helpers
# ---------------------------------------------------------------------------------------------


def hexc(s):
    s = s.lstrip("#")
    return np.array([int(s[i : i + 2], 16) / 255.0 for i in (0, 2, 4)])


def _box(a, r, axis):
    if r < 1:
        return a
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    p = np.pad(a, pad, mode="edge")
    c = np.cumsum(p, axis=axis, dtype=np.float64)
    n = a.shape[axis]
    hi = np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    return (hi - lo) / (2 * r + 1)


def blur(a, sigma):
    """Three box passes per axis, close to a Gaussian of this sigma."""
    if sigma <= 0.3:
        return a
    w = math.sqrt(12.0 * sigma * sigma / 3.0 + 1.0)
    r = max(1, int(round((w - 1) / 2)))
    for _ in range(3):
        a = _box(a, r, 0)
        a = _box(a, r, 1)
    return a


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def fbm(seed, scale=160.0, octaves=5, persistence=0.5, aspect=1.0):
    """Fractal value noise in [0, 1]; aspect > 1 stretches it horizontally."""
    rng = np.random.default_rng(seed)
    total = np.zeros((H, W))
    amp, norm, s = 1.0, 0.0, float(scale)
    for _ in range(octaves):
        sx, sy = s * aspect, s
        gw, gh = int(W / sx) + 3, int(H / sy) + 3
        g = rng.random((gh, gw)).astype(np.float32)
        big = Image.fromarray(g).resize((int(gw * sx) + 1, int(gh * sy) + 1), Image.BICUBIC)
        arr = np.asarray(big, dtype=np.float64)
        ox = int(rng.integers(0, max(1, arr.shape[1] - W)))
        oy = int(rng.integers(0, max(1, arr.shape[0] - H)))
        total += amp * arr[oy : oy + H, ox : ox + W]
        norm += amp
        amp *= persistence
        s = max(2.0, s / 2.0)
    t = total / norm
    lo, hi = np.percentile(t, 1), np.percentile(t, 99)
    return np.clip((t - lo) / (hi - lo), 0, 1)


def grad(stops, t):
    """Colour gradient: stops is [(position, '#rrggbb'), ...], t any array."""
    pos = [p for p, _ in stops]
    cols = [hexc(c) for _, c in stops]
    out = np.empty(t.shape + (3,))
    for k in range(3):
        out[..., k] = np.interp(t, pos, [c[k] for c in cols])
    return out


def comp(img, m, color):
    """Lay colour over img where mask m (0..1) says, in place."""
    c = color if isinstance(color, np.ndarray) and color.ndim == 3 else np.asarray(color)
    img *= 1 - m[..., None]
    img += c * m[..., None]
    return img


def col(c):
    return hexc(c) if isinstance(c, str) else np.asarray(c, dtype=np.float64)


def _mask(draw_fn, soft):
    m = Image.new("L", (W, H), 0)
    draw_fn(ImageDraw.Draw(m))
    a = np.asarray(m, dtype=np.float64) / 255.0
    return blur(a, soft) if soft > 0 else a


def poly(points, soft=0.8):
    return _mask(lambda d: d.polygon([tuple(map(float, p)) for p in points], fill=255), soft)


def ellipse(cx, cy, rx, ry, soft=0.8):
    return _mask(lambda d: d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255), soft)


def lines(pts, width, soft=0.8):
    return _mask(
        lambda d: d.line([tuple(map(float, p)) for p in pts], fill=255, width=int(width), joint="curve"),
        soft,
    )


LIGHT = np.array([-0.55, -0.6, 0.58])
LIGHT = LIGHT / np.linalg.norm(LIGHT)


def _shade(nx, ny, nz, light):
    lam = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
    h = light + np.array([0, 0, 1.0])
    h = h / np.linalg.norm(h)
    spec = np.clip(nx * h[0] + ny * h[1] + nz * h[2], 0, 1) ** 30
    return lam, spec


def ellipsoid(cx, cy, rx, ry, light=LIGHT):
    """Mask, diffuse and specular terms of a lit ellipsoid seen face on."""
    u = (X - cx) / rx
    v = (Y - cy) / ry
    d2 = u * u + v * v
    m = np.clip((1 - d2) * min(rx, ry) / 2.0, 0, 1)
    nz = np.sqrt(np.clip(1 - d2, 0, 1))
    lam, spec = _shade(u, v, nz, light)
    return m, lam, spec


def lathe(cx, y0, y1, profile, light=LIGHT):
    """A body of revolution: profile(t) gives the radius in pixels at t = 0 (top) .. 1 (bottom)."""
    t = np.clip((Y - y0) / (y1 - y0), 0, 1)
    r = profile(t)
    dr = np.gradient(r, axis=0)
    u = (X - cx) / np.maximum(r, 1e-3)
    inside = (Y >= y0) & (Y <= y1)
    m = np.clip((1 - np.abs(u)) * r / 1.5, 0, 1) * inside
    m = blur(m, 0.6)
    nz = np.sqrt(np.clip(1 - u * u, 0, 1))
    ny = -dr * nz
    norm = np.sqrt(u * u + ny * ny + nz * nz) + 1e-9
    lam, spec = _shade(u / norm, ny / norm, nz / norm, light)
    return m, lam, spec


def lit(base, lam, spec, ambient=0.35, shadow=None, spec_amt=0.6):
    """Colour field of a lit object: shadow side tinted, highlight added."""
    base = col(base)
    sh = col(shadow) if shadow is not None else base * 0.45
    k = np.clip(ambient + (1 - ambient) * lam, 0, 1.2)[..., None]
    c = sh * (1 - k) + base * k
    return c + spec[..., None] * spec_amt


# ---------------------------------------------------------------------------------------------
# The painter
# ---------------------------------------------------------------------------------------------


def orientation(under, scene_theta, edge_thr=0.02, smooth=3.0):
    """Stroke directions: the scene's own field, bent along strong edges of the underpainting."""
    lum = blur(under @ np.array([0.3, 0.59, 0.11]), 2.0)
    gy, gx = np.gradient(lum)
    mag = np.hypot(gx, gy)
    tang = np.arctan2(gy, gx) + np.pi / 2
    w = np.clip(mag / edge_thr, 0, 1)
    c = (1 - w) * np.cos(2 * scene_theta) + w * np.cos(2 * tang)
    s = (1 - w) * np.sin(2 * scene_theta) + w * np.sin(2 * tang)
    c, s = blur(c, smooth), blur(s, smooth)
    return 0.5 * np.arctan2(s, c)


class Painter:
    def __init__(self, under, seed):
        self.rng = np.random.default_rng(seed)
        ground = np.clip(blur(under, 3), 0, 1)
        self.img = Image.fromarray(to8(ground))
        self.hmap = Image.new("L", (W, H), 128)

    def stroke(self, pts, color, width, alpha, bristles=True):
        rng = self.rng
        width = max(1, int(round(width)))
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        pad = width // 2 + 2
        x0, y0 = max(0, int(min(xs)) - pad), max(0, int(min(ys)) - pad)
        x1, y1 = min(W, int(max(xs)) + pad + 1), min(H, int(max(ys)) + pad + 1)
        if x1 <= x0 or y1 <= y0:
            return
        m = Image.new("L", (x1 - x0, y1 - y0), 0)
        d = ImageDraw.Draw(m)
        local = [(x - x0, y - y0) for x, y in pts]
        a = int(max(1, min(255, alpha * 255)))
        hr = width / 2.0
        if len(local) > 1:
            d.line(local, fill=a, width=width, joint="curve")
        for px, py in (local[0], local[-1]):
            d.ellipse((px - hr * 0.9, py - hr * 0.9, px + hr * 0.9, py + hr * 0.9), fill=a)
        if bristles and width >= 5 and len(local) > 1:
            dx, dy = local[-1][0] - local[0][0], local[-1][1] - local[0][1]
            n = math.hypot(dx, dy) or 1.0
            nx, ny = -dy / n, dx / n
            for _ in range(max(2, width // 4)):
                o = rng.uniform(-0.42, 0.42) * width
                f = rng.uniform(0.35, 0.8)
                sub = [(x + nx * o, y + ny * o) for x, y in local]
                d.line(sub, fill=int(a * f), width=max(1, width // 7))
        c = tuple(int(v) for v in np.clip(np.asarray(color) * 255 + 0.5, 0, 255))
        self.img.paste(c, (x0, y0), m)
        self.hmap.paste(int(rng.integers(70, 190)), (x0, y0), m)

    def layer(self, ref, theta, radius, step=None, maxlen=8, minlen=2, tol=0.12, alpha=0.85,
              threshold=0.0, keep=0.2, jitter=0.05, region=None):
        """One pass of strokes of one brush size over the whole canvas (Hertzmann's method)."""
        rng = self.rng
        step = step or radius * 0.9
        cur = np.asarray(self.img, dtype=np.float64) / 255.0
        err = blur(np.abs(cur - ref).sum(axis=2), radius * 0.6)
        g = max(2, int(radius * 1.1))
        cells = [(x, y) for y in range(0, H, g) for x in range(0, W, g)]
        order = rng.permutation(len(cells))
        for k in order:
            cx, cy = cells[k]
            x = min(W - 1.0, cx + rng.uniform(0, g))
            y = min(H - 1.0, cy + rng.uniform(0, g))
            ix, iy = int(x), int(y)
            if region is not None and rng.random() > region[iy, ix]:
                continue
            if threshold > 0 and err[iy, ix] < threshold and rng.random() > keep:
                continue
            c0 = ref[iy, ix]
            chroma = rng.normal(0, jitter * 0.5, 3) * (0.35 + c0.mean())
            color = np.clip(c0 * (1 + rng.normal(0, jitter)) + chroma, 0, 1)
            pts = [(x, y)]
            pdx, pdy = 0.0, 0.0
            sign = 1.0 if rng.random() < 0.5 else -1.0
            for i in range(maxlen):
                t = theta[iy, ix]
                dx, dy = math.cos(t) * sign, math.sin(t) * sign
                if i and dx * pdx + dy * pdy < 0:
                    dx, dy = -dx, -dy
                nx, ny = x + dx * step, y + dy * step
                if not (0 <= nx < W and 0 <= ny < H):
                    break
                jx, jy = int(nx), int(ny)
                if i >= minlen and np.abs(ref[jy, jx] - c0).sum() > tol:
                    break
                x, y, ix, iy, pdx, pdy = nx, ny, jx, jy, dx, dy
                pts.append((x, y))
            w = radius * 2 * rng.uniform(0.8, 1.15)
            self.stroke(pts, color, w, alpha * rng.uniform(0.85, 1.0))

    def shape(self, pts, color, alpha):
        """A flat dab of paint of the given outline (confetti, leaves)."""
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        x0, y0 = max(0, int(min(xs)) - 1), max(0, int(min(ys)) - 1)
        x1, y1 = min(W, int(max(xs)) + 2), min(H, int(max(ys)) + 2)
        if x1 <= x0 or y1 <= y0:
            return
        m = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(m).polygon([(x - x0, y - y0) for x, y in pts], fill=int(alpha * 255))
        c = tuple(int(v) for v in np.clip(col(color) * 255 + 0.5, 0, 255))
        self.img.paste(c, (x0, y0), m)
        self.hmap.paste(int(self.rng.integers(120, 200)), (x0, y0), m)

    def accents(self, items):
        for item in items:
            if item[0] == "poly":
                self.shape(item[1], item[2], item[3])
            else:
                pts, color, width, alpha = item
                self.stroke(pts, col(color), width, alpha)

    def finish(self, theta, relief=0.15, streak=0.035, weave=0.012):
        rng = self.rng
        img = np.asarray(self.img, dtype=np.float64) / 255.0
        # Bristle streaks: white noise smeared along the stroke directions (line integral).
        noise = blur(rng.random((H, W)), 0.7)
        c, s = np.cos(theta), np.sin(theta)
        acc = np.zeros((H, W))
        for k in range(-6, 7):
            xi = np.clip((X + c * k).astype(np.int64), 0, W - 1)
            yi = np.clip((Y + s * k).astype(np.int64), 0, H - 1)
            acc += noise[yi, xi]
        acc = (acc - acc.mean()) / (acc.std() + 1e-9)
        # Impasto: the height of the last stroke over each pixel, lit from the upper left.
        h = blur(np.asarray(self.hmap, dtype=np.float64) / 255.0, 1.0) + acc * 0.02
        emb = h - np.roll(np.roll(h, 1, axis=0), 1, axis=1)
        # Canvas weave.
        wv = np.sin(X * (2 * np.pi / 4.0)) * np.sin(Y * (2 * np.pi / 4.0))
        wv = wv + blur(rng.normal(0, 1, (H, W)), 0.6) * 0.6
        lum = 1 + acc * streak + wv * weave
        img = img * lum[..., None] + emb[..., None] * relief
        # A faint warm vignette, as varnish darkens at the edges.
        r = np.hypot((X - W / 2) / (W / 2), (Y - H / 2) / (H / 2))
        img *= (1 - 0.12 * smoothstep(0.7, 1.45, r))[..., None]
        return Image.fromarray(to8(img))


def to8(a):
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


DEFAULT_LAYERS = [
    dict(radius=12, maxlen=10, tol=0.25, alpha=0.92, jitter=0.07),
    dict(radius=6, maxlen=9, tol=0.18, alpha=0.88, threshold=0.16, keep=0.22, jitter=0.06),
    dict(radius=3, maxlen=7, tol=0.14, alpha=0.88, threshold=0.20, keep=0.04, jitter=0.05),
    dict(radius=1.6, maxlen=5, tol=0.12, alpha=0.85, threshold=0.28, keep=0.0, jitter=0.03),
]


def render(scene, seed):
    rng = np.random.default_rng(seed)
    spec = scene(rng)
    under = np.clip(spec["under"], 0, 1)
    theta = orientation(under, spec["theta"], edge_thr=spec.get("edge_thr", 0.02))
    p = Painter(under, seed + 1)
    for lay in spec.get("layers", DEFAULT_LAYERS):
        lay = dict(lay)
        ref = blur(under, lay["radius"] * 0.25)
        p.layer(ref, theta, **lay)
    p.accents(spec.get("accents", []))
    return p.finish(theta, **spec.get("finish", {}))


# ---------------------------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------------------------

SCENES = {}


def scene(name, seed):
    def reg(fn):
        SCENES[name] = (fn, seed)
        return fn

    return reg


def rect(x, y, ang, w, h):
    """A rotated rectangle, as a polygon accent's outline."""
    c, s = math.cos(ang), math.sin(ang)
    return [(x + c * dx - s * dy, y + s * dx + c * dy) for dx, dy in
            ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))]


def leaf(x, y, ang, length, width):
    """A pointed, lens-shaped leaf outline."""
    c, s = math.cos(ang), math.sin(ang)
    pts = []
    for k in range(9):
        t = k / 8
        pts.append((length * (t - 0.5), width / 2 * math.sin(math.pi * t)))
    for k in range(7, 0, -1):
        t = k / 8
        pts.append((length * (t - 0.5), -width / 2 * math.sin(math.pi * t) * 0.8))
    return [(x + c * dx - s * dy, y + s * dx + c * dy) for dx, dy in pts]


def dab_line(x, y, ang, length):
    return [(x - math.cos(ang) * length / 2, y - math.sin(ang) * length / 2),
            (x + math.cos(ang) * length / 2, y + math.sin(ang) * length / 2)]


@scene("sunlit-meadow", 101)
def sunlit_meadow(rng):
    hz = 340.0
    img = grad([(0, "#2a63b8"), (0.55, "#5f9bd8"), (1.0, "#cfe3ef")], np.clip(Y / hz, 0, 1))
    sx, sy = 770.0, 105.0
    d = np.hypot(X - sx, Y - sy)
    comp(img, np.exp(-d / 110.0) * 0.85, col("#fff0b0"))
    comp(img, np.exp(-d / 45.0) * 0.9, col("#fffbe8"))
    comp(img, np.clip(40 - d, 0, 1), col("#fff8d0"))
    # Cumulus clouds: clusters of puffs with flat, shaded bottoms.
    for cx, cy, cw, ch in [(190, 125, 300, 70), (500, 200, 220, 48), (600, 62, 170, 36)]:
        cm = Image.new("L", (W, H), 0)
        dd = ImageDraw.Draw(cm)
        for k in range(22):
            px = cx + rng.uniform(-0.5, 0.5) * cw
            edge = 1 - abs(px - cx) / (cw / 2)
            r = ch * (0.3 + 0.5 * edge) * rng.uniform(0.7, 1.1)
            py = cy + ch * 0.3 - r * rng.uniform(0.5, 1.0)
            dd.ellipse((px - r, py - r, px + r, py + r), fill=255)
        m = np.asarray(cm, dtype=np.float64) / 255.0
        m *= smoothstep(cy + ch * 0.45, cy + ch * 0.2, Y)
        m = blur(m, 3.0)
        tc = np.clip((Y - (cy - ch)) / (1.5 * ch), 0, 1)
        cc = grad([(0, "#ffffff"), (0.6, "#f4f1ea"), (1.0, "#b9c6dc")], tc)
        comp(img, m * 0.97, cc)
    # Distant blue hills, then sunlit green ones.
    y_far = hz - 10 + 16 * np.sin(X / 170 + 1) + 9 * np.sin(X / 61)
    comp(img, np.clip(Y - y_far, 0, 1), grad([(0, "#86a9b0"), (1, "#8fb38a")], np.clip((Y - 320) / 60, 0, 1)))
    n1 = fbm(rng.integers(1 << 30), 90)
    y_mid = 410 + 38 * np.sin(X / 250 + 2.2) + 12 * np.sin(X / 83)
    mid = grad([(0, "#b5d35a"), (1, "#78a83c")], np.clip((Y - 360) / 140, 0, 1))
    mid *= (0.9 + 0.2 * n1)[..., None]
    comp(img, np.clip(Y - y_mid, 0, 1), mid)
    # A tree on the hill, with its shadow.
    tx, ty = 255.0, 412 + 38 * math.sin(255 / 250 + 2.2) + 12 * math.sin(255 / 83)
    comp(img, ellipse(tx + 45, ty + 4, 70, 9, soft=4) * 0.5, col("#4f7a2a"))
    comp(img, poly([(tx - 7, ty + 4), (tx - 4, ty - 70), (tx + 4, ty - 70), (tx + 8, ty + 4)]), col("#4a3424"))
    comp(img, poly([(tx - 2, ty - 60), (tx - 30, ty - 100), (tx - 26, ty - 104), (tx + 1, ty - 72)], 0.6), col("#4a3424"))
    comp(img, poly([(tx + 1, ty - 66), (tx + 34, ty - 108), (tx + 30, ty - 112), (tx - 2, ty - 78)], 0.6), col("#4a3424"))
    puffs = []
    for _ in range(70):
        a, rr = rng.uniform(0, 2 * np.pi), math.sqrt(rng.random())
        px, py = tx + math.cos(a) * rr * 78, ty - 118 + math.sin(a) * rr * 62
        puffs.append((px, py, rng.uniform(12, 24)))
    puffs.sort(key=lambda p: -(p[0] - tx) * 0.55 - (p[1] - ty + 118) * 0.6)
    for px, py, r in puffs:
        m, lam, sp = ellipsoid(px, py, r, r * 0.85)
        g = np.clip(0.5 - ((px - tx) * 0.55 + (py - ty + 118) * 0.6) / 110, 0, 1)
        base = col("#6aa838") * (0.55 + 0.6 * g) + col("#c8d860") * 0.15 * g
        comp(img, m, lit(base, lam, sp * 0, ambient=0.45, shadow=col("#1c4220") * (0.8 + 0.4 * g)))
    # Foreground meadow.
    y_fg = 500 + 22 * np.sin(X / 210 + 0.5)
    n2 = fbm(rng.integers(1 << 30), 70, aspect=2.5)
    fg = grad([(0, "#9cc43c"), (0.5, "#6ea32e"), (1, "#3f7a24")], np.clip((Y - 480) / 240, 0, 1))
    fg *= (0.82 + 0.32 * n2)[..., None]
    comp(img, np.clip(Y - y_fg, 0, 1), fg)
    theta = np.where(Y < y_far, 0.1 * np.sin(X / 130 + Y / 50), 0.06 * np.sin(X / 90))
    grass = Y > y_fg - 5
    theta = np.where(grass, np.pi / 2 + 0.5 * (fbm(rng.integers(1 << 30), 40) - 0.5), theta)
    # Flowers and grass blades as final dabs.
    acc = []
    palette = [("#ffd21f", 0.32), ("#fbf6ea", 0.26), ("#e0301c", 0.2), ("#9b6ad6", 0.1),
               ("#ff8a1c", 0.08), ("#f07ab0", 0.04)]
    names = [c for c, _ in palette]
    probs = np.array([p for _, p in palette])
    for _ in range(260):
        x = rng.uniform(0, W)
        yb = 412 + 38 * math.sin(x / 250 + 2.2) + 12 * math.sin(x / 83)
        y = yb + rng.uniform(4, 90)
        c = names[rng.choice(len(names), p=probs)]
        acc.append((dab_line(x, y, rng.uniform(0, 3), 2.5), c, 2.5, 0.85))
    for _ in range(900):
        t = rng.random() ** 0.7
        y = 500 + 220 * t + rng.uniform(-10, 10)
        x = rng.uniform(-10, W + 10)
        s = 2.5 + 13 * t ** 1.6
        c = names[rng.choice(len(names), p=probs)]
        if s > 6:
            base = hexc(c)
            for k in range(5):
                a = k * 2 * math.pi / 5 + rng.uniform(0, 1)
                px, py = x + math.cos(a) * s * 0.5, y + math.sin(a) * s * 0.35
                shade = base * rng.uniform(0.85, 1.08)
                acc.append(([(x, y), (px, py)], shade, s * 0.55, 0.9))
            centre = "#6a3d12" if c in ("#e0301c", "#9b6ad6") else "#f0a818"
            acc.append((dab_line(x, y, 0, s * 0.2), centre, s * 0.35, 0.95))
        else:
            acc.append((dab_line(x, y, rng.uniform(0, 3), s * 0.8), c, s * 0.8, 0.9))
    for _ in range(700):
        t = rng.random() ** 0.6
        x, y = rng.uniform(0, W), 510 + 210 * t
        ln = 6 + 28 * t
        a = -np.pi / 2 + rng.normal(0, 0.25)
        c = ["#2f6a1e", "#5a9a2a", "#a8c850"][rng.integers(3)]
        acc.append(([(x, y), (x + math.cos(a) * ln, y + math.sin(a) * ln)], c, 1 + 2 * t, 0.7))
    order = rng.permutation(len(acc))
    acc = [acc[i] for i in order]
    for k in range(70):
        a = k * 2 * np.pi / 70 + rng.uniform(-0.03, 0.03)
        r0, r1 = 46 + rng.uniform(0, 8), 60 + rng.uniform(0, 40)
        acc.append(([(sx + math.cos(a) * r0, sy + math.sin(a) * r0), (sx + math.cos(a) * r1, sy + math.sin(a) * r1)],
                    ["#fff2a0", "#ffe680", "#fffbe0"][rng.integers(3)], rng.uniform(2.5, 4.5), 0.4))
    return dict(under=img, theta=theta, accents=acc)


@scene("volcanic-storm", 202)
def volcanic_storm(rng):
    hz = 430.0
    sky = grad([(0, "#1c0605"), (0.35, "#4a0e07"), (0.7, "#a82a0c"), (0.9, "#e8601a"), (1.0, "#f89a3a")],
               np.clip(Y / hz, 0, 1))
    # Turbulent, warped smoke.
    wx = fbm(rng.integers(1 << 30), 220) - 0.5
    wy = fbm(rng.integers(1 << 30), 220) - 0.5
    n = fbm(rng.integers(1 << 30), 130, octaves=6)
    xi = np.clip((X + wx * 160).astype(int), 0, W - 1)
    yi = np.clip((Y + wy * 120).astype(int), 0, H - 1)
    n = n[yi, xi]
    smoke = smoothstep(0.38, 0.72, n) * smoothstep(hz + 10, hz - 120, Y)
    glow_v = np.exp(-np.hypot(X - 600, Y - 190) / 260)
    smoke_c = grad([(0, "#1a0807"), (0.6, "#3a130c"), (1, "#c8501a")], np.clip(glow_v * 1.3 + (n - 0.6) * 0.6, 0, 1))
    img = sky.copy()
    comp(img, smoke * 0.9, smoke_c)
    # Lightning glow in the sky (the bolt itself is an accent).
    bolt = [(150.0, 0.0)]
    bx, by = 150.0, 0.0
    while by < 400:
        by += rng.uniform(18, 40)
        bx += rng.uniform(-26, 30)
        bolt.append((bx, by))
    branch = [bolt[5]]
    for _ in range(5):
        branch.append((branch[-1][0] - rng.uniform(10, 30), branch[-1][1] + rng.uniform(15, 30)))
    gm = blur(lines(bolt, 5) + lines(branch, 3), 14)
    comp(img, np.clip(gm * 3.0, 0, 0.8), col("#e8c8ff"))
    # Eruption plume from the crater.
    cx, cy = 600.0, 188.0
    up = np.clip((cy - Y) / cy, 0, 1)
    centre = cx + 50 * np.sin(Y / 55) * up + (cy - Y) * 0.55
    half = 26 + (cy - Y) * 0.9
    pm = smoothstep(half, half * 0.55, np.abs(X - centre)) * (Y < cy + 10)
    pm *= smoothstep(0.25, 0.6, n * 0.7 + 0.35)
    pc = grad([(0, "#1e0a08"), (0.5, "#4a1a10"), (0.8, "#d05a18"), (1, "#ffc040")],
              np.clip(np.exp(-np.hypot(X - cx, Y - cy) / 120) * 1.2 + (n - 0.5) * 0.3, 0, 1))
    comp(img, pm * 0.95, pc)
    comp(img, np.exp(-np.hypot(X - cx, Y - cy) / 40) * 0.9, col("#ffd060"))
    # The volcano.
    vol = [(180, 440), (300, 380), (420, 290), (520, 210), (565, 186), (640, 188), (690, 220),
           (780, 300), (880, 360), (960, 385), (960, 445), (180, 445)]
    vm = poly(vol, 1.0)
    vn = fbm(rng.integers(1 << 30), 40)
    vc = grad([(0, "#120707"), (1, "#3e1810")], np.clip(np.exp(-np.hypot(X - cx, Y - cy) / 220) + vn * 0.25, 0, 1))
    comp(img, vm, vc)
    # Lava rivers.
    lm = np.zeros((H, W))
    for sx0, dxs in [(572, -1.3), (598, -0.4), (630, 0.8), (652, 1.7)]:
        x, y = float(sx0), 192.0
        pts = [(x, y)]
        drift = 0.0
        while y < 440:
            y += rng.uniform(8, 12)
            drift = 0.7 * drift + rng.normal(0, 5)
            x += dxs * rng.uniform(5, 9) + drift
            pts.append((x, y))
        k = len(pts) // 2
        lm = np.maximum(lm, lines(pts[:k + 1], 8, 0.8))
        lm = np.maximum(lm, lines(pts[k:], 5, 0.8) * 0.85)
        if dxs > 0:
            fork = [pts[k]]
            for _ in range(8):
                fork.append((fork[-1][0] + rng.uniform(-14, 2) * np.sign(dxs) * -1, fork[-1][1] + rng.uniform(8, 13)))
            lm = np.maximum(lm, lines(fork, 4, 0.8) * 0.8)
    lm *= vm
    comp(img, np.clip(blur(lm, 8) * 1.8, 0, 0.85) * vm, col("#e0400c"))
    comp(img, lm, col("#ffb526"))
    # The sea.
    sea_t = np.clip((Y - hz) / (H - hz), 0, 1)
    waves = fbm(rng.integers(1 << 30), 30, aspect=5.0)
    sea = grad([(0, "#8a2a10"), (0.25, "#4a140c"), (1, "#160808")], sea_t)
    sea *= (0.75 + 0.5 * waves)[..., None]
    refl = np.exp(-np.abs(X - 610) / 70) * smoothstep(H, hz, Y) * smoothstep(0.4, 0.8, waves)
    sea = sea * (1 - refl[..., None]) + col("#ff8a2a") * refl[..., None]
    foam = smoothstep(0.78, 0.95, waves) * sea_t
    sea = sea * (1 - foam[..., None]) + col("#e8b090") * foam[..., None]
    comp(img, np.clip(Y - hz - 4, 0, 1), sea)
    # Black rocks of the coast in front, rimmed by the fire's light.
    rn = fbm(rng.integers(1 << 30), 25)
    xs = np.linspace(-20, 980, 26)
    top = 640 + 40 * np.sin(xs / 120 + 0.6) + rng.uniform(-26, 26, xs.size)
    top[:8] -= np.linspace(170, 30, 8)
    top[-5:] -= np.linspace(0, 90, 5)
    rock = [(float(x), float(t)) for x, t in zip(xs, top)] + [(980, 740), (-20, 740)]
    rm = poly(rock, 1.0)
    # Faceted rock: each facet lit by the fire according to its slope.
    facet = np.zeros((H, W))
    for k in range(60):
        fx, fy = rng.uniform(-20, 980), rng.uniform(470, 720)
        fr = rng.uniform(30, 80)
        pts = [(fx + fr * math.cos(a), fy + fr * 0.6 * math.sin(a)) for a in np.sort(rng.uniform(0, 2 * np.pi, 6))]
        facet = np.maximum(facet, poly(pts, 0.8) * rng.uniform(0, 1))
    rc = grad([(0, "#5a2412"), (0.45, "#241008"), (1, "#070303")], np.clip((Y - 470) / 230, 0, 1))
    rc *= (0.45 + 0.8 * facet + 0.3 * rn)[..., None]
    comp(img, rm, rc)
    rim = np.clip(rm - np.roll(np.roll(rm, 6, axis=0), 2, axis=1), 0, 1)
    comp(img, blur(rim, 2.5) * 0.55, col("#e0682a"))
    # Breakers: white water heaped against the rocks.
    fn = fbm(rng.integers(1 << 30), 18)
    for k in range(9):
        bx = 60 + k * 110 + rng.uniform(-30, 30)
        ti = int(np.clip((bx + 20) / 1000 * (xs.size - 1), 0, xs.size - 2))
        by = min(top[ti], top[ti + 1])
        plume = ellipse(bx, by - 12, rng.uniform(40, 70), rng.uniform(14, 30), 8) * smoothstep(0.3, 0.6, fn)
        comp(img, np.clip(plume * 1.3, 0, 0.85) * (1 - rm * 0.7), grad([(0, "#ffe8d8"), (1, "#d07850")],
                                                                       np.clip((Y - by + 40) / 60, 0, 1)))
    swirl = 2 * np.pi * fbm(rng.integers(1 << 30), 200)
    theta = np.where(Y < hz, swirl, 0.05 * np.sin(X / 60))
    theta = np.where(pm > 0.3, np.pi / 2 + 0.4 * np.sin(Y / 40), theta)
    acc = []
    for pts, w in ((bolt, 4), (branch, 2)):
        for a, b in zip(pts[:-1], pts[1:]):
            acc.append(([a, b], "#fbf4ff", w, 0.95))
    for _ in range(160):
        a = rng.uniform(-np.pi * 0.95, -np.pi * 0.05)
        r = rng.uniform(10, 110)
        x, y = cx + math.cos(a) * r, cy + math.sin(a) * r * 0.9
        acc.append((dab_line(x, y, a, rng.uniform(4, 10)), ["#ffd040", "#ff8a20", "#fff0a0"][rng.integers(3)],
                    rng.uniform(2, 4), 0.9))
    for _ in range(110):
        x, y = rng.uniform(0, W), rng.uniform(hz + 8, 640)
        acc.append((dab_line(x, y, rng.normal(0, 0.08), rng.uniform(8, 26)), ["#f0a070", "#c86040", "#ffc890"][rng.integers(3)],
                    rng.uniform(1.5, 3), 0.4))
    # Spray thrown up where the sea breaks on the rocks.
    for _ in range(160):
        x = rng.uniform(0, W)
        ti = int(np.clip((x + 20) / 1000 * (xs.size - 1), 0, xs.size - 2))
        ytop = top[ti] + (top[ti + 1] - top[ti]) * ((x + 20) / 1000 * (xs.size - 1) - ti)
        if rng.random() > 0.6:
            continue
        y = ytop - abs(rng.normal(0, 22))
        a = -np.pi / 2 + rng.normal(0, 0.6)
        acc.append((dab_line(x, y, a, rng.uniform(3, 7)), ["#f8d8c0", "#f0a070", "#ffffff"][rng.integers(3)],
                    rng.uniform(3, 6), 0.45))
    layers = [dict(l) for l in DEFAULT_LAYERS]
    layers[0]["jitter"] = 0.08
    return dict(under=img, theta=theta, accents=acc, layers=layers)


def project(vpx, vpy, a, b, z):
    return (vpx + a / z, vpy + b / z)


@scene("rainy-night-street", 303)
def rainy_night_street(rng):
    vpx, vpy = 470.0, 340.0
    g_b = 330.0
    img = grad([(0, "#0c1226"), (0.6, "#1e2a48"), (1.0, "#3e4c6e")], np.clip(Y / vpy, 0, 1))
    haze = np.exp(-np.hypot(X - vpx, (Y - vpy) * 1.6) / 170)
    comp(img, haze * 0.6, col("#4a5a7c"))
    fog = col("#44567a")
    # Street and pavements on the ground plane.
    road = grad([(0, "#34425e"), (1, "#141b2c")], np.clip((Y - vpy) / (H - vpy), 0, 1))
    comp(img, np.clip(Y - vpy - 2, 0, 1), road)
    pave = []
    for side in (-1, 1):
        pv = [project(vpx, vpy, side * 400, g_b, 0.55), project(vpx, vpy, side * 400, g_b, 30),
              project(vpx, vpy, side * 700, g_b, 30), project(vpx, vpy, side * 700, g_b, 0.55)]
        pm = poly(pv)
        pave.append(pm)
        comp(img, pm, grad([(0, "#3a4660"), (1, "#1c2334")], np.clip((Y - vpy) / 300, 0, 1)))
        kerb = [project(vpx, vpy, side * 400, g_b, z) for z in (0.55, 30)]
        comp(img, lines(kerb, 4) * 0.9, col("#7484a4"))
    # Buildings on both sides, hazier with distance.
    lit_window = None
    facade_mask = np.zeros((H, W))
    palette = ["#2a3650", "#313e5a", "#26304a", "#34405c", "#2c3852"]
    for side, blocks in ((-1, [(0.5, 1.8, -560), (1.8, 3.2, -420), (3.2, 5.0, -500), (5.0, 8.0, -360), (8.0, 16, -420)]),
                         (1, [(0.5, 1.6, -480), (1.6, 2.9, -600), (2.9, 4.6, -440), (4.6, 7.5, -520), (7.5, 16, -380)])):
        for bi, (za, zb, br) in enumerate(blocks):
            a = side * 620
            quad = [project(vpx, vpy, a, g_b, za), project(vpx, vpy, a, br, za),
                    project(vpx, vpy, a, br, zb), project(vpx, vpy, a, g_b, zb)]
            base = col(palette[(bi + (side > 0)) % 5])
            f = min(0.7, (1 - 1 / ((za + zb) / 2)) * 0.65)
            c = base * (1 - f) + fog * f
            qm = poly(quad)
            facade_mask = np.maximum(facade_mask, qm)
            comp(img, qm, c * (0.88 + 0.24 * fbm(int(rng.integers(1 << 30)), 50))[..., None])
            comp(img, lines([quad[0], quad[1]], 3) * 0.6, c * 1.45)
            comp(img, lines([quad[1], quad[2]], max(2, 8 / za)) * 0.7, c * 1.35)
            nb = max(2, int(round((zb - za) * 2.6 / max(1.0, za))))
            floors = int((g_b - br - 90) / 115)
            for fl in range(floors):
                b0 = g_b - 110 - fl * 115
                b1 = b0 - 72
                for k in range(nb):
                    z0 = za + (zb - za) * (k + 0.22) / nb
                    z1 = za + (zb - za) * (k + 0.72) / nb
                    q = [project(vpx, vpy, a, b0, z0), project(vpx, vpy, a, b1, z0),
                         project(vpx, vpy, a, b1, z1), project(vpx, vpy, a, b0, z1)]
                    if side > 0 and bi == 1 and fl == 1 and k == 0:
                        lit_window = q
                        continue
                    wc = col("#121a2c") * (1 - f) + fog * f * 0.7
                    comp(img, poly(q, 0.5), wc + rng.uniform(0, 0.06) * col("#6a7ca0"))
                    sill = [project(vpx, vpy, a, b0 + 6, z0), project(vpx, vpy, a, b0 + 6, z1)]
                    comp(img, lines(sill, max(1, 5 / za)) * 0.6, c * 1.5)
    # Distant blocks at the end of the street.
    for k in range(8):
        x0 = vpx - 100 + k * 26 + rng.uniform(-5, 5)
        comp(img, poly([(x0, vpy + 8), (x0, vpy - rng.uniform(30, 90)), (x0 + 30, vpy - rng.uniform(30, 90)),
                        (x0 + 30, vpy + 8)], 1.5) * 0.6, col("#4a5a7a"))
    # The wet street mirrors what stands above it, broken by ripples.
    ripple = fbm(rng.integers(1 << 30), 7, aspect=7.0)
    ground = Y > vpy + 3
    zx = np.where(np.abs(X - vpx) > 1, 620 / np.maximum(np.abs(X - vpx), 1), 99)
    yg = vpy + g_b / zx
    ysrc = np.where(Y > yg, 2 * yg - Y, 2 * vpy - Y)
    xsrc = np.clip(X.astype(int) + ((ripple - 0.5) * 12).astype(int), 0, W - 1)
    mirror = img[np.clip(ysrc.astype(int), 0, H - 1), xsrc]
    mirror = blur(mirror, 1.5)
    wet = ground * (0.45 + 0.3 * ripple)
    comp(img, wet * smoothstep(vpy, vpy + 40, Y), mirror * 0.75)
    sheen = np.exp(-np.abs(X - vpx) / np.maximum(8.0, (Y - vpy) * 0.5)) * ground * smoothstep(vpy, vpy + 120, Y)
    comp(img, sheen * (0.2 + 0.4 * ripple), col("#5a6c92"))
    for _ in range(7):
        px, py = rng.uniform(250, 700), rng.uniform(480, 700)
        sc = (py - vpy) / 300
        comp(img, ellipse(px, py, rng.uniform(40, 90) * sc, rng.uniform(5, 9) * sc, 2) * 0.55, col("#56668c"))
    # The one lit window, its glow, and its long reflection on the wet stones.
    q = lit_window
    wm = poly(q, 0.6)
    wcx = sum(p[0] for p in q) / 4
    wcy = sum(p[1] for p in q) / 4
    wy1 = max(p[1] for p in q)
    comp(img, np.exp(-np.hypot(X - wcx, Y - wcy) / 90) * 0.5, col("#b08858"))
    comp(img, wm, grad([(0, "#fff0b0"), (1, "#f2a848")], np.clip((Y - wcy + 25) / 50, 0, 1)))
    mid = lambda p, r: ((p[0] + r[0]) / 2, (p[1] + r[1]) / 2)
    comp(img, lines([mid(q[0], q[3]), mid(q[1], q[2])], 3), col("#5a3a1c"))
    comp(img, lines([mid(q[0], q[1]), mid(q[2], q[3])], 3), col("#5a3a1c"))
    ry0 = vpy + g_b / (620 / max(1.0, wcx - vpx))
    refl = np.exp(-np.abs(X - wcx) / 16) * smoothstep(ry0, ry0 + 30, Y) * smoothstep(H + 80, ry0 + 40, Y)
    comp(img, refl * (0.2 + 0.7 * ripple), col("#e0a458"))
    # A figure with an umbrella walking away on the right pavement.
    fx, fy = project(vpx, vpy, 500, g_b, 1.45)
    s = 1 / 1.45
    body = [(fx - 24 * s, fy - 120 * s), (fx + 24 * s, fy - 120 * s), (fx + 28 * s, fy - 30 * s),
            (fx + 12 * s, fy), (fx - 12 * s, fy), (fx - 28 * s, fy - 30 * s)]
    comp(img, poly(body, 1.0), col("#0c1018"))
    umb = [(fx - 80 * s, fy - 138 * s)] + [(fx + 80 * s * math.cos(t), fy - 138 * s - 52 * s * math.sin(t))
                                          for t in np.linspace(np.pi, 0, 18)]
    comp(img, poly(umb, 1.0), col("#141a28"))
    comp(img, lines([(fx - 80 * s, fy - 138 * s), (fx + 80 * s, fy - 138 * s)], 2) * 0.7, col("#5a6a8a"))
    comp(img, lines([(fx, fy - 138 * s), (fx, fy - 90 * s)], 2), col("#0c1018"))
    comp(img, ellipse(fx, fy + 3, 38 * s, 6 * s, 3) * 0.6, col("#06080e"))
    rain = np.pi / 2 + 0.16
    theta = np.where(Y < vpy, rain, np.pi / 2)
    theta = np.where(facade_mask > 0.5, np.pi / 2, theta)
    acc = []
    for _ in range(620):
        x, y = rng.uniform(-40, W), rng.uniform(0, H) ** 1.0 * (0.85 if rng.random() < 0.5 else 1.0)
        ln = rng.uniform(12, 28)
        acc.append(([(x, y), (x + math.cos(rain) * ln, y + math.sin(rain) * ln)],
                    ["#9aaccc", "#b8c6e0", "#7a8cb0"][rng.integers(3)], rng.uniform(1, 2), rng.uniform(0.18, 0.38)))
    for _ in range(90):
        x, y = rng.uniform(0, W), rng.uniform(vpy + 80, H)
        w = rng.uniform(6, 18) * (y - vpy) / 300
        acc.append((dab_line(x, y, 0, w), "#7888aa", 1.5, 0.45))
    layers = [dict(l) for l in DEFAULT_LAYERS]
    layers[0] = dict(radius=9, maxlen=9, tol=0.2, alpha=0.9, jitter=0.07)
    return dict(under=img, theta=theta, accents=acc, edge_thr=0.025, layers=layers)


@scene("carnival", 404)
def carnival(rng):
    hz = 530.0
    img = grad([(0, "#2d8fe0"), (0.7, "#7cc6f0"), (1, "#cdeef8")], np.clip(Y / hz, 0, 1))
    for cx, cy, cw in [(120, 70, 150), (850, 330, 120), (720, 60, 110)]:
        for k in range(9):
            px = cx + rng.uniform(-0.5, 0.5) * cw
            r = cw * rng.uniform(0.12, 0.22)
            comp(img, ellipse(px, cy + rng.uniform(-8, 8), r * 1.3, r, 3) * 0.9, col("#ffffff"))
    gr = grad([(0, "#7ac850"), (1, "#3c9a38")], np.clip((Y - hz) / (H - hz), 0, 1))
    gr *= (0.85 + 0.3 * fbm(rng.integers(1 << 30), 40, aspect=3))[..., None]
    comp(img, np.clip(Y - hz, 0, 1), gr)
    comp(img, poly([(420, 560), (540, 560), (700, 720), (260, 720)], 2), col("#e8c890"))
    cx, ax, ay = 480.0, 480.0, 105.0
    ex, ey = 300.0, 335.0
    # Roof: a cone from the apex to the eaves, in red and white gores.
    u = np.clip((X - cx) / ex, -1.2, 1.2)
    eave = ey + 28 * np.sqrt(np.clip(1 - u * u, 0, 1))
    roof_top = ay + (ey - ay) * np.abs(u) ** 0.85
    rm = np.clip(Y - roof_top, 0, 1) * np.clip(eave - Y, 0, 1) * (np.abs(u) < 1)
    phi = np.arctan2(X - ax, (Y - ay) * 1.4)
    stripe = smoothstep(-0.08, 0.08, np.sin(phi * 15))
    shade = 0.72 + 0.32 * (1 - np.abs(u)) - 0.1 * np.clip(u, 0, 1)
    roof = (col("#d81e28") * stripe[..., None] + col("#f6f0e4") * (1 - stripe[..., None])) * shade[..., None]
    # Walls: vertical gores on a drum, squeezed towards its sides.
    wr = 270.0
    uw = (X - cx) / wr
    base = 560 + 22 * np.sqrt(np.clip(1 - uw * uw, 0, 1))
    wm = (np.abs(uw) < 1) * np.clip(base - Y, 0, 1) * (Y > ey - 5)
    ang = np.arcsin(np.clip(uw, -1, 1))
    ws = smoothstep(-0.1, 0.1, np.sin(ang * 11))
    wshade = 0.55 + 0.45 * np.cos(ang) + 0.1 * np.sin(ang) * -1
    wall = (col("#f6f0e4") * ws[..., None] + col("#d81e28") * (1 - ws[..., None])) * wshade[..., None]
    comp(img, blur(wm, 0.7), wall)
    comp(img, blur(rm, 0.7), roof)
    # Scalloped valance along the eaves.
    for k in range(-11, 12):
        x = cx + k * 26
        uu = (x - cx) / ex
        if abs(uu) >= 0.97:
            continue
        y = ey + 28 * math.sqrt(1 - uu * uu)
        c = "#f4c21a" if k % 2 else "#1e5fcf"
        comp(img, ellipse(x, y, 14, 15, 0.8) * (Y > y - 1), col(c) * (0.8 + 0.25 * (1 - abs(uu))))
    # The entrance, curtains drawn back.
    comp(img, poly([(430, 582), (430, 440), (480, 405), (530, 440), (530, 582)], 1), col("#3a0e14"))
    comp(img, poly([(430, 582), (430, 440), (480, 405), (452, 500), (448, 582)], 1), col("#f2b81e"))
    comp(img, poly([(530, 582), (530, 440), (480, 405), (508, 500), (512, 582)], 1), col("#e0a010"))
    # Flag on the top.
    comp(img, lines([(ax, ay + 2), (ax, 40)], 4), col("#5a3a22"))
    comp(img, poly([(ax + 2, 42), (ax + 60, 56), (ax + 2, 72)], 1), col("#1e5fcf"))
    # Bunting from the apex to poles at the sides.
    acc = []
    bright = ["#e82a2a", "#f8c820", "#1e6ae0", "#2ab84a", "#a040d0", "#ff7a1a", "#ff5aa8"]
    for (x0, y0), (x1, y1) in [((ax, ay + 20), (-10, 250)), ((ax, ay + 20), (970, 250)),
                               ((ax, ay + 60), (20, 420)), ((ax, ay + 60), (940, 420))]:
        pts = []
        for t in np.linspace(0, 1, 15):
            pts.append((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t + 60 * math.sin(math.pi * t)))
        comp(img, lines(pts, 2), col("#5a4a40"))
        for p, q in zip(pts[:-1], pts[1:]):
            mx, my = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
            comp(img, poly([p, q, (mx, my + 30)], 0.8), col(bright[rng.integers(len(bright))]))
    # Balloons on strings.
    for gx, gy, hx, hy in [(150, 190, 190, 470), (820, 170, 790, 480)]:
        for k in range(8):
            bx, by = gx + rng.uniform(-85, 85), gy + rng.uniform(-80, 70)
            r = rng.uniform(30, 40)
            comp(img, lines([(bx, by + r * 1.2), ((bx + hx) / 2 + 10, (by + hy) / 2), (hx, hy)], 1.5) * 0.8, col("#f4f4f4"))
            m, lam, sp = ellipsoid(bx, by, r, r * 1.2)
            c = bright[rng.integers(len(bright))]
            comp(img, m, lit(c, lam, sp, ambient=0.45, spec_amt=0.9))
            comp(img, poly([(bx, by + r * 1.15), (bx - 6, by + r * 1.3), (bx + 6, by + r * 1.3)], 0.6), col(c) * 0.7)
    theta = np.where(Y < hz, 0.3 * np.sin(X / 80) + 0.3 * np.cos(Y / 70), np.pi / 2)
    theta = np.where(wm > 0.5, np.pi / 2, theta)
    theta = np.where(rm > 0.5, phi * -1 + np.pi / 2, theta)
    for _ in range(520):
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        sz = rng.uniform(5, 10)
        acc.append(("poly", rect(x, y, rng.uniform(0, np.pi), sz, sz * rng.uniform(0.4, 0.7)),
                    bright[rng.integers(len(bright))], 0.95))
    return dict(under=img, theta=theta, accents=acc)


@scene("still-life", 505)
def still_life(rng):
    ty = 470.0
    wn = fbm(rng.integers(1 << 30), 120)
    img = grad([(0, "#6f7a68"), (1, "#8c9684")], np.clip(1 - np.hypot(X - 330, Y - 200) / 700, 0, 1))
    img *= (0.92 + 0.14 * wn)[..., None]
    tn = fbm(rng.integers(1 << 30), 30, aspect=6)
    top = grad([(0, "#8c826c"), (1, "#6c624f")], np.clip((Y - ty) / 170, 0, 1)) * (0.92 + 0.14 * tn)[..., None]
    comp(img, np.clip(Y - ty, 0, 1), top)
    comp(img, np.clip(Y - 640, 0, 1), col("#3e372d") * (0.9 + 0.15 * tn)[..., None])
    comp(img, lines([(0, 640), (W, 640)], 3) * 0.7, col("#9c917a"))
    # A pale cloth over the left of the table, hanging over the edge in folds.
    cloth = [(0, 480), (140, 478), (300, 500), (420, 560), (460, 640), (430, 720), (0, 720)]
    cm = poly(cloth, 1.2)
    folds = 0.8 + 0.2 * np.sin(X / 22 + np.sin(Y / 40) * 2) * smoothstep(600, 660, Y) + 0.1 * np.sin(X / 50 - Y / 30)
    cc = grad([(0, "#d4d2c6"), (1, "#9e9c90")], np.clip((Y - 470) / 250 + X / 1400, 0, 1)) * folds[..., None]
    comp(img, cm, cc)
    # Soft shadows thrown to the right on wall and table.
    sh = ellipse(470, 555, 140, 22, 10) + ellipse(700, 565, 90, 16, 8) + ellipse(850, 568, 60, 12, 7)
    sh += ellipse(450, 380, 100, 170, 25) * 0.5 * (Y < ty)
    img *= (1 - 0.35 * np.clip(sh, 0, 1))[..., None]
    # Tall stoneware jug.
    def tall(t):
        return 118 * np.interp(t, [0, 0.06, 0.16, 0.32, 0.55, 0.85, 1], [0.42, 0.36, 0.32, 0.55, 0.64, 0.56, 0.46])
    jx, j0, j1 = 370.0, 215.0, 555.0
    hpts = [(jx + 30, 258), (jx + 96, 248), (jx + 120, 290), (jx + 112, 350), (jx + 70, 410)]
    comp(img, lines(hpts, 20, 1), col("#3e4846"))
    comp(img, lines([(x - 3, y - 3) for x, y in hpts], 9, 1), col("#9aa6a2"))
    m, lam, sp = lathe(jx, j0, j1, tall)
    comp(img, m, lit("#8e9c98", lam, sp, ambient=0.3, shadow="#3a4442", spec_amt=0.5))
    comp(img, ellipse(jx, j0 + 3, 47, 8, 1), col("#3a4442"))
    comp(img, poly([(jx - 48, j0 - 1), (jx - 72, j0 - 12), (jx - 44, j0 + 10)], 1), col("#9aa8a4"))
    comp(img, lines([(jx - 118 * 0.62, 380), (jx + 118 * 0.62, 380)], 4) * 0.4, col("#5a6664"))
    img *= (1 - 0.45 * ellipse(jx + 14, j1 + 2, 66, 9, 3) * (1 - m * (Y < j1 - 6)))[..., None]
    # Small cream jug.
    def small(t):
        return 78 * np.interp(t, [0, 0.1, 0.25, 0.6, 1], [0.5, 0.44, 0.58, 0.7, 0.55])
    kx, k0, k1 = 600.0, 395.0, 560.0
    kpts = [(kx + 36, 418), (kx + 74, 424), (kx + 80, 470), (kx + 50, 515)]
    comp(img, lines(kpts, 15, 1), col("#5c5646"))
    comp(img, lines([(x - 2, y - 2) for x, y in kpts], 6, 1), col("#d8ceb4"))
    m, lam, sp = lathe(kx, k0, k1, small)
    comp(img, m, lit("#dcd0b2", lam, sp, ambient=0.22, shadow="#585240", spec_amt=0.5))
    comp(img, ellipse(kx, k0 + 3, 38, 6, 1), col("#6c6656"))
    # Three pears.
    acc = []
    for px, py, s in [(505, 560, 1.0), (740, 562, 0.9), (858, 556, 0.78)]:
        h = 150 * s

        def pear(t, h=h):
            return h * np.interp(t, [0, 0.04, 0.12, 0.3, 0.5, 0.68, 0.82, 0.92, 0.98, 1],
                                 [0.03, 0.1, 0.14, 0.19, 0.29, 0.34, 0.33, 0.27, 0.15, 0.02])

        m, lam, sp = lathe(px, py - h, py, pear)
        blush = np.clip((X - px) / 50, 0, 1)[..., None] * smoothstep(py - h * 0.6, py, Y)[..., None]
        base = col("#b4b25e") * (1 - blush * 0.5) + col("#b48a4a") * blush * 0.5
        comp(img, m, lit(base, lam, sp, ambient=0.3, shadow="#4a4a2c", spec_amt=0.35))
        top = (px, py - h + 2)
        acc.append(([top, (top[0] + 5 * s, top[1] - 14 * s), (top[0] + 9 * s, top[1] - 20 * s)], "#4a3420", 4 * s, 0.95))
    theta = np.where(Y < ty, np.pi / 2.6 + 0.8 * (wn - 0.5), 0.05 * np.sin(X / 80))
    theta = np.where(cm > 0.5, np.pi / 2 + 0.3 * np.sin(X / 40), theta)
    layers = [dict(l) for l in DEFAULT_LAYERS]
    for l in layers:
        l["jitter"] *= 0.5
    return dict(under=img, theta=theta, accents=acc, layers=layers, finish=dict(relief=0.1, streak=0.025))


def pine(m_draw, x, base, h, w):
    """A pine silhouette drawn as stacked triangles."""
    tiers = 6
    for k in range(tiers):
        t0 = k / tiers
        yb = base - h * t0 * 0.9
        half = w * (1 - t0) * 0.55 + 3
        m_draw.polygon([(x - half, yb), (x + half, yb), (x, yb - h * 0.32)], fill=255)
    m_draw.rectangle((x - 2, base - 6, x + 2, base + 4), fill=255)


@scene("moonlit-lake", 606)
def moonlit_lake(rng):
    hz = 440.0
    img = grad([(0, "#03071a"), (0.55, "#0e1a3c"), (0.85, "#22345e"), (1, "#34487a")], np.clip(Y / hz, 0, 1))
    mx, my = 640.0, 165.0
    d = np.hypot(X - mx, Y - my)
    comp(img, np.exp(-d / 150) * 0.55, col("#5a6c98"))
    comp(img, np.exp(-d / 60) * 0.5, col("#b8c0d8"))
    band = fbm(rng.integers(1 << 30), 60, aspect=5)
    clouds = smoothstep(0.6, 0.85, band) * smoothstep(330, 250, Y) * smoothstep(120, 200, Y)
    comp(img, clouds * 0.6, col("#4c5a80") + 0.3 * np.exp(-d / 150)[..., None])
    moon = np.clip(48 - d, 0, 1)
    mn = fbm(rng.integers(1 << 30), 14)
    comp(img, moon, col("#f6f2dc") * (0.9 + 0.12 * mn)[..., None])
    # Far hills and the pine woods of the shore.
    yh = hz - 28 - 30 * np.exp(-((X - 820) / 140) ** 2) - 12 * np.sin(X / 90)
    comp(img, np.clip(Y - yh, 0, 1) * (Y <= hz + 2), col("#0c1430"))
    tm = Image.new("L", (W, H), 0)
    td = ImageDraw.Draw(tm)
    x = -20.0
    while x < 420:
        h = 260 * math.exp(-x / 180) + rng.uniform(40, 90)
        pine(td, x, hz + 4, h, h * 0.42)
        x += rng.uniform(14, 32)
    x = 770.0
    while x < 900:
        h = rng.uniform(30, 60)
        pine(td, x, hz + 2, h, h * 0.45)
        x += rng.uniform(10, 20)
    trees = np.asarray(tm, dtype=np.float64) / 255.0
    comp(img, blur(trees, 0.8), col("#040814"))
    # The lake mirrors everything, darker, broken into ripples.
    ripple = fbm(rng.integers(1 << 30), 10, aspect=8)
    off = ((ripple - 0.5) * 14).astype(int)
    ym = np.clip((2 * hz - Y).astype(int), 0, H - 1)
    xm = np.clip(X.astype(int) + off, 0, W - 1)
    mirror = img[ym, xm] * 0.6
    mirror += col("#0a1430") * 0.35
    wat = Y > hz
    img[wat] = mirror[wat]
    # The moon's glittering path.
    wpath = np.maximum(8.0, 8 + (Y - hz) * 0.32)
    path = np.exp(-((X - mx) / wpath) ** 2) * wat * smoothstep(0.45, 0.75, ripple)
    comp(img, path * 0.85, col("#e0dcc0"))
    theta = np.where(wat, 0.0, 0.04 * np.sin(X / 100))
    acc = []
    for _ in range(160):
        x, y = rng.uniform(0, W), rng.uniform(0, 330)
        if math.hypot(x - mx, y - my) < 110 or (x < 420 and y > 140):
            continue
        sz = rng.uniform(1.5, 3.5)
        acc.append((dab_line(x, y, 0, 0.5), ["#ffffff", "#d8e0ff", "#fff4d0"][rng.integers(3)], sz, rng.uniform(0.6, 1)))
    for _ in range(260):
        y = hz + 4 + (H - hz) * rng.random() ** 1.3
        w = 8 + (y - hz) * 0.3
        x = mx + rng.normal(0, w * 0.6)
        acc.append((dab_line(x, y, 0, rng.uniform(6, 10 + (y - hz) * 0.12)), "#f0ecd4", rng.uniform(1.5, 3.5), 0.8))
    return dict(under=img, theta=theta, accents=acc)


@scene("harbour-at-dawn", 707)
def harbour_at_dawn(rng):
    hz = 430.0
    sky = grad([(0, "#4e5c92"), (0.4, "#a888aa"), (0.72, "#f2a088"), (0.9, "#ffce8a"), (1, "#ffe8b8")],
               np.clip(Y / hz, 0, 1))
    img = sky.copy()
    sx, sy = 320.0, 428.0
    d = np.hypot(X - sx, Y - sy)
    comp(img, np.exp(-d / 170) * 0.6, col("#ffe0a0"))
    comp(img, np.exp(-d / 55) * 0.85, col("#fff2c0"))
    comp(img, np.clip(36 - d, 0, 1), col("#fffcec"))
    band = fbm(rng.integers(1 << 30), 50, aspect=7)
    for yc, th in [(90, 26), (170, 18), (250, 14), (320, 10)]:
        cm = smoothstep(0.5, 0.8, band) * np.exp(-((Y - yc) / th) ** 2)
        cc = grad([(0, "#7a6090"), (1, "#ffb090")], np.clip((Y - yc + th) / (2 * th), 0, 1) * 0.6 + (1 - yc / hz) * 0.0 + 0.3)
        comp(img, cm * 0.8, cc)
    # Headland on the left, the town on the right in a violet haze.
    yl = hz - 30 * np.exp(-((X - 40) / 160) ** 2) - 8
    comp(img, np.clip(Y - yl, 0, 1) * (Y <= hz + 1), col("#8a6c8e"))
    town = [(560, hz + 2)]
    x = 560.0
    while x < 960:
        w = rng.uniform(18, 40)
        h = rng.uniform(14, 42) + (x - 560) * 0.05
        town += [(x, hz - h), (x + w * 0.5, hz - h - rng.uniform(0, 10)), (x + w, hz - h)]
        x += w
    town += [(960, hz + 2)]
    comp(img, poly(town, 1), col("#8a6a88"))
    comp(img, poly([(770, hz), (770, hz - 100), (780, hz - 138), (790, hz - 100), (790, hz)], 1), col("#7e6080"))
    # Water: the sky mirrored and broken into ripples, with the sun's path.
    ripple = fbm(rng.integers(1 << 30), 9, aspect=9)
    off = ((ripple - 0.5) * 10).astype(int)
    ym = np.clip((hz - (Y - hz) * 1.1).astype(int), 0, H - 1)
    xm = np.clip(X.astype(int) + off, 0, W - 1)
    wat = Y > hz
    mirror = img[ym, xm] * 0.82 + col("#40406a") * 0.12
    img[wat] = mirror[wat]
    glit = np.exp(-((X - sx) / np.maximum(18.0, 18 + (Y - hz) * 0.35)) ** 2) * wat * smoothstep(0.5, 0.8, ripple)
    comp(img, glit * 0.8, col("#fff0c0"))
    # Stone quay in front on the right.
    quay_top = [(960, 540), (600, 496), (600, 506), (960, 560)]
    comp(img, poly([(960, 540), (600, 496), (600, 530), (960, 640)], 1), col("#4a3446"))
    comp(img, poly(quay_top, 1), col("#c09088"))
    for k in range(5):
        bx = 640 + k * 75
        by = 497 + (bx - 600) * 44 / 360
        comp(img, poly([(bx - 5, by + 4), (bx - 5, by - 12), (bx + 5, by - 12), (bx + 5, by + 4)], 0.8), col("#3a2838"))
    comp(img, lines([(880, 528), (880, 380)], 4), col("#2e2030"))
    comp(img, ellipse(880, 376, 8, 10, 1), col("#ffe4a0"))
    # Boats with their wobbling reflections.
    acc = []
    for bx, by, L, hull, band_c, cab in [(230, 575, 240, "#b8382a", "#f0e6d6", "#efe2cc"),
                                          (500, 505, 140, "#28487a", "#e8dccc", "#d8ccb8"),
                                          (120, 470, 90, "#2c6a4e", "#e8dccc", "#d0c4b0")]:
        s = L / 240
        hullpts = [(bx - L / 2, by - 30 * s), (bx + L / 2 + 12 * s, by - 38 * s), (bx + L / 2 - 14 * s, by),
                   (bx - L / 2 + 18 * s, by)]
        # Reflection first (below the waterline, flipped, broken).
        rpts = [(x, 2 * by - y) for x, y in hullpts]
        rm = poly(rpts, 2) * (0.5 + 0.5 * smoothstep(0.3, 0.7, ripple))
        comp(img, rm * 0.7, col(hull) * 0.6)
        comp(img, poly(hullpts, 0.8), col(hull))
        comp(img, lines([(bx - L / 2 + 2, by - 26 * s), (bx + L / 2 + 8 * s, by - 33 * s)], max(2, 6 * s)), col(band_c))
        cabin = [(bx - 40 * s, by - 31 * s), (bx - 40 * s, by - 72 * s), (bx + 30 * s, by - 72 * s), (bx + 30 * s, by - 33 * s)]
        comp(img, poly(cabin, 0.8), col(cab))
        comp(img, poly([(bx - 30 * s, by - 62 * s), (bx - 30 * s, by - 50 * s), (bx + 20 * s, by - 50 * s), (bx + 20 * s, by - 62 * s)], 0.6), col("#4a4a6a"))
        mast_top = by - 200 * s
        comp(img, lines([(bx + 50 * s, by - 35 * s), (bx + 50 * s, mast_top)], max(2, 5 * s)), col("#3a2a30"))
        comp(img, lines([(bx + 50 * s, mast_top + 10 * s), (bx + L / 2 + 10 * s, by - 38 * s)], 1) * 0.6, col("#3a2a30"))
        comp(img, lines([(bx + 50 * s, mast_top + 10 * s), (bx - L / 2, by - 30 * s)], 1) * 0.6, col("#3a2a30"))
        for k in range(4):
            ry = by + 10 + k * 16 * s + rng.uniform(0, 6)
            acc.append((dab_line(bx + 50 * s + rng.normal(0, 3), ry, 0, rng.uniform(4, 9)), "#5a4050", 2, 0.35))
    theta = np.where(wat, 0.0, 0.12 * np.sin(X / 90 + Y / 45) + 0.06 * np.sin(X / 23))
    for _ in range(320):
        y = hz + 3 + (H - hz) * rng.random() ** 1.2
        x = sx + rng.normal(0, 16 + (y - hz) * 0.3)
        acc.append((dab_line(x, y, 0, rng.uniform(6, 18)), ["#fff4cc", "#ffd890", "#ffe6b0"][rng.integers(3)], rng.uniform(1.5, 3), 0.8))
    for _ in range(5):
        x, y = rng.uniform(420, 760), rng.uniform(120, 300)
        acc.append(([(x - 7, y), (x, y - 3), (x + 7, y)], "#4a3850", 2, 0.9))
    return dict(under=img, theta=theta, accents=acc)


@scene("autumn-forest-path", 808)
def autumn_forest_path(rng):
    vx, vy = 480.0, 400.0
    d = np.hypot(X - vx, (Y - vy + 70) * 1.2)
    img = grad([(0, "#fff0c0"), (0.3, "#f4c470"), (1, "#a8622a")], np.clip(d / 520, 0, 1))
    # Foliage: layered warped noise in reds, oranges and golds, opening in the middle.
    f1 = fbm(rng.integers(1 << 30), 70, octaves=6)
    f2 = fbm(rng.integers(1 << 30), 35)
    open_ = np.exp(-((X - vx) / 170) ** 2 - ((Y - 300) / 160) ** 2)
    dens = smoothstep(0.35, 0.6, f1 - open_ * 0.75 + 0.12 * (1 - Y / 400)) * smoothstep(560, 420, Y)
    fc = grad([(0, "#8a2814"), (0.3, "#c84418"), (0.55, "#e88424"), (0.8, "#f4b43a"), (1, "#ffd870")], f2)
    fc *= (0.6 + 0.5 * (1 - np.clip(d / 600, 0, 1)))[..., None]
    # Distant trunks in the haze, then near ones.
    for k in range(14):
        x = vx + rng.uniform(-260, 260)
        if abs(x - vx) < 40:
            continue
        w = rng.uniform(4, 9)
        base = vy + 12 + abs(x - vx) * 0.06
        comp(img, poly([(x - w, base), (x - w * 0.6, 0), (x + w * 0.6, 0), (x + w, base)], 1.2) * 0.55, col("#a07050"))
    comp(img, dens * 0.95, fc)
    # Ground and path.
    gn = fbm(rng.integers(1 << 30), 20, aspect=3)
    gc = grad([(0, "#b0662a"), (0.5, "#8a4418"), (1, "#5a2c12")], np.clip((Y - vy) / (H - vy), 0, 1))
    gc *= (0.8 + 0.4 * gn)[..., None]
    comp(img, np.clip(Y - vy - 10 - 8 * np.sin(X / 70), 0, 1), gc)
    path = poly([(470, vy + 8), (492, vy + 8), (760, H), (230, H)], 3)
    pcol = grad([(0, "#f4c888"), (0.4, "#d49a5a"), (1, "#a86a38")], np.clip((Y - vy) / (H - vy), 0, 1)) * (0.9 + 0.2 * gn)[..., None]
    comp(img, path, pcol)
    dapple = smoothstep(0.62, 0.8, fbm(rng.integers(1 << 30), 18, aspect=2.5)) * path
    comp(img, dapple * 0.45, col("#ffd890"))
    # Near trunks: dark bark, lit on the side facing the light.
    for x, w, lean in [(60, 62, 0.03), (215, 30, -0.02), (330, 16, 0.01), (620, 18, -0.01), (720, 34, 0.02), (880, 70, -0.03)]:
        base = vy + 20 + abs(x - vx) * 0.35
        top = -10
        pts = [(x - w / 2, base), (x - w / 2 * 0.8 + lean * (base - top), top), (x + w / 2 * 0.8 + lean * (base - top), top), (x + w / 2, base)]
        tm = poly(pts, 1)
        u = np.clip((X - (x + lean * (base - Y))) / (w / 2), -1, 1)
        side = np.clip(-u * np.sign(x - vx + 1e-3), 0, 1)
        far = np.clip(1 - (base - vy) / 320, 0, 1)
        bark = col("#2c1e18") * (1 - side[..., None] * 0.0) + col("#8a5a34") * (side ** 2)[..., None] * 0.8
        bark = bark * (0.8 + 0.3 * fbm(int(rng.integers(1 << 30)), 6, aspect=0.15))[..., None]
        bark = bark * (1 - far * 0.4) + col("#b07850") * far * 0.4
        comp(img, tm, bark)
    # A few branches of foliage in front of the trunks at the top.
    front = smoothstep(0.55, 0.7, f2) * smoothstep(200, 60, Y) * (1 - open_)
    comp(img, front * 0.9, fc * 1.05)
    theta = np.where(Y < vy, 2 * np.pi * fbm(rng.integers(1 << 30), 90), np.arctan2(Y - vy, X - vx))
    acc = []
    leaves = [col(c) for c in ("#e0501c", "#f08c20", "#f8c030", "#b8301a", "#ffdc6a", "#a84c1c")]
    for _ in range(1300):
        t = rng.random() ** 0.8
        y = vy + 15 + (H - vy - 10) * t
        x = rng.uniform(-10, W + 10)
        sz = 4 + 15 * t
        acc.append(("poly", leaf(x, y, rng.uniform(0, np.pi), sz, sz * rng.uniform(0.45, 0.6)),
                    leaves[rng.integers(len(leaves))] * rng.uniform(0.8, 1.05), 0.9))
    for _ in range(1400):
        x, y = rng.uniform(0, W), rng.uniform(0, 430)
        if dens[int(y), int(x)] < 0.5:
            continue
        sz = rng.uniform(7, 13)
        c = np.clip(fc[int(y), int(x)] * rng.uniform(0.8, 1.25), 0, 1)
        acc.append(("poly", leaf(x, y, rng.uniform(0, np.pi), sz, sz * 0.55), c, 0.8))
    for _ in range(70):
        x, y = rng.uniform(0, W), rng.uniform(60, 520)
        sz = rng.uniform(7, 11)
        acc.append(("poly", leaf(x, y, rng.uniform(0, np.pi), sz, sz * 0.5), leaves[rng.integers(len(leaves))], 0.95))
    return dict(under=img, theta=theta, accents=acc)


# ---------------------------------------------------------------------------------------------


def main(argv):
    names = argv[1:] or list(SCENES)
    for name in names:
        fn, seed = SCENES[name]
        out = render(fn, seed)
        path = os.path.join(HERE, name + ".jpg")
        out.save(path, "JPEG", quality=QUALITY, optimize=True, subsampling=2)
        print(f"{path}  {os.path.getsize(path) // 1024} KB")


if __name__ == "__main__":
    main(sys.argv)
