"""A synthetic street scene with cars carrying readable licence plates.

The static background is drawn once; each frame composites the moving cars
onto a copy. Plates are white with a black border and black DejaVu Sans Mono
Bold text (a fixed-pitch face, as plate fonts are), about 3.2:1, mounted above
a dark bumper between two tail lights: a real plate detector needs that
context, a bare white rectangle on a flat colour is not a plate to it. Texts
are deterministic from the camera's seed and, like many real plate series,
never use I, O or Q (they read as 1 and 0).

`StreetScene` drives cars across the view one at a time; `QueueScene` has
them pull up to one spot (a barrier, a drive-through window) and stop there,
one after another, the next arriving 0–3 s after the last one starts to leave.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sim.truth import Box, PlatePass

FONT_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
              "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
PLATE_ASPECT = 3.2
PLATE_FORMATS = ("LLLNNNN", "NLLLNNN", "LLNNLLL", "LLLNLNN")


def plate_text(rng: random.Random, pattern: str) -> str:
    return "".join(rng.choice(PLATE_LETTERS if c == "L" else string.digits) for c in pattern)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def render_plate(text: str, width: int) -> np.ndarray:
    """A BGR image of a plate `width` pixels wide (aspect `PLATE_ASPECT`)."""
    height = round(width / PLATE_ASPECT)
    image = Image.new("RGB", (width, height), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    border = max(2, width // 60)
    draw.rectangle([0, 0, width - 1, height - 1], outline=(10, 10, 10), width=border)
    font = _font(round(height * 0.6))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = (width - (right - left)) // 2 - left
    y = (height - (bottom - top)) // 2 - top
    draw.text((x, y), text, fill=(15, 15, 15), font=font)
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


@dataclass(frozen=True, slots=True)
class Car:
    plate: str
    colour: tuple[int, int, int]
    enter_frame: int
    frames_in_view: int
    stop_frames: int = 0  # frames it stands still at the spot (a queue), half-way through its pass


class StreetScene:
    """Renders the loop of one simulated camera."""

    CAR_W_FRAC = 0.30
    CAR_H_FRAC = 0.26

    def __init__(self, *, width: int, height: int, fps: int, n_frames: int, seed: int) -> None:
        self.width, self.height, self.fps, self.n_frames = width, height, fps, n_frames
        rng = random.Random(seed)
        self.background = self._background(rng)
        self.car_w = round(width * self.CAR_W_FRAC)
        self.car_h = round(height * self.CAR_H_FRAC)
        self.plate_w = round(width * 0.10)
        self.road_y = round(height * 0.52)
        self.cars = self._schedule(rng)
        self._plates = {car.plate: render_plate(car.plate, self.plate_w) for car in self.cars}

    def _background(self, rng: random.Random) -> np.ndarray:
        w, h = self.width, self.height
        image = np.zeros((h, w, 3), np.uint8)
        image[:] = (200, 170, 140)  # sky
        x = 0
        while x < w:  # building blocks
            bw = rng.randint(w // 12, w // 5)
            top = rng.randint(h // 10, h // 3)
            shade = rng.randint(70, 170)
            cv2.rectangle(image, (x, top), (x + bw, h // 2), (shade, shade - 10, shade + 15), -1)
            for wy in range(top + 20, h // 2 - 30, 60):
                for wx in range(x + 15, x + bw - 30, 55):
                    cv2.rectangle(image, (wx, wy), (wx + 28, wy + 35), (60, 90, 110), -1)
            x += bw + rng.randint(5, 25)
        cv2.rectangle(image, (0, h // 2), (w, round(h * 0.56)), (160, 160, 160), -1)  # kerb
        cv2.rectangle(image, (0, round(h * 0.56)), (w, h), (70, 70, 72), -1)  # road
        for lx in range(0, w, 240):
            cv2.rectangle(image, (lx, round(h * 0.93)), (lx + 120, round(h * 0.95)), (230, 230, 230), -1)
        texture = np.random.default_rng(rng.randint(0, 1 << 30)).integers(-12, 12, (h, w, 1), dtype=np.int16)
        return np.clip(image.astype(np.int16) + texture, 0, 255).astype(np.uint8)

    def _schedule(self, rng: random.Random) -> list[Car]:
        frames_in_view = round(self.fps * 4.5)  # a pass takes 4.5 s edge to edge
        spacing = frames_in_view + round(self.fps * 1.5)
        cars = []
        frame = round(self.fps * 0.5)
        while frame + frames_in_view < self.n_frames:
            plate = plate_text(rng, rng.choice(PLATE_FORMATS))
            colour = (rng.randint(30, 220), rng.randint(30, 220), rng.randint(30, 220))
            cars.append(Car(plate, colour, frame, frames_in_view))
            frame += spacing
        return cars

    def _car_x(self, car: Car, frame: int) -> int:
        progress = (frame - car.enter_frame) / car.frames_in_view
        return round(-self.car_w + progress * (self.width + self.car_w))

    def _plate_box(self, car: Car, frame: int) -> Box:
        x = self._car_x(car, frame) + (self.car_w - self.plate_w) // 2
        y = self.road_y + round(self.car_h * 0.62)
        return Box(x, y, self.plate_w, round(self.plate_w / PLATE_ASPECT))

    def truth(self) -> tuple[PlatePass, ...]:
        passes = []
        for car in self.cars:
            visible = [
                f
                for f in range(car.enter_frame, car.enter_frame + car.frames_in_view + 1)
                if 0 <= self._plate_box(car, f).x and self._plate_box(car, f).x + self.plate_w <= self.width
            ]
            if visible:
                first, last = visible[0], visible[-1]
                passes.append(PlatePass(car.plate, first, last, self._plate_box(car, first), self._plate_box(car, last)))
        return tuple(passes)

    def frames(self) -> Iterator[np.ndarray]:
        for frame in range(self.n_frames):
            yield self.render(frame)

    def render(self, frame: int) -> np.ndarray:
        image = self.background.copy()
        for car in self.cars:
            if car.enter_frame <= frame <= car.enter_frame + car.frames_in_view:
                self._draw_car(image, car, frame)
        return image

    def _draw_car(self, image: np.ndarray, car: Car, frame: int) -> None:
        x, y, w, h = self._car_x(car, frame), self.road_y, self.car_w, self.car_h
        cv2.rectangle(image, (x, y + h // 4), (x + w, y + h), car.colour, -1)
        cv2.rectangle(image, (x + w // 6, y), (x + 5 * w // 6, y + h // 4), car.colour, -1)
        cv2.rectangle(image, (x + w // 5, y + h // 20), (x + 4 * w // 5, y + h // 4), (90, 60, 40), -1)
        for cx in (x + w // 5, x + 4 * w // 5):
            cv2.circle(image, (cx, y + h), h // 6, (20, 20, 20), -1)
        box = self._plate_box(car, frame)
        cv2.rectangle(image, (x, box.y + box.h + 4), (x + w, box.y + box.h + 16), (30, 30, 30), -1)  # bumper
        for lx in (x + 10, x + w - w // 6):  # tail lights
            cv2.rectangle(image, (lx, y + h // 3), (lx + w // 6 - 10, y + h // 3 + h // 8), (20, 20, 200), -1)
        plate = self._plates[car.plate]
        x0, x1 = max(box.x, 0), min(box.x + box.w, self.width)
        if x1 > x0:
            image[box.y : box.y + box.h, x0:x1] = plate[:, x0 - box.x : x1 - box.x]



@dataclass(frozen=True, slots=True)
class _Placed:
    """Where a car of the queue is in one frame: its centre and its scale (1: standing at the spot)."""

    cx: float
    cy: float
    scale: float


class QueueScene(StreetScene):
    """A camera facing a barrier, zoomed on the spot where cars stop (as plate cameras are): each car pulls up
    the last few metres from behind the one before (already near the spot), stops there for 2-4 s, then drives
    on under the camera (down and out of view, accelerating, its plate blurred by its motion as a camera's
    shutter blurs it, so its last readable frames are at the spot). The next car starts pulling up 0-3 s after
    the last one started to leave, from behind it (hidden by it until it moves), and stops where it stood: the
    place of a plate says nothing about which car it is."""

    ARRIVE_S = 1.2
    LEAVE_S = 0.8
    CAR_W_FRAC = 0.40
    CAR_H_FRAC = 0.36

    def _schedule(self, rng: random.Random) -> list[Car]:
        arrive, leave = round(self.fps * self.ARRIVE_S), round(self.fps * self.LEAVE_S)
        cars = []
        frame = round(self.fps * 0.5)
        while True:
            stop = round(self.fps * rng.uniform(2.0, 4.0))
            if frame + arrive + stop + leave >= self.n_frames:
                return cars
            plate = plate_text(rng, rng.choice(PLATE_FORMATS))
            colour = (rng.randint(30, 220), rng.randint(30, 220), rng.randint(30, 220))
            cars.append(Car(plate, colour, frame, arrive + stop + leave, stop))
            frame += arrive + stop + round(self.fps * rng.uniform(0.0, 3.0))

    def _placed(self, car: Car, frame: int) -> _Placed:
        arrive = round(self.fps * self.ARRIVE_S)
        leave = car.frames_in_view - arrive - car.stop_frames
        spot_x, spot_y = self.width / 2, self.height * 0.55
        elapsed = frame - car.enter_frame
        if elapsed < arrive:  # slowing down as it pulls up (ease-out)
            t = 1 - (1 - elapsed / arrive) ** 2
            return _Placed(spot_x, spot_y - self.height * 0.04 * (1 - t), 0.85 + 0.15 * t)
        if elapsed < arrive + car.stop_frames:
            return _Placed(spot_x, spot_y, 1.0)
        t = ((elapsed - arrive - car.stop_frames) / leave) ** 2  # speeding up as it leaves (ease-in)
        return _Placed(spot_x, spot_y + self.height * 0.8 * t, 1.0 + 0.5 * t)

    def _in_view(self, frame: int) -> list[Car]:
        """The cars in view, farthest (smallest) first: the order they are drawn in."""
        cars = [c for c in self.cars if c.enter_frame <= frame <= c.enter_frame + c.frames_in_view]
        return sorted(cars, key=lambda c: self._placed(c, frame).scale)

    def _body(self, placed: _Placed) -> tuple[int, int, int, int]:
        w, h = round(self.car_w * placed.scale), round(self.car_h * placed.scale)
        return round(placed.cx - w / 2), round(placed.cy - h / 2), w, h

    def _plate_box(self, car: Car, frame: int) -> Box:
        placed = self._placed(car, frame)
        x, y, w, h = self._body(placed)
        plate_w = round(self.plate_w * placed.scale)
        plate_h = round(plate_w / PLATE_ASPECT)
        return Box(x + (w - plate_w) // 2, y + round(h * 0.62), plate_w, plate_h)

    def _smear(self, car: Car, frame: int) -> int:
        """Pixels the plate moves while the shutter is open (a frame interval: a camera's auto exposure at dusk)."""
        now, before = self._plate_box(car, frame), self._plate_box(car, max(car.enter_frame, frame - 1))
        return abs(now.y - before.y)

    def _visible(self, car: Car, frame: int) -> bool:
        box = self._plate_box(car, frame)
        if box.x < 0 or box.y < 0 or box.x + box.w > self.width or box.y + box.h > self.height:
            return False
        nearer = self._in_view(frame)
        for other in nearer[nearer.index(car) + 1:]:
            x, y, w, h = self._body(self._placed(other, frame))
            if box.x < x + w and x < box.x + box.w and box.y < y + h and y < box.y + box.h:
                return False  # hidden behind a nearer car
        return True

    def truth(self) -> tuple[PlatePass, ...]:
        passes = []
        for car in self.cars:
            visible = [f for f in range(car.enter_frame, car.enter_frame + car.frames_in_view + 1)
                       if self._visible(car, f)]
            if visible:
                first, last = visible[0], visible[-1]
                passes.append(PlatePass(car.plate, first, last, self._plate_box(car, first),
                                        self._plate_box(car, last)))
        return tuple(passes)

    def render(self, frame: int) -> np.ndarray:
        image = self.background.copy()
        for car in self._in_view(frame):
            self._draw_scaled(image, car, frame)
        return image

    def _draw_scaled(self, image: np.ndarray, car: Car, frame: int) -> None:
        x, y, w, h = self._body(self._placed(car, frame))
        cv2.rectangle(image, (x, y + h // 4), (x + w, y + h), car.colour, -1)
        cv2.rectangle(image, (x + w // 6, y), (x + 5 * w // 6, y + h // 4), car.colour, -1)
        cv2.rectangle(image, (x + w // 5, y + h // 20), (x + 4 * w // 5, y + h // 4), (90, 60, 40), -1)
        box = self._plate_box(car, frame)
        cv2.rectangle(image, (x, box.y + box.h + 4), (x + w, box.y + box.h + 4 + h // 12), (30, 30, 30), -1)
        for lx in (x + w // 16, x + w - w // 16 - w // 6):  # lights
            cv2.rectangle(image, (lx, y + h // 3), (lx + w // 6, y + h // 3 + h // 8), (20, 20, 200), -1)
        plate = cv2.resize(self._plates[car.plate], (box.w, box.h), interpolation=cv2.INTER_AREA)
        smear = self._smear(car, frame)
        if smear > 1:  # a moving plate is blurred along its motion while the shutter is open
            kernel = np.full((smear, 1), 1 / smear, np.float32)
            plate = cv2.filter2D(plate, -1, kernel, borderType=cv2.BORDER_REPLICATE)
        x0, y0 = max(box.x, 0), max(box.y, 0)
        x1, y1 = min(box.x + box.w, self.width), min(box.y + box.h, self.height)
        if x1 > x0 and y1 > y0:
            image[y0:y1, x0:x1] = plate[y0 - box.y:y1 - box.y, x0 - box.x:x1 - box.x]
