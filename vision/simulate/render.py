"""Draw a `Scene`: colour image, depth map and the exact mask of every defect pixel.

Plain numpy on a pixel grid. Shapes are analytic (cylinder, ellipses, polylines) with
one-pixel soft edges; the can is shaded with a Lambertian term and a specular stripe that
follow the light, so lighting changes move highlights as they would on real aluminium.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import gaussian_filter

from vision.simulate.scene import Label, Scene

ELLIPSE = 0.35  # vertical/horizontal axis ratio of circles on the table seen at 45°
LABEL_T = (0.18, 0.82)
METAL = np.array([0.74, 0.75, 0.78], np.float32)
TABLE = np.array([0.42, 0.45, 0.48], np.float32)
GRIPPER = np.array([0.22, 0.23, 0.25], np.float32)
TARGET = np.array([0.90, 0.75, 0.10], np.float32)
CAN_HEIGHT_M, CAN_RADIUS_M = 0.12, 0.033


@dataclass
class Frame:
    rgb: np.ndarray  # (S, S, 3) uint8
    depth_mm: np.ndarray  # (S, S) uint16, distance from the camera
    mask: np.ndarray  # (S, S) bool, the pixels a defect changed


def table_texture(size: int, seed: int) -> np.ndarray:
    """The table's surface: fixed for a cell, so it is the same in every frame of a dataset."""
    rng = np.random.default_rng(seed)
    coarse = gaussian_filter(rng.normal(size=(size, size)), size / 20)
    fine = gaussian_filter(rng.normal(size=(size, size)), 1.0)
    tex = 0.04 * coarse / (coarse.std() + 1e-9) + 0.015 * fine / (fine.std() + 1e-9)
    return tex.astype(np.float32)


def _soft(distance: np.ndarray) -> np.ndarray:
    """Coverage of a pixel by a shape, from the signed distance (px) to its edge (negative inside)."""
    return np.clip(0.5 - distance, 0.0, 1.0).astype(np.float32)


def _ellipse(xx, yy, cx, cy, rx, ry) -> np.ndarray:
    q = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    return _soft((q - 1.0) * min(rx, ry))


def _segments_distance(xx, yy, pts: np.ndarray) -> np.ndarray:
    best = np.full(xx.shape, np.inf, np.float32)
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
        best = np.minimum(best, np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy)))
    return best


class _Can:
    """Geometry of the can in the image: silhouette, body coordinates (phi, t), lid."""

    def __init__(self, xx, yy, scene: Scene) -> None:
        s = scene.size
        self.cx, self.yb, self.r, self.h = scene.cx * s, scene.base_y * s, scene.radius * s, scene.height * s
        self.yt = self.yb - self.h
        u = np.clip((xx - self.cx) / self.r, -1, 1)
        self.phi = np.arcsin(u)
        front = ELLIPSE * self.r * np.sqrt(1 - u**2)  # how far the front of the surface hangs below the axis
        self.t = (self.yb + front - yy) / self.h
        body = _soft(np.maximum(np.abs(xx - self.cx) - self.r, yy - (self.yb + front))) * (yy >= self.yt)
        self.lid = _ellipse(xx, yy, self.cx, self.yt, self.r, ELLIPSE * self.r)
        self.body = body * (1 - self.lid)  # the visible body
        self.silhouette = np.maximum(body, self.lid)

    def project(self, phi: float, t: float) -> tuple[float, float]:
        return self.cx + self.r * math.sin(phi), self.yb + ELLIPSE * self.r * math.cos(phi) - t * self.h


def _label_color(phi: np.ndarray, t: np.ndarray, can: _Can, label: Label, spin: float) -> np.ndarray:
    """The printed label at surface coordinates (phi, t); a dent passes displaced coordinates."""
    theta = np.angle(np.exp(1j * (phi + spin)))  # wrapped around the can
    arc, h = theta * can.r, can.h
    color = np.empty((*phi.shape, 3), np.float32)
    color[:] = label.color
    band = _soft(np.abs(t - label.band - 0.035) * h - 0.035 * h)
    color = color * (1 - band[..., None]) + band[..., None] * 0.95
    dx, dy = arc / (0.45 * can.r), (t - 0.42) / (0.45 * can.r / h)
    norm = {
        "disc": np.hypot(dx, dy),
        "square": np.maximum(np.abs(dx), np.abs(dy)),
        "diamond": np.abs(dx) + np.abs(dy),
    }
    logo = _soft((norm[label.logo] - 1) * 0.45 * can.r)
    inner = _soft((norm[label.logo] - 0.55) * 0.45 * can.r)
    color = color * (1 - logo[..., None]) + logo[..., None] * 0.95
    color = color * (1 - inner[..., None]) + inner[..., None] * np.asarray(label.color) * 0.6
    text_arc = np.angle(np.exp(1j * (theta - 2.4))) * can.r
    bars = (np.mod(text_arc / (0.12 * can.r), 1.0) < 0.55) & (np.abs(text_arc) < 0.9 * can.r)
    bars &= (t > 0.24) & (t < 0.29)
    color[bars] *= 0.35
    return color


def _draw_can(
    img, depth, xx, yy, scene: Scene, table_depth_at_base: float
) -> tuple[_Can, np.ndarray, np.ndarray]:
    """Draws the can; returns its geometry and the masks of dents and scratches."""
    can = _Can(xx, yy, scene)
    diffuse = np.clip(np.cos(can.phi - scene.light), 0, 1)
    shade = scene.ambient + (1 - scene.ambient) * diffuse
    spec = np.exp(-(((can.phi - scene.light / 2) / 0.12) ** 2))
    dent_mask = np.zeros(xx.shape, bool)
    phi, t = can.phi, can.t
    for d in scene.dents:
        g = np.exp(-(((can.phi - d.phi) / d.width) ** 2) - ((can.t - d.t) / d.height) ** 2)
        # The dented metal faces away from the light in its core and towards it at one rim,
        # a crease runs around it, and the print on it is pushed inwards.
        toward = np.sign(scene.light - d.phi) * 0.6 * d.width
        rim = np.exp(-(((can.phi - d.phi - toward) / (0.5 * d.width)) ** 2) - ((can.t - d.t) / d.height) ** 2)
        crease = np.exp(-(((g - 0.45) / 0.07) ** 2))
        shade = shade * (1 - d.strength * g) * (1 - 0.5 * crease) + 0.6 * d.strength * rim
        spec = spec * (1 - g)
        phi = phi + 0.5 * d.width * g * np.sign(can.phi - d.phi)
        t = t + 0.5 * d.height * g * np.sign(can.t - d.t)
        dent_mask |= (g > 0.3) & (can.body > 0.5)
        depth += (can.body * 0.004 * d.strength * g).astype(np.float32)
    in_label = _soft(np.maximum(LABEL_T[0] - can.t, can.t - LABEL_T[1]) * can.h)
    surface = np.broadcast_to(METAL, img.shape).copy()
    gloss = 0.55 * np.ones(xx.shape, np.float32)
    if scene.label is not None:
        surface = surface * (1 - in_label[..., None]) + in_label[..., None] * _label_color(
            phi, t, can, scene.label, scene.spin
        )
        gloss = gloss - 0.35 * in_label
    body_rgb = surface * shade[..., None] + (gloss * spec)[..., None]
    scratch_mask = np.zeros(xx.shape, bool)
    k = scene.size / 384
    for sc in scene.scratches:
        pts = np.array([can.project(p, t) for p, t in sc.points if abs(p) < math.pi / 2])
        if len(pts) < 2:
            continue
        dist = _segments_distance(xx, yy, pts)
        a = _soft(dist - sc.width * k / 2) * (can.body > 0)
        body_rgb = body_rgb * (1 - a[..., None]) + a[..., None] * sc.brightness
        scratch_mask |= (dist <= sc.width * k / 2 + 1.5 * k) & (can.body > 0.5)
    rim = _soft(
        np.abs(np.hypot((xx - can.cx) / can.r, (yy - can.yt) / (ELLIPSE * can.r)) - 0.9) * can.r
        - 0.09 * can.r
    )
    tx, ty = can.cx + 0.4 * can.r * math.sin(scene.tab), can.yt + 0.4 * ELLIPSE * can.r * math.cos(scene.tab)
    tab = _ellipse(xx, yy, tx, ty, 0.22 * can.r, 0.22 * ELLIPSE * can.r)
    hole = _ellipse(xx, yy, tx, ty, 0.09 * can.r, 0.09 * ELLIPSE * can.r)
    lid_level = (
        0.62 + 0.08 * (xx - can.cx) / can.r * math.sin(scene.light) + 0.22 * rim + 0.2 * tab - 0.4 * hole
    )
    lid_rgb = METAL[None, None] * lid_level[..., None]
    img[:] = (
        img * (1 - can.silhouette[..., None]) + can.body[..., None] * body_rgb + can.lid[..., None] * lid_rgb
    )
    lift = 0.06 if scene.pose == "pick" else 0.0
    body_depth = table_depth_at_base - lift - 0.7 * (can.t * CAN_HEIGHT_M + CAN_RADIUS_M * np.cos(can.phi))
    lid_depth = table_depth_at_base - lift - 0.7 * CAN_HEIGHT_M
    depth[:] = depth * (1 - can.silhouette) + can.body * body_depth + can.lid * lid_depth
    return can, dent_mask, scratch_mask


def _object_alpha(xx, yy, obj, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Coverage and a brightness pattern of a foreign object."""
    length = obj.size * size
    ca, sa = math.cos(obj.angle), math.sin(obj.angle)
    u = (xx - obj.x * size) * ca + (yy - obj.y * size) * sa
    v = -(xx - obj.x * size) * sa + (yy - obj.y * size) * ca
    v = v / ELLIPSE**0.5  # flattened on the table
    if obj.kind == "screw":
        shaft = _soft(np.maximum(np.abs(u) - 0.4 * length, np.abs(v) - 0.11 * length))
        head = _soft(np.hypot(u - 0.45 * length, v) - 0.15 * length)
        alpha = np.maximum(shaft, head)
        pattern = (
            0.75
            + 0.25 * np.cos(v / (0.11 * length) * math.pi / 2)
            - 0.2 * (np.sin(u / (0.05 * length) * math.pi) > 0.5)
        )
        return alpha, pattern.astype(np.float32)
    rho, theta = np.hypot(u, v), np.arctan2(v, u)
    rng = np.random.default_rng(obj.shape_seed)
    if obj.kind == "foam":
        a, b = rng.uniform(0, 2 * math.pi, 2)
        radius = 0.45 * length * (1 + 0.2 * np.sin(3 * theta + a) + 0.12 * np.sin(5 * theta + b))
        return _soft(rho - radius), (0.8 + 0.2 * np.cos(theta - 1.0)).astype(np.float32)
    span = np.mod(theta, 2 * math.pi) < 3.6
    return _soft(np.abs(rho - 0.4 * length) - 0.05 * length) * span, np.ones(xx.shape, np.float32)


def _table_depth(y_fraction):
    """Distance from the camera to the table at an image row (fraction of the frame): the top is farther."""
    return 0.65 + 0.35 * (1 - y_fraction)


def _draw_table(scene: Scene, table: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """The table, the target ring (place pose) and the shadows of the can and of any object."""
    s, r = scene.size, scene.radius * scene.size
    light_x = math.sin(scene.light)
    img = TABLE[None, None] * (1 + table[..., None]) * (0.92 + 0.16 * light_x * (xx / s - 0.5))[..., None]
    if scene.pose == "place":
        ncx, nyb = scene.nominal_cx * s, scene.nominal_base_y * s
        outer = _ellipse(xx, yy, ncx, nyb, 1.5 * r, 1.5 * ELLIPSE * r)
        ring = outer - _ellipse(xx, yy, ncx, nyb, 1.38 * r, 1.38 * ELLIPSE * r)
        img = img * (1 - ring[..., None]) + ring[..., None] * TARGET * (1 + table[..., None])
        shadow_y, shadow_strength = scene.base_y * s + 0.1 * r, 0.45
    else:  # the can hangs above the table: a fainter shadow further down
        shadow_y, shadow_strength = (scene.nominal_base_y + 0.15) * s, 0.25
    dx, dy = (xx - scene.cx * s + 0.6 * r * light_x) / (1.3 * r), (yy - shadow_y) / (0.5 * r)
    img = img * (1 - shadow_strength * np.exp(-(dx**2) - dy**2))[..., None]
    k = s / 384
    for obj in scene.objects:
        alpha, _ = _object_alpha(xx - 3 * k, yy - 3 * k, obj, s)
        img = img * (1 - 0.35 * alpha)[..., None]
    return img.astype(np.float32)


def _gripper(scene: Scene, can: _Can, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Coverage of the gripper (pick pose): a palm above the can and two fingers at its sides."""
    s, r = scene.size, scene.radius * scene.size
    palm_y = (scene.nominal_base_y - scene.height) * s - 0.2 * r
    palm = _soft(np.maximum(np.abs(xx - scene.nominal_cx * s) - 1.5 * r, yy - palm_y))
    finger_rows = np.maximum(palm_y - yy, yy - palm_y - 0.55 * scene.height * s)
    fingers = [
        _soft(np.maximum(np.abs(xx - (can.cx + side * 1.08 * r)) - 0.16 * r, finger_rows)) for side in (-1, 1)
    ]
    return np.maximum(palm, np.maximum(*fingers))


def render(scene: Scene, table: np.ndarray, rng: np.random.Generator) -> Frame:
    s = scene.size
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
    depth = _table_depth(yy / s)
    img = _draw_table(scene, table, xx, yy)
    can, dent_mask, scratch_mask = _draw_can(img, depth, xx, yy, scene, float(_table_depth(scene.base_y)))
    visible = np.ones(xx.shape, np.float32)
    if scene.pose == "pick":
        grip = _gripper(scene, can, xx, yy)
        shade = 0.8 + 0.4 * np.cos((xx - scene.nominal_cx * s) / (1.5 * scene.radius * s) * math.pi / 2) ** 2
        img = img * (1 - grip[..., None]) + grip[..., None] * GRIPPER * shade[..., None]
        depth = depth * (1 - grip) + grip * 0.40
        visible *= 1 - grip
    object_mask = np.zeros(xx.shape, bool)
    for obj in scene.objects:
        alpha, pattern = _object_alpha(xx, yy, obj, s)
        color = np.asarray(obj.color, np.float32) * pattern[..., None]
        img = img * (1 - alpha[..., None]) + alpha[..., None] * color
        depth = depth - alpha * 0.015
        visible *= 1 - alpha
        object_mask |= alpha > 0.5

    mask = object_mask | ((dent_mask | scratch_mask) & (visible > 0.5))
    if scene.defect in ("missing_label", "wrong_label"):
        mask |= (can.body > 0.5) & (can.t >= LABEL_T[0]) & (can.t <= LABEL_T[1]) & (visible > 0.5)
    if scene.defect == "misplaced":
        nominal = _Can(xx, yy, replace(scene, cx=scene.nominal_cx, base_y=scene.nominal_base_y))
        # Where the can is and where it belongs: both look wrong (the MVTec convention).
        mask |= ((can.silhouette > 0.5) | (nominal.silhouette > 0.5)) & (visible > 0.5)

    k = s / 384
    img = img * scene.gain * np.asarray(scene.white, np.float32)
    if scene.blur > 0:
        img = gaussian_filter(img, sigma=(scene.blur * k, scene.blur * k, 0))
    img = img + rng.normal(0, scene.noise, img.shape).astype(np.float32)
    depth = depth + rng.normal(0, 0.0005, depth.shape)
    rgb = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    depth_mm = np.clip(depth * 1000 + 0.5, 0, 65535).astype(np.uint16)
    return Frame(rgb=rgb, depth_mm=depth_mm, mask=mask)
