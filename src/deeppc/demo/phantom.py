"""Procedural radiographs of limbs, drawn in the physical domain and projected like an X-ray.

Each tissue is a solid built from a small vocabulary (tapered capsules, ellipsoids,
curved shells) whose projected thickness is analytic: the chord through a circular
cross-section, 2 r sqrt(1 - s^2) at normalised distance s from the axis. Bones add a
dense cortical rim around a lighter medullary cavity (an inner chord at radius k r),
soft tissue a fat layer around muscle. The line integral sum(mu * thickness)
attenuates an exposure I0 with an anode-heel gradient, then scatter, quantum noise and
detector blur are applied and -log(signal) is quantised to an unsigned `bits`-bit
detector value. High stored values therefore mean high attenuation: bone is bright in
MONOCHROME2 terms, direct exposure (air) is dark and the unexposed collimated border is
bright, as on a real processed CR/DX image.

`acquire` returns the raw detector values with a window that spans the anatomy (what a
DICOM writer needs); `draw` returns the windowed display image in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import numpy as np
from scipy import ndimage

VIEWS = ("LAT", "AP")

# Linear attenuation per cm at a low-kV extremity exposure; bone terms are the excess over
# the soft tissue they displace. Values are rounded textbook magnitudes, chosen so that a
# 2 cm bone inside 8 cm of soft tissue gives the contrast of a processed elbow film.
MU_FAT = 0.17
MU_MUSCLE = 0.22
MU_CORTEX = 0.85
MU_MARROW = 0.16
MU_LEAD = 6.0  # a marker letter stops nearly everything

# Detector log-signal range mapped onto [0, 2**bits - 1]: a bright air exposure sits just
# above the bottom, the unexposed field (collimator leakage ~0.4 %) saturates the top.
LOG_LOW = -0.8
LOG_HIGH = 5.4

LABEL_AIR, LABEL_SOFT, LABEL_BONE, LABEL_MARKER, LABEL_COLLIMATED = range(5)


def _v(x: float, y: float) -> np.ndarray:
    return np.array([x, y], dtype=np.float64)


def _rot(v: np.ndarray, degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _chord(s2: np.ndarray, depth: np.ndarray | float, k: np.ndarray | float) -> np.ndarray:
    """Projected thickness through a cross-section of half-depth k*depth at squared normalised
    distance s2 from its axis (in place on a fresh array: this runs on every pixel)."""
    out = np.subtract(k * k, s2, dtype=np.float32)
    np.maximum(out, 0.0, out=out)
    np.sqrt(out, out=out)
    out *= 2.0 * depth
    return out


@dataclass(frozen=True)
class _Pose:
    """Similarity from local anatomy (cm, y down) to pixel coordinates (x = column, y = row)."""

    matrix: np.ndarray  # 2x2: scale, rotation and an optional mirror
    offset: np.ndarray
    scale: float  # pixels per cm

    def point(self, p: np.ndarray) -> np.ndarray:
        return self.matrix @ p + self.offset

    def direction(self, v: np.ndarray) -> np.ndarray:
        return self.matrix @ v / self.scale

    @property
    def mirrored(self) -> bool:
        return bool(np.linalg.det(self.matrix) < 0)


@dataclass(frozen=True)
class Capsule:
    """Segment a-b swept by a radius tapering from r0 to r1 (a long bone, a limb, a stroke).

    The cross-section is an ellipse `flat` times as deep (along the beam) as it is wide.
    The marrow fraction k and the flatness taper to k1 and flat1 at b, so that a shaft
    can thin its cortex and flatten towards the metaphysis without a visible step."""

    a: np.ndarray
    b: np.ndarray
    r0: float
    r1: float
    k: float = 0.75
    flat: float = 1.0
    k1: float | None = None
    flat1: float | None = None

    def posed(self, pose: _Pose) -> Capsule:
        s = pose.scale
        return Capsule(pose.point(self.a), pose.point(self.b), self.r0 * s, self.r1 * s,
                       self.k, self.flat, self.k1, self.flat1)

    def bounds(self) -> tuple[float, float, float, float]:
        r = max(self.r0, self.r1)
        return (min(self.a[0], self.b[0]) - r, max(self.a[0], self.b[0]) + r,
                min(self.a[1], self.b[1]) - r, max(self.a[1], self.b[1]) + r)

    def field(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray | float, np.ndarray | float]:
        """(squared normalised distance from the axis, half-depth, marrow fraction) per pixel."""
        ax, ay = float(self.a[0]), float(self.a[1])
        dx, dy = float(self.b[0]) - ax, float(self.b[1]) - ay
        px, py = x - ax, y - ay
        inv = 1.0 / max(dx * dx + dy * dy, 1e-9)
        t = px * (dx * inv) + py * (dy * inv)
        np.clip(t, 0.0, 1.0, out=t)
        qx, qy = px - t * dx, py - t * dy
        qx *= qx
        qy *= qy
        qx += qy
        if self.r1 == self.r0:
            qx *= 1.0 / (self.r0 * self.r0)
            r: np.ndarray | float = float(self.r0)
        else:
            r = self.r0 + (self.r1 - self.r0) * t
            qx /= r * r
        k = self.k if self.k1 is None else self.k + (self.k1 - self.k) * t
        flat = self.flat if self.flat1 is None else self.flat + (self.flat1 - self.flat) * t
        return qx, r * flat, k


@dataclass(frozen=True)
class Ellipsoid:
    """Ellipsoid with in-plane half-axes ax (along unit u) and ay, half-thickness `depth`."""

    c: np.ndarray
    ax: float
    ay: float
    u: np.ndarray
    depth: float
    k: float = 0.85

    def posed(self, pose: _Pose) -> Ellipsoid:
        s = pose.scale
        return Ellipsoid(pose.point(self.c), self.ax * s, self.ay * s, pose.direction(self.u), self.depth * s, self.k)

    def bounds(self) -> tuple[float, float, float, float]:
        r = max(self.ax, self.ay)
        return self.c[0] - r, self.c[0] + r, self.c[1] - r, self.c[1] + r

    def field(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, float]:
        qx, qy = x - float(self.c[0]), y - float(self.c[1])
        ux, uy = float(self.u[0]), float(self.u[1])
        a = qx * (ux / self.ax) + qy * (uy / self.ax)
        b = qy * (ux / self.ay) - qx * (uy / self.ay)
        return a * a + b * b, float(self.depth), self.k


@dataclass(frozen=True)
class Shell:
    """Curved wall resting on a circle (centre c, radius `inner`), spanning +-`half` degrees
    around direction m, thickness radius r0 at the -half end to r1 at the +half end: the
    ulna's trochlear notch, ribs."""

    c: np.ndarray
    inner: float
    m: np.ndarray
    half: float
    r0: float
    r1: float
    k: float = 0.8

    def posed(self, pose: _Pose) -> Shell:
        s = pose.scale
        r0, r1 = (self.r1, self.r0) if pose.mirrored else (self.r0, self.r1)  # a mirror swaps the ends
        return Shell(pose.point(self.c), self.inner * s, pose.direction(self.m), self.half, r0 * s, r1 * s, self.k)

    def bounds(self) -> tuple[float, float, float, float]:
        r = self.inner + 2 * max(self.r0, self.r1)
        return self.c[0] - r, self.c[0] + r, self.c[1] - r, self.c[1] + r

    def field(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        qx, qy = x - float(self.c[0]), y - float(self.c[1])
        mx, my = float(self.m[0]), float(self.m[1])
        h = np.deg2rad(self.half)
        phi = np.arctan2(mx * qy - my * qx, mx * qx + my * qy)
        inside = np.abs(phi) <= h
        np.clip(phi, -h, h, out=phi)
        r = self.r0 + (self.r1 - self.r0) * (phi + h) / (2 * h)
        # direction of the nearest wall point: the pixel's own inside the span, an end outside it
        norm = np.hypot(qx, qy) + 1e-6
        ends = [(mx * np.cos(a) - my * np.sin(a), my * np.cos(a) + mx * np.sin(a)) for a in (-h, h)]
        ux = np.where(inside, qx / norm, np.where(phi < 0, ends[0][0], ends[1][0]))
        uy = np.where(inside, qy / norm, np.where(phi < 0, ends[0][1], ends[1][1]))
        rho = self.inner + r
        cx, cy = rho * ux, rho * uy
        return ((qx - cx) ** 2 + (qy - cy) ** 2) / (r * r), r, self.k


Shape = Union[Capsule, Ellipsoid, Shell]


@dataclass
class Scene:
    """One body part in local cm: soft tissue outline (a union), bones (union within a bone,
    attenuation summed across bones since they lie at different depths), and signed
    corrections (thin fossae, air-filled lungs) as (shape, mu) pairs."""

    soft: list[Shape]
    bones: list[list[Shape]]
    voids: list[tuple[Shape, float]]
    limb_angle: float  # angle between the two limb axes in degrees, 180 = straight
    fov: float  # typical field of view across the image's long side, cm
    kv: float = 1.0  # attenuation scale: thick parts are exposed at higher kV
    centre: tuple[float, float] = (0.0, 0.0)  # local point framed at the image centre


@dataclass(frozen=True)
class Radiograph:
    """Raw detector image plus what a writer needs to describe it.

    raw: uint16 log-exposure values below 2**bits, high = more attenuation (bone bright
    when shown as MONOCHROME2). window: (centre, width) in raw units from air to the
    densest bone. labels: per-pixel tissue class (LABEL_* constants). pose: the drawn
    geometry (body_part, view, limb_angle, rotation, zoom, mirrored, side, joint_xy,
    pixel_mm, exposure)."""

    raw: np.ndarray
    bits: int
    window: tuple[float, float]
    labels: np.ndarray
    pose: dict


def _sizes(rng: np.random.Generator) -> tuple[float, float]:
    """Bone and soft-tissue scale of one patient."""
    return float(np.clip(rng.normal(1.0, 0.06), 0.85, 1.15)), float(rng.uniform(0.85, 1.2))


def _limb(a: np.ndarray, b: np.ndarray, r0: float, r1: float) -> Capsule:
    # muscle core inside a fat layer: the inner chord of a soft capsule is the muscle
    return Capsule(a, b, r0, r1, k=0.8)


def _elbow_lateral(rng: np.random.Generator) -> Scene:
    g, f = _sizes(rng)
    flex = float(rng.uniform(75.0, 105.0))
    up, front = _v(0, -1), _v(1, 0)
    fore = _rot(up, flex)  # forearm axis; it flexes towards the humerus' front
    ant, post = _rot(fore, -90), _rot(fore, 90)
    o = _v(0, 0)  # centre of the superimposed capitellum and trochlea
    rc, gap = 1.15 * g, float(rng.uniform(0.15, 0.3)) * g
    notch = rc + gap
    humerus = [Capsule(up * 30 - front * 0.3 * g, up * 5 * g - front * 0.3 * g, 1.0 * g, 1.05 * g, k=0.66),
               Capsule(up * 5 * g - front * 0.3 * g, up * 1.0 * g, 1.05 * g, 1.2 * g, k=0.66, k1=0.9, flat1=1.5),
               Ellipsoid(o, rc * 1.04, rc, front, 1.7 * g, k=0.9)]
    ring = [Ellipsoid(front * 0.12 * g + up * 0.05 * g, rc * 0.8, rc * 0.8, front, 0.35 * g, k=0.8)]
    shaft = fore * (notch + 2.2 * g) + post * 1.5 * g  # the ulna shaft runs behind the notch
    ulna = [Shell(o, notch, _rot(fore, 104), 80, 0.42 * g, 1.0 * g, k=0.85),
            Capsule(_rot(fore, 75) * (notch + 0.8 * g), shaft, 0.75 * g, 0.8 * g, k=0.8, k1=0.68),
            Capsule(shaft, fore * 25 + post * 0.45 * g, 0.8 * g, 0.42 * g, k=0.68, k1=0.6)]
    head = fore * (notch + 0.4 * g)
    neck, bend = head + fore * 2.2 * g, head + fore * 10 * g + ant * 0.3 * g
    radius = [Capsule(head - ant * 0.65 * g, head + ant * 0.65 * g, 0.4 * g, 0.4 * g, k=0.88, flat=1.8),
              Capsule(head, neck, 0.4 * g, 0.45 * g, k=0.75, k1=0.62),
              Capsule(neck, bend, 0.45 * g, 0.55 * g, k=0.62, k1=0.58),
              Capsule(bend, head + fore * 23 * g + post * 0.2 * g, 0.55 * g, 0.85 * g, k=0.58, k1=0.8)]
    soft = [_limb(o, up * 30, 4.1 * f, 4.6 * f), _limb(o, fore * 28, 3.9 * f, 3.1 * f)]
    fossa = (Ellipsoid(up * 2.0 * g - front * 0.15 * g, 0.6 * g, 1.0 * g, front, 0.8 * g), -0.2)
    return Scene(soft, [humerus, ring, ulna, radius], [fossa], flex, 19.0)


def _elbow_frontal(rng: np.random.Generator) -> Scene:
    g, f = _sizes(rng)
    carry = float(rng.uniform(5.0, 15.0))
    up, lat = _v(0, -1), _v(1, 0)
    fore = _rot(_v(0, 1), -carry)  # valgus: the forearm deviates to the lateral side
    flat = _rot(fore, -90)
    joint = 0.8 * g + float(rng.uniform(0.15, 0.3)) * g  # joint centre down to the forearm bones
    humerus = [Capsule(up * 30, up * 7 * g, 1.0 * g, 1.05 * g, k=0.66),
               Capsule(up * 7 * g, up * 3.6 * g, 1.05 * g, 1.45 * g, k=0.66, k1=0.8, flat1=0.7),
               Capsule(up * 3.6 * g, up * 1.8 * g + lat * 0.1 * g, 1.45 * g, 2.3 * g, k=0.8, k1=0.88, flat=0.7, flat1=0.45),
               Ellipsoid(-lat * 0.75 * g + up * 0.1 * g, 1.2 * g, 0.9 * g, lat, 1.2 * g, k=0.9),
               Ellipsoid(lat * 1.25 * g + up * 0.15 * g, 0.95 * g, 0.85 * g, lat, 1.0 * g, k=0.9),
               Ellipsoid(-lat * 2.45 * g + up * 1.0 * g, 0.6 * g, 0.55 * g, lat, 0.6 * g, k=0.8)]
    head = lat * 1.25 * g + fore * (joint + 0.4 * g)
    neck, bend = head + fore * 2.2 * g, head + fore * 10 * g + flat * 0.35 * g
    radius = [Capsule(head - flat * 0.7 * g, head + flat * 0.7 * g, 0.45 * g, 0.45 * g, k=0.88, flat=1.8),
              Capsule(head, neck, 0.45 * g, 0.5 * g, k=0.75, k1=0.62),
              Capsule(neck, bend, 0.5 * g, 0.6 * g, k=0.62, k1=0.58),
              Capsule(bend, head + fore * 24 * g, 0.6 * g, 0.95 * g, k=0.58, k1=0.8)]
    top = -lat * 0.7 * g + fore * (joint + 0.8 * g)
    body = top + fore * 5 * g + flat * 0.2 * g
    ulna = [Ellipsoid(-lat * 0.6 * g + up * 0.5 * g, 0.9 * g, 1.1 * g, lat, 0.45 * g, k=0.95),
            Ellipsoid(top, 1.1 * g, 0.8 * g, flat, 1.0 * g, k=0.85),
            Capsule(top, body, 0.85 * g, 0.65 * g, k=0.8, k1=0.66),
            Capsule(body, top + fore * 24 * g + flat * 0.3 * g, 0.65 * g, 0.42 * g, k=0.66, k1=0.6)]
    soft = [_limb(_v(0, 0), up * 30, 4.3 * f, 4.8 * f), _limb(_v(0, 0), fore * 28, 4.0 * f, 3.0 * f)]
    fossa = (Ellipsoid(up * 1.7 * g - lat * 0.2 * g, 0.9 * g, 0.8 * g, lat, 0.6 * g), -0.3)
    return Scene(soft, [humerus, radius, ulna], [fossa], 180.0 - carry, 19.0)


def _elbow(view: str, rng: np.random.Generator) -> Scene:
    return _elbow_lateral(rng) if view == "LAT" else _elbow_frontal(rng)


def _forearm(view: str, rng: np.random.Generator) -> Scene:
    g, f = _sizes(rng)
    sp = 1.0 if view == "AP" else 0.3  # a lateral projection stacks the radius over the ulna
    lat = _v(1, 0)
    radius = [Capsule(_v(1.3 * sp - 0.8, -12.3) * g, _v(1.3 * sp + 0.8, -12.3) * g, 0.3 * g, 0.3 * g),
              Capsule(_v(1.3 * sp, -12.0) * g, _v(1.9 * sp, -2.0) * g, 0.45 * g, 0.62 * g, k=0.6),
              Capsule(_v(1.9 * sp, -2.0) * g, _v(1.4 * sp, 11.0) * g, 0.62 * g, 1.05 * g, k=0.6)]
    ulna = [Ellipsoid(_v(-0.9 * sp, -13.6) * g, 0.9 * g, 1.1 * g, lat, 0.9 * g),
            Capsule(_v(-0.9 * sp, -12.8) * g, _v(-1.1 * sp, 0.0) * g, 0.85 * g, 0.6 * g, k=0.65),
            Capsule(_v(-1.1 * sp, 0.0) * g, _v(-1.2 * sp, 11.2) * g, 0.6 * g, 0.45 * g, k=0.6)]
    humerus = [Ellipsoid(_v(0.2, -15.0) * g, 2.5 * g * max(sp, 0.45), 0.9 * g, lat, 1.3 * g)]
    carpals = [[Ellipsoid(_v((x - 1.5) * sp * 0.9, 12.7 + 0.9 * (x % 2)) * g, 0.55 * g, 0.45 * g, lat, 0.6 * g)]
               for x in range(4)]
    soft = [_limb(_v(0, -17), _v(0, 14), 4.0 * f * max(sp, 0.8), 2.8 * f * max(sp, 0.8))]
    return Scene(soft, [radius, ulna, humerus, *carpals], [], 180.0, 34.0)


def _humerus(view: str, rng: np.random.Generator) -> Scene:
    g, f = _sizes(rng)
    w = 1.0 if view == "AP" else 0.55  # condyles seen end-on in a lateral projection
    lat = _v(1, 0)
    humerus = [Ellipsoid(_v(0.7, -15.0) * g, 2.4 * g, 2.4 * g, lat, 2.2 * g, k=0.9),
               Ellipsoid(_v(2.3 * w, -14.6) * g, 1.0 * g, 1.3 * g, lat, 1.2 * g),
               Capsule(_v(0.4, -13.5) * g, _v(0.0, 8.0) * g, 1.25 * g, 1.05 * g, k=0.6),
               Capsule(_v(0.0, 8.0) * g, _v(0.0, 12.0) * g, 1.05 * g, 2.0 * g * w, k=0.8),
               Ellipsoid(_v(0.0, 13.2) * g, 2.6 * g * w, 0.9 * g, lat, 1.3 * g)]
    glenoid = [Ellipsoid(_v(-2.3, -15.3) * g, 0.6 * g, 1.9 * g, lat, 1.2 * g),
               Capsule(_v(-3.0, -14.0) * g, _v(-7.0, -4.0) * g, 0.9 * g, 0.5 * g, k=0.5)]
    soft = [_limb(_v(0, -16), _v(0, 16), 5.2 * f, 4.2 * f), Ellipsoid(_v(-1.0, -16.0), 7.0 * f, 4.0 * f, lat, 5.0 * f)]
    return Scene(soft, [humerus, glenoid], [], 180.0, 40.0)


def _hand(view: str, rng: np.random.Generator) -> Scene:
    g, f = _sizes(rng)
    sp = 1.0 if view == "AP" else 0.25  # lateral: the rays overlap
    lat = _v(1, 0)
    bones: list[list[Shape]] = []
    soft: list[Shape] = [Ellipsoid(_v(0, -1.0), 4.4 * f * max(sp, 0.5), 4.2 * f, lat, 1.6 * f, k=0.6),
                         _limb(_v(0, 4.0), _v(0, 14.0), 3.0 * f * max(sp, 0.6), 2.8 * f * max(sp, 0.6))]
    rays = [(-2.6, -8.0, (6.4, 4.0, 2.4, 1.8)), (-0.9, -2.5, (6.6, 4.4, 2.8, 1.9)),
            (0.8, 3.0, (6.2, 4.1, 2.6, 1.8)), (2.4, 9.0, (5.6, 3.3, 2.0, 1.7)),
            (-3.4, -40.0, (4.4, 3.0, 2.4))]
    for x, angle, lengths in rays:
        start = _v(x * sp, 2.2 if len(lengths) == 4 else 3.0) * g
        direction = _rot(_v(0, -1), angle * sp)
        end = _ray(start, direction, lengths, g, bones)
        soft.append(_limb(start + direction * 4.0 * g, end, 1.0 * f, 0.8 * f))
    for i in range(8):  # two rows of carpal bones
        cx, cy = (i % 4 - 1.5) * 1.2 * sp, 3.0 + 1.3 * (i // 4)
        bones.append([Ellipsoid(_v(cx, cy) * g, 0.6 * g, 0.55 * g, lat, 0.6 * g)])
    bones.append([Capsule(_v(1.2 * sp, 5.6) * g, _v(1.3 * sp, 14.0) * g, 1.4 * g, 0.9 * g, k=0.65)])
    bones.append([Capsule(_v(-1.7 * sp, 5.8) * g, _v(-1.6 * sp, 14.0) * g, 0.7 * g, 0.6 * g, k=0.65)])
    return Scene(soft, bones, [], 180.0, 24.0)


def _ray(start: np.ndarray, direction: np.ndarray, lengths: tuple[float, ...], g: float,
         bones: list[list[Shape]]) -> np.ndarray:
    """Metacarpal and phalanges of one finger, each its own bone with a joint gap; returns the tip."""
    p, r = start, 0.45 * g
    for length in lengths:
        q = p + direction * length * g
        bones.append([Capsule(p, q, r, r * 0.8, k=0.65)])
        p, r = q + direction * 0.3 * g, r * 0.82
    return p


def _knee(view: str, rng: np.random.Generator) -> Scene:
    g, f = _sizes(rng)
    flex = 180.0 if view == "AP" else float(rng.uniform(155.0, 170.0))
    up, lat = _v(0, -1), _v(1, 0)
    shin = _rot(_v(0, 1), 180.0 - flex)
    w = 1.0 if view == "AP" else 0.7  # condyles overlap in a lateral projection
    femur = [Capsule(up * 30, up * 6 * g, 1.5 * g, 1.6 * g, k=0.6), Capsule(up * 6 * g, up * 2.5 * g, 1.6 * g, 3.0 * g * w, k=0.85),
             Ellipsoid(_v(-2.0 * w, -1.3) * g, 2.0 * g, 1.6 * g, lat, 2.4 * g, k=0.9),
             Ellipsoid(_v(2.0 * w, -1.3) * g, 2.0 * g, 1.6 * g, lat, 2.4 * g, k=0.9)]
    plateau = shin * 1.0 * g + shin * float(rng.uniform(0.3, 0.5)) * g
    tibia = [Ellipsoid(plateau + shin * 0.9 * g, 3.6 * g * w, 1.0 * g, _rot(shin, -90), 2.4 * g, k=0.9),
             Capsule(plateau + shin * 1.5 * g, plateau + shin * 8 * g, 3.0 * g * w, 1.5 * g, k=0.8),
             Capsule(plateau + shin * 8 * g, shin * 30, 1.5 * g, 1.2 * g, k=0.6)]
    side = _rot(shin, -90) * 3.6 * g * (1.0 if view == "AP" else -0.3)
    fibula = [Ellipsoid(plateau + shin * 2.2 * g + side, 0.9 * g, 1.0 * g, lat, 0.9 * g),
              Capsule(plateau + shin * 2.5 * g + side, shin * 30 + side * 0.9, 0.55 * g, 0.45 * g, k=0.6)]
    patella_at = _v(0.3, -2.3) * g if view == "AP" else _v(3.9, -2.0) * g
    patella = [Ellipsoid(patella_at, 2.1 * g * (1 if view == "AP" else 0.6), 2.4 * g, lat, 1.0 * g)]
    soft = [_limb(_v(0, 0), up * 30, 6.2 * f, 7.0 * f), _limb(_v(0, 0), shin * 30, 6.0 * f, 4.6 * f)]
    return Scene(soft, [femur, tibia, fibula, patella], [], flex, 28.0, kv=0.75)


def _shoulder(view: str, rng: np.random.Generator) -> Scene:
    g, f = _sizes(rng)
    lat = _v(1, 0)
    tilt = -25.0 if view == "AP" else 15.0  # a Y-view turns the scapula edge-on
    humerus = [Ellipsoid(_v(1.4, 0.0) * g, 2.6 * g, 2.6 * g, lat, 2.5 * g, k=0.9),
               Capsule(_v(2.0, 1.8) * g, _v(2.8, 25.0), 1.3 * g, 1.1 * g, k=0.6)]
    scapula = [Ellipsoid(_v(-1.6, 0.2) * g, 0.7 * g, 2.0 * g, lat, 1.4 * g),
               Ellipsoid(_v(-5.5, 6.0) * g, 4.5 * g * (1.0 if view == "AP" else 0.35), 8.0 * g,
                         _rot(lat, tilt), 0.5 * g, k=0.6),
               Capsule(_v(-2.5, -3.9) * g, _v(2.4, -3.3) * g, 0.7 * g, 0.6 * g, k=0.7)]
    clavicle = [Capsule(_v(1.5, -4.3) * g, _v(-7.0, -5.6) * g, 0.7 * g, 0.8 * g, k=0.7),
                Capsule(_v(-7.0, -5.6) * g, _v(-16.0, -3.8) * g, 0.8 * g, 0.9 * g, k=0.7)]
    ribs = [[Shell(_v(-11.0, -6.0 + 2.7 * i) * g, 8.0 * g, _rot(lat, 75), 40.0, 0.45 * g, 0.5 * g, k=0.6)]
            for i in range(6)]
    soft = [Ellipsoid(_v(-14.0, 9.0), 14.0 * f, 17.0 * f, lat, 7.0 * f, k=0.7),
            _limb(_v(-2.0, -2.0), _v(3.0, 26.0), 5.0 * f, 4.6 * f)]
    lung = (Ellipsoid(_v(-14.0, 11.0) * g, 8.0 * g, 11.0 * g, lat, 5.0 * g), -0.16)
    return Scene(soft, [humerus, scapula, clavicle, *ribs], [lung], 180.0, 32.0, kv=0.6, centre=(-3.0, 3.0))


BUILDERS: dict[str, Callable[[str, np.random.Generator], Scene]] = {
    "elbow": _elbow, "forearm": _forearm, "humerus": _humerus,
    "hand": _hand, "knee": _knee, "shoulder": _shoulder,
}
BODY_PARTS = tuple(BUILDERS)
_LONG_PARTS = ("forearm", "humerus", "knee")  # laid along the long side of the cassette


def _bounds_in(shape: tuple[int, int], b: tuple[float, float, float, float]) -> tuple[int, int, int, int] | None:
    x0, x1 = max(int(np.floor(b[0])), 0), min(int(np.ceil(b[1])) + 1, shape[1])
    y0, y1 = max(int(np.floor(b[2])), 0), min(int(np.ceil(b[3])) + 1, shape[0])
    return (y0, y1, x0, x1) if x1 > x0 and y1 > y0 else None


def _union(shapes: list[Shape], shape: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
    """Outer and inner chords of a union of posed shapes, evaluated on their bounding box only."""
    boxes = [(s, _bounds_in(shape, s.bounds())) for s in shapes]
    boxes = [(s, b) for s, b in boxes if b is not None]
    if not boxes:
        return None
    y0, x0 = min(b[0] for _, b in boxes), min(b[2] for _, b in boxes)
    y1, x1 = max(b[1] for _, b in boxes), max(b[3] for _, b in boxes)
    outer = np.zeros((y1 - y0, x1 - x0), np.float32)
    inner = np.zeros_like(outer)
    for s, (by0, by1, bx0, bx1) in boxes:
        x = np.arange(bx0, bx1, dtype=np.float32)[None, :]
        y = np.arange(by0, by1, dtype=np.float32)[:, None]
        s2, depth, k = s.field(x, y)
        window = (slice(by0 - y0, by1 - y0), slice(bx0 - x0, bx1 - x0))
        np.maximum(outer[window], _chord(s2, depth, 1.0), out=outer[window])
        np.maximum(inner[window], _chord(s2, depth, k), out=inner[window])
    return (slice(y0, y1), slice(x0, x1)), outer, inner


def _project(scene: Scene, pose: _Pose, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Line integral of attenuation (chords are in pixels; divided by px/cm) and tissue labels."""
    line = np.zeros(shape, np.float32)
    labels = np.zeros(shape, np.uint8)
    mu = scene.kv / pose.scale
    soft = _union([s.posed(pose) for s in scene.soft], shape)
    if soft is not None:
        box, outer, inner = soft
        line[box] += mu * (MU_FAT * outer + (MU_MUSCLE - MU_FAT) * inner)
        labels[box][outer > 0] = LABEL_SOFT
    for bone in scene.bones:
        done = _union([s.posed(pose) for s in bone], shape)
        if done is not None:
            box, outer, inner = done
            line[box] += mu * (MU_CORTEX * (outer - inner) + MU_MARROW * inner)
            labels[box][outer > 0] = LABEL_BONE
    for void, change in scene.voids:
        done = _union([void.posed(pose)], shape)
        if done is not None:
            box, outer, _ = done
            line[box] += (scene.kv * change / pose.scale) * outer
    np.maximum(line, 0.0, out=line)
    return line, labels


_LETTERS = {
    "L": [((0.0, 0.0), (0.0, 1.0)), ((0.0, 1.0), (0.6, 1.0))],
    "R": [((0.0, 0.0), (0.0, 1.0)), ((0.0, 0.0), (0.3, 0.0)), ((0.0, 0.52), (0.3, 0.52)),
          ((0.28, 0.52), (0.62, 1.0))],
}


def _marker(letter: str, corner: tuple[float, float], height: float) -> list[Shape]:
    """Stroke shapes of a lead letter (top-left at `corner`, in pixels)."""
    stroke = max(0.11 * height, 0.8)
    at = np.asarray(corner, dtype=np.float64)
    shapes: list[Shape] = [Capsule(at + _v(*a) * height, at + _v(*b) * height, stroke, stroke)
                           for a, b in _LETTERS[letter]]
    if letter == "R":  # the bowl
        shapes.append(Shell(at + _v(0.3, 0.26) * height, 0.26 * height - stroke, _v(1, 0), 90.0, stroke, stroke))
    return shapes


def _place_marker(letter: str, labels: np.ndarray, field: tuple[int, int, int, int],
                  rng: np.random.Generator, scale: float) -> list[Shape]:
    """Put the letter in the emptiest corner of the exposed field, as radiographers do."""
    y0, y1, x0, x1 = field
    height = max(1.2 * scale, 4.0)
    inset = 0.05 * min(y1 - y0, x1 - x0) + 2.0
    spots = [(x0 + inset, y0 + inset), (x1 - inset - 0.7 * height, y0 + inset),
             (x0 + inset, y1 - inset - height), (x1 - inset - 0.7 * height, y1 - inset - height)]
    busy = []
    for x, y in spots:
        patch = labels[max(int(y), 0):int(y + height) + 1, max(int(x), 0):int(x + height) + 1]
        busy.append(float(np.count_nonzero(patch)) / max(patch.size, 1))
    free = [i for i, b in enumerate(busy) if b == 0.0] or [int(np.argmin(busy))]
    x, y = spots[int(rng.choice(free))]
    return _marker(letter, (x, y), height)


def _collimation(shape: tuple[int, int], amount: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """Exposed rectangle (y0, y1, x0, x1): each blade closes a random share around `amount`."""
    h, w = shape
    m = amount * rng.uniform(0.6, 1.4, size=4)
    return int(m[0] * h), int(h - m[1] * h), int(m[2] * w), int(w - m[3] * w)


def _expose(line: np.ndarray, field: tuple[int, int, int, int], rng: np.random.Generator,
            exposure: float, blur: float) -> np.ndarray:
    """Detected log signal -ln(I/I0_ref) after heel effect, scatter, collimation, noise and blur."""
    h, w = line.shape
    vertical = bool(rng.random() < 0.5)  # the anode-cathode axis lies along either side
    heel = 1.0 + float(rng.uniform(-0.08, 0.08)) * np.linspace(-1.0, 1.0, h if vertical else w, dtype=np.float32)
    heel = heel[:, None] if vertical else heel[None, :]
    signal = np.negative(line)
    np.exp(signal, out=signal)
    signal *= np.float32(exposure) * heel
    signal += np.float32(0.012 * exposure)  # scatter: a flat veil under the whole field
    y0, y1, x0, x1 = field
    for blade in (np.s_[:y0, :], np.s_[y1:, :], np.s_[:, :x0], np.s_[:, x1:]):
        signal[blade] = np.float32(0.004 * exposure) * np.exp(-line[blade])  # collimator leakage
    noise = rng.standard_normal(signal.shape, dtype=np.float32)
    noise *= np.sqrt(signal * np.float32(1.0 / 20000.0))  # quantum noise, ~20000 quanta at I0
    signal += noise
    signal = ndimage.gaussian_filter(signal, blur, truncate=3.0)
    np.maximum(signal, 1e-6, out=signal)
    np.log(signal, out=signal)
    return np.negative(signal, out=signal)


def _quantise(log_signal: np.ndarray, bits: int) -> np.ndarray:
    top = 2**bits - 1
    scaled = log_signal - np.float32(LOG_LOW)
    scaled *= np.float32(top / (LOG_HIGH - LOG_LOW))
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, top, out=scaled)
    return scaled.astype(np.uint16)


def _to_raw(value: float, bits: int) -> float:
    return (value - LOG_LOW) * ((2**bits - 1) / (LOG_HIGH - LOG_LOW))


def _make_pose(scene: Scene, body_part: str, shape: tuple[int, int], rng: np.random.Generator,
               zoom: float | None, joint_at: tuple[float, float] | None) -> tuple[_Pose, dict]:
    h, w = shape
    zoom = float(rng.uniform(0.88, 1.12)) if zoom is None else float(zoom)
    scale = max(h, w) / (scene.fov * float(rng.uniform(0.92, 1.08))) * zoom
    rotation = float(rng.uniform(-12.0, 12.0))
    if body_part in _LONG_PARTS and w > h:
        rotation += 90.0
    mirrored = bool(rng.random() < 0.5)
    if joint_at is None:
        joint_at = (0.5 + float(rng.uniform(-0.08, 0.08)), 0.5 + float(rng.uniform(-0.08, 0.08)))
    joint = _v(joint_at[1] * (w - 1), joint_at[0] * (h - 1))
    a = np.deg2rad(rotation)
    matrix = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    if mirrored:
        matrix = matrix @ np.diag([-1.0, 1.0])
    info = {"rotation": rotation, "zoom": zoom, "mirrored": mirrored, "side": "L" if mirrored else "R",
            "joint_xy": (float(joint[0]), float(joint[1])), "pixel_mm": 10.0 / scale}
    return _Pose(matrix, joint - matrix @ _v(*scene.centre), scale), info


def acquire(body_part: str, view: str, rng: np.random.Generator, shape: tuple[int, int], *,
            bits: int = 12, marker: bool = True, collimation: float = 0.0,
            zoom: float | None = None, joint_at: tuple[float, float] | None = None) -> Radiograph:
    """Draw one radiograph of `body_part` in `view` ("LAT" or "AP") as raw detector values.

    collimation: mean share of each side left unexposed (0 = open field). zoom: anatomy
    scale (1 = typical framing; None draws 0.88-1.12). joint_at: (row, column) of the
    part's centre (elbow: the joint) as fractions of the image; None places it near the
    centre. Everything random comes from `rng`, so a seeded generator gives the same image.
    """
    if body_part not in BUILDERS:
        raise ValueError(f"unknown body part {body_part!r}; expected one of {', '.join(BODY_PARTS)}")
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    if not 2 <= bits <= 16:
        raise ValueError(f"bits must be in 2..16, got {bits}")
    shape = (int(shape[0]), int(shape[1]))
    scene = BUILDERS[body_part](view, rng)
    pose, info = _make_pose(scene, body_part, shape, rng, zoom, joint_at)
    line, labels = _project(scene, pose, shape)
    field = _collimation(shape, collimation, rng) if collimation > 0 else (0, shape[0], 0, shape[1])
    exposure = float(np.exp(rng.uniform(-0.35, 0.35)))
    window = _window(line, labels, exposure, bits)  # before the marker: it spans the anatomy only
    if marker:
        _add_marker(line, labels, _place_marker(info["side"], labels, field, rng, pose.scale))
    log_signal = _expose(line, field, rng, exposure, blur=float(rng.uniform(0.5, 0.9)))
    y0, y1, x0, x1 = field
    outside = np.ones(shape, bool)
    outside[y0:y1, x0:x1] = False
    labels[outside] = LABEL_COLLIMATED
    info.update(body_part=body_part, view=view, limb_angle=scene.limb_angle, exposure=exposure,
                field=field, collimated=collimation > 0)
    return Radiograph(_quantise(log_signal, bits), bits, window, labels, info)


def _window(line: np.ndarray, labels: np.ndarray, exposure: float, bits: int) -> tuple[float, float]:
    """(centre, width) in raw units from just above air to the densest anatomy; the floor sits
    a little into the soft tissue, as processed films show it."""
    soft = line[labels == LABEL_SOFT]
    floor = 0.25 * float(soft.mean()) if soft.size else 0.0
    air = -np.log(exposure * 1.012)  # the scatter veil lifts the air signal by 1.2 %
    top = 2**bits - 1
    low = min(max(_to_raw(air + 0.06 + floor, bits), 0.0), top - 2.0)
    high = min(max(_to_raw(air + float(line.max()) * 1.02 + 0.05, bits), low + 2.0), float(top))
    return (low + high) / 2, high - low


def _add_marker(line: np.ndarray, labels: np.ndarray, strokes: list[Shape]) -> None:
    letter = _union(strokes, line.shape)
    if letter is not None:
        box, outer, _ = letter
        line[box] += MU_LEAD * np.minimum(outer, 1.0)  # a flat lead plate, antialiased at its edge
        labels[box][outer > 0.5] = LABEL_MARKER


def to_display(raw: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Linear window (centre, width) onto [0, 1], float32, bone bright."""
    centre, width = window
    out = (raw.astype(np.float32) - np.float32(centre - width / 2)) / np.float32(max(width, 1e-6))
    return np.clip(out, 0.0, 1.0)


def draw(body_part: str, view: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A display-domain radiograph in [0, 1] (float32, bone bright, air dark)."""
    image = acquire(body_part, view, rng, shape)
    return to_display(image.raw, image.window)
