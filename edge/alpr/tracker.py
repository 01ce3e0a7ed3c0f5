"""Plates tracked across frames, one read per vehicle pass. Pure: no I/O, no clock of its own.

Matching. Each analysed frame's reads are matched to open tracks by where
the plate is (overlap with where the track's plate should be by now, from its
last two positions, at a similar size) or, for a plate that jumped, by being
nearby with text like its last read's or like what its sure reads say.

Cars that stand where the last one stood (a queue at a barrier). A read whose
every character is confident (`decisive_confidence`) and whose text is more
than one character away from the track's (look-alikes such as 8/B, 0/O, 2/Z
counted as equal) is another car and starts a track of its own; once that
track has `min_observations` such reads and the old plate has not been seen
since it began, the old track is closed at once. A single misread character,
a look-alike flip, a part of the plate read alone (the text detector split the
line at its gap) or a blurred, unconfident read never splits a pass. A track
not seen for `max_gap_s` is closed (its plate left); so is one older than
`max_track_s` (a parked car is read, and matched against the hot list, within
that time of arriving, and a track's memory stays bounded).

What makes a pass. A closed track becomes one `VehiclePass` when its vote
rests on at least `min_observations` frames (reads of the voted length) and is
decisive: every character won more than `min_confidence` of it, or, read
surely in `min_observations` frames, did so together with its look-alikes
(`settled_share`: a sign or a window grille read as a different string each
time is not; a plate whose frames split one character between 0 and D is).
The vote is per character, weighted by confidence over the frames, with the
region's format rules applied to it and the sharpest crop kept for a
thumbnail; with a `region`, a vote that can be no plate of it
(`edge.alpr.formats.plausible`) is no pass. Text that moved with a plate the
detector found more plate-like is on that plate's vehicle and is no pass
(`edge.alpr.vehicle.co_moving`; only with a plate detector's confidence).

Close votes. When a character won less than `second_look_below` of the vote
(look-alikes such as 7/T or 6/B that the frames disagree on) and a
`second_look` is given, it reads the context of the pass's
`SECOND_LOOK_READS` best frames again, more carefully (as a photo is read: a
larger detector, more OCR views), and those reads join the vote with as much
weight together as all the frames had. Characters still close after that are
decided again with a `second_opinion`, if given: another OCR model's reads of
the same best frames (`settle_close`).

One read per pass. A pass whose text repeats one emitted less than
`repeat_window_s` before (a vehicle that stopped in view, a track broken by a
gap) is folded into it instead of read twice, and keeps it open: a car parked
for an hour gives one read, not one a minute.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from edge.alpr.base import ALPHABET, Box, CharGuess, PlateRead, iou
from edge.alpr.formats import correct_chars, plausible
from edge.alpr.matching import canonical, within_one_edit
from edge.alpr.vehicle import Trail, co_moving

SECOND_LOOK_READS = 3  # a track keeps the frame context of this many of its best reads
SecondLook = Callable[[list[PlateRead]], list[PlateRead]]  # reads of the best frames → reads of a second look
SecondOpinion = Callable[[list[PlateRead]], list[tuple[CharGuess, ...]]]  # best frames → another OCR's reads
_CLASSES = sorted({canonical(symbol) for symbol in ALPHABET})
# [class, symbol]: 1 where the symbol belongs to the look-alike class (0/O/D/Q, 1/I, 2/Z, 5/S, 6/G, 8/B, others alone)
_LOOK_ALIKES = np.array([[float(canonical(symbol) == c) for symbol in ALPHABET] for c in _CLASSES])


@dataclass(frozen=True, slots=True)
class VehiclePass:
    """The consensus read of one plate over one pass through the view."""

    track_id: int
    text: str
    confidence: float
    chars: tuple[CharGuess, ...]
    first_seen: float
    last_seen: float
    observations: int
    best_crop: np.ndarray | None
    box: Box


@dataclass(slots=True)
class _Track:
    track_id: int
    reads: list[PlateRead] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    best: PlateRead | None = None
    decisive: list[str] = field(default_factory=list)  # canonical texts of its decisive reads
    displaces: _Track | None = None  # the track of the plate that stood here when this one began

    def add(self, at: float, read: PlateRead, *, decisive: bool) -> None:
        self.reads.append(read)
        self.times.append(at)
        if decisive:
            self.decisive.append(canonical(read.text))
        if self.best is None or _quality(read) > _quality(self.best):
            self.best = read
        if read.context is not None:  # keep the frame context of the best few reads only (memory)
            with_context = [i for i, r in enumerate(self.reads) if r.context is not None]
            for i in sorted(with_context, key=lambda i: _quality(self.reads[i]), reverse=True)[SECOND_LOOK_READS:]:
                self.reads[i] = replace(self.reads[i], context=None)

    def best_with_context(self) -> list[PlateRead]:
        return sorted((r for r in self.reads if r.context is not None), key=_quality, reverse=True)

    def text(self) -> str:
        """The canonical text most of its decisive reads agree with ("" before any)."""
        if not self.decisive:
            return ""
        # Ties go to the text read most often, then alphabetically: never to a set's (hash-seeded) order.
        return max(sorted(set(self.decisive)), key=lambda t: (sum(within_one_edit(t, other) for other in self.decisive),
                                                              self.decisive.count(t)))

    def predicted_box(self, at: float) -> Box:
        x, y, w, h = self.reads[-1].box
        if len(self.reads) < 2 or self.times[-1] <= self.times[-2]:
            return x, y, w, h
        px, py, _, _ = self.reads[-2].box
        scale = (at - self.times[-1]) / (self.times[-1] - self.times[-2])
        return round(x + (x - px) * scale), round(y + (y - py) * scale), w, h


@dataclass(slots=True)
class _Emitted:
    """A pass already emitted: its canonical text and when its plate was last seen."""

    text: str
    last_seen: float


MIN_PARTIAL = 3  # characters: a shorter read says too little to be recognised as part of a plate


def partial_read(a: str, b: str) -> bool:
    """Whether one text is the other read in part (at least `MIN_PARTIAL` characters, in order, contiguous):
    a text detector that split a plate's line in two at its gap, a crop that clipped its first characters.
    Such a read at a plate's place is that plate, not another car."""
    shorter, longer = sorted((a, b), key=len)
    return len(shorter) >= MIN_PARTIAL and shorter in longer


def _trail(track: _Track, text: str) -> Trail:
    """Where the track's plate was in each frame, how plate-like the detector found it (median), its text."""
    likeness = float(np.median([r.detection_confidence for r in track.reads]))
    return Trail(tuple(track.times), tuple(r.box for r in track.reads), likeness, canonical(text), track.times[-1])


def _quality(read: PlateRead) -> float:
    return read.detection_confidence * read.confidence * read.box[2]


def vote(reads: list[PlateRead], *, extra_weight: float = 1.0, extra_from: int | None = None) -> tuple[CharGuess, ...]:
    """Per-character voting over reads of the most-voted length, each weighted by its confidence (the reads
    from index `extra_from` on, a second look, by `extra_weight` times that).

    A read contributes its probabilities over `ALPHABET` where the backend gave them, else a vote for its
    character; each result character carries the share of the vote it won and the whole distribution."""
    weights = [_weight(r) * (extra_weight if extra_from is not None and i >= extra_from else 1.0)
               for i, r in enumerate(reads)]
    by_length: dict[int, list[tuple[PlateRead, float]]] = defaultdict(list)
    for read, weight in zip(reads, weights, strict=True):
        if read.chars:
            by_length[len(read.chars)].append((read, weight))
    if not by_length:
        return ()
    chosen = max(by_length.values(), key=lambda group: sum(w for _, w in group))
    total = sum(w for _, w in chosen) or 1.0
    votes = np.zeros((len(chosen[0][0].chars), len(ALPHABET)))
    for read, weight in chosen:
        for position, guess in enumerate(read.chars):
            votes[position] += weight * _distribution(guess)
    shares = votes / total
    # Without any probabilities from the backend the vote shares are no evidence about look-alikes: leave them out
    # (format rules then take any look-alike, as for a bare text).
    has_probs = any(c.probs is not None for r, _ in chosen for c in r.chars)
    return tuple(CharGuess(ALPHABET[int(row.argmax())], float(row.max()), tuple(row.tolist()) if has_probs else None)
                 for row in shares)


def settle_close(chars: tuple[CharGuess, ...], opinions: list[tuple[CharGuess, ...]], *,
                 close_below: float) -> tuple[CharGuess, ...]:
    """A second OCR model's say where the vote is close: each character of the vote `chars` that won less than
    `close_below` is decided again, between look-alike classes (`wire.plates.CANONICAL`: 0/O/D/Q, 1/I, 2/Z, 5/S,
    6/G, 8/B; every other symbol its own class), by the average of the vote's and the `opinions`' shares of each
    class (the two models have an equal say); within the chosen class the vote's split stands. A generic text
    recogniser sees shapes, but which of 0 and O or 1 and I a plate's font means it cannot tell (in text, words
    decide that): the plate OCR and the region's formats do. Only opinions of the vote's length count (CTC may
    merge a double letter or drop one: such a read cannot say which position is which). Characters the vote
    settled never change; without a usable opinion, or without the vote's distributions, `chars` is returned as
    is."""
    usable = [o for o in opinions if len(o) == len(chars) and all(c.probs is not None for c in o)]
    if not usable or any(c.probs is None for c in chars):
        return chars
    settled = []
    for position, guess in enumerate(chars):
        if guess.confidence >= close_below:
            settled.append(guess)
            continue
        own = np.asarray(guess.probs)
        other = np.mean([np.asarray(o[position].probs) for o in usable], axis=0)
        own_classes, other_classes = _LOOK_ALIKES @ own, _LOOK_ALIKES @ other
        merged_classes = (own_classes + other_classes) / 2
        # Each class's merged share, split among its symbols as the vote split it (as the opinion did where the
        # vote gave the class nothing).
        own_of_class, other_of_class = _LOOK_ALIKES.T @ own_classes, _LOOK_ALIKES.T @ other_classes
        split = np.where(own_of_class > 0, own / np.maximum(own_of_class, 1e-12),
                         other / np.maximum(other_of_class, 1e-12))
        merged = split * (_LOOK_ALIKES.T @ merged_classes)
        best = int(merged.argmax())
        settled.append(CharGuess(ALPHABET[best], float(merged[best]), tuple(merged.tolist())))
    return tuple(settled)


def settled_share(chars: tuple[CharGuess, ...]) -> float:
    """How settled a vote is about what each character of the plate is: the least share of the vote any of its
    characters won together with its look-alikes (`wire.plates.CANONICAL`: 0/O/D/Q, 1/I, 2/Z, 5/S, 6/G, 8/B).
    Frames that split a character between look-alikes agree it is there and what it looks like (which of the
    two it is, the vote, region formats and a second opinion decide); a sign or a grille read as different
    text each time splits between characters that look nothing alike. Without distributions: the weakest
    character's share."""
    shares = []
    for guess in chars:
        if guess.probs is None:
            shares.append(guess.confidence)
            continue
        group = canonical(guess.char)
        shares.append(sum(p for symbol, p in zip(ALPHABET, guess.probs, strict=True) if canonical(symbol) == group))
    return min(shares, default=0.0)


def _weight(read: PlateRead) -> float:
    mean = sum(c.confidence for c in read.chars) / len(read.chars) if read.chars else 0.0
    return max(1e-3, read.detection_confidence * mean)


def _distribution(guess: CharGuess) -> np.ndarray:
    if guess.probs is not None:
        return np.asarray(guess.probs)
    onehot = np.zeros(len(ALPHABET))
    onehot[ALPHABET.index(guess.char)] = 1.0
    return onehot


class PlateTracker:
    """Tracks for one camera. `update` once per analysed frame; it returns the passes that ended."""

    def __init__(self, *, region: str | None = None, max_gap_s: float = 1.5, min_observations: int = 2,
                 min_confidence: float = 0.5, min_iou: float = 0.05, repeat_window_s: float = 10.0,
                 decisive_confidence: float = 0.6, max_size_change: float = 2.0,
                 second_look: SecondLook | None = None, second_look_below: float = 2 / 3,
                 second_opinion: SecondOpinion | None = None, max_track_s: float = 30.0,
                 plate_detector: bool = True) -> None:
        self.region = region
        self.plate_detector = plate_detector
        self.second_opinion = second_opinion
        self.max_track_s = max_track_s
        self.second_look = second_look
        self.second_look_below = second_look_below
        self.min_confidence = min_confidence
        self.max_gap_s = max_gap_s
        self.min_observations = min_observations
        self.min_iou = min_iou
        self.repeat_window_s = repeat_window_s
        self.decisive_confidence = decisive_confidence
        self.max_size_change = max_size_change
        self._open: list[_Track] = []
        self._ids = itertools.count(1)
        self._recent: list[_Emitted] = []
        self._trails: list[Trail] = []  # passes that ended lately, for `co_moving`

    @property
    def has_open_tracks(self) -> bool:
        return bool(self._open)

    def open_boxes(self) -> list[Box]:
        """Where each open track's plate was last seen. Called from a camera's decoding thread while the worker
        updates the tracks: it reads a snapshot and skips a track created but not yet given its first read."""
        return [reads[-1].box for track in list(self._open) if (reads := track.reads)]

    def update(self, at: float, reads: list[PlateRead]) -> list[VehiclePass]:
        # Before matching: a plate seen again after the gap (or a long stay) starts a new track.
        gone = [t for t in self._open if at - t.times[-1] > self.max_gap_s or at - t.times[0] > self.max_track_s]
        self._open = [t for t in self._open if t not in gone]
        for read in reads:
            decisive = read.confidence >= self.decisive_confidence
            track = self._match(at, read, decisive)
            if track is None:
                track = _Track(next(self._ids), displaces=self._standing_at(read.box) if decisive else None)
                self._open.append(track)
            track.add(at, read, decisive=decisive)
        displaced = [t for t in self._open if self._displaced(t)]
        self._open = [t for t in self._open if t not in displaced]
        return self._finish(gone + displaced, at)

    def flush(self, at: float) -> list[VehiclePass]:
        """Close every open track (the camera stopped)."""
        ended, self._open = self._open, []
        return self._finish(ended, at)

    def _match(self, at: float, read: PlateRead, decisive: bool) -> _Track | None:
        best, best_score = None, 0.0
        for track in self._open:
            if track.times[-1] == at:
                continue  # one read per track per frame
            if decisive and self._other_plate(track, read):
                continue
            overlap = iou(track.predicted_box(at), read.box) if self._similar_size(track, read) else 0.0
            score = overlap if overlap >= self.min_iou else self._nearby_and_alike(track, read) * 0.01
            if score > best_score:
                best, best_score = track, score
        return best

    @staticmethod
    def _other_plate(track: _Track, read: PlateRead) -> bool:
        """A decisive read that cannot be this track's plate: more than one character (after look-alikes) from
        every decisive read the track has, and not a part of one either (`partial_read`). (Against only the text
        most of them agree on, a track whose first sure reads were "8P6998" and "8P69983" took the next car to
        be reading "8P62983", two edits from the first.)"""
        new = canonical(read.text)
        return bool(track.decisive) and not any(within_one_edit(text, new) or partial_read(new, text)
                                                for text in set(track.decisive))

    def _similar_size(self, track: _Track, read: PlateRead) -> bool:
        last, new = track.reads[-1].box[2], read.box[2]
        return max(last, new) <= self.max_size_change * max(1, min(last, new))

    def _standing_at(self, box: Box) -> _Track | None:
        """The open track whose plate was last seen where `box` is (a different plate that may be leaving)."""
        overlapping = [t for t in self._open if iou(t.reads[-1].box, box) >= self.min_iou]
        return max(overlapping, key=lambda t: t.times[-1], default=None)

    def _displaced(self, track: _Track) -> bool:
        """Another plate took this track's place: a track that began where it stood has `min_observations`
        decisive reads, all since this one was last seen."""
        return any(other.displaces is track and len(other.decisive) >= self.min_observations
                   and other.times[0] > track.times[-1] for other in self._open)

    @staticmethod
    def _nearby_and_alike(track: _Track, read: PlateRead) -> bool:
        """Near where the track's plate was last seen, and within one character of its last read or of what its
        decisive reads say (the last read may be a blurred one)."""
        last = track.reads[-1]
        x0, y0, w0, _ = last.box
        x1, y1, _, _ = read.box
        near = abs(x1 - x0) + abs(y1 - y0) < 4 * max(w0, 1)
        new = canonical(read.text)
        return near and (within_one_edit(canonical(last.text), new) or within_one_edit(track.text(), new))

    def _finish(self, ended: list[_Track], at: float) -> list[VehiclePass]:
        for track in ended:
            for other in self._open:
                if other.displaces is track:
                    other.displaces = None
        passes = []
        for track in sorted(ended, key=lambda t: t.times[0]):
            if len(track.reads) < self.min_observations:
                continue
            result = self._consensus(track)
            if not result.text or not self._decisive(track, result):
                continue
            if not plausible(result.text, self.region):
                continue  # a sign or a sticker: no plate of the camera's region reads so
            trail = _trail(track, result.text)
            carried = self.plate_detector and self._carried_by_a_plate(trail, [t for t in ended if t is not track])
            self._trails.append(trail)
            if carried:
                continue
            if not self._fold_into_recent(result):
                passes.append(result)
                self._recent.append(_Emitted(canonical(result.text), result.last_seen))
        oldest = min((t.times[0] for t in self._open), default=at)  # what a pass still to come may fold into
        self._recent = [p for p in self._recent if oldest - p.last_seen <= self.repeat_window_s]
        self._trails = [t for t in self._trails if t.last_seen >= oldest]
        return passes

    def _decisive(self, track: _Track, result: VehiclePass) -> bool:
        """The vote rests on at least `min_observations` of the track's frames (reads of its length), and every
        character of it won more than `min_confidence` of it, or, in a track with at least
        `min_observations` reads confident in every character, did so together with its look-alikes
        (`settled_share`): frames that read a plate surely but split one character between 0 and D agree it
        is a plate; unsure reads of a grille split between I and 1 do not make one."""
        of_its_length = sum(len(read.chars) == len(result.chars) for read in track.reads)
        if of_its_length < self.min_observations:
            return False  # the vote rests on fewer frames than a pass needs: the others read other text there
        if result.confidence > self.min_confidence:
            return True
        return len(track.decisive) >= self.min_observations and settled_share(result.chars) > self.min_confidence

    def _carried_by_a_plate(self, trail: Trail, ending: list[_Track]) -> bool:
        """Whether this pass's text moved with other text that the detector found more plate-like (a track
        still open or ending with it, read surely in `min_observations` frames, or a pass that ended lately):
        then it is on that plate's vehicle."""
        sure = [t for t in self._open + ending if len(t.decisive) >= self.min_observations]
        others = [_trail(t, t.text()) for t in sure] + self._trails
        return any(other.plate_likeness > trail.plate_likeness and not within_one_edit(other.text, trail.text)
                   and co_moving(other, trail) for other in others)

    def _fold_into_recent(self, result: VehiclePass) -> bool:
        """Whether `result` repeats a pass emitted less than `repeat_window_s` before; that pass then counts as
        seen until `result` ended, so a plate that stays keeps folding."""
        text = canonical(result.text)
        for emitted in self._recent:
            if within_one_edit(emitted.text, text) and result.first_seen - emitted.last_seen <= self.repeat_window_s:
                emitted.last_seen = max(emitted.last_seen, result.last_seen)
                return True
        return False

    def _consensus(self, track: _Track) -> VehiclePass:
        chars = vote(track.reads)
        if self.second_look is not None and chars and min(c.confidence for c in chars) < self.second_look_below:
            again = self.second_look(track.best_with_context())
            if again:
                weight = len(track.reads) / len(again)
                chars = vote(track.reads + again, extra_weight=weight, extra_from=len(track.reads))
        if self.second_opinion is not None and chars and min(c.confidence for c in chars) < self.second_look_below:
            chars = settle_close(chars, self.second_opinion(track.best_with_context()),
                                 close_below=self.second_look_below)
        chars = correct_chars(chars, self.region)
        best = track.best
        assert best is not None
        return VehiclePass(
            track_id=track.track_id,
            text="".join(c.char for c in chars),
            confidence=min((c.confidence for c in chars), default=0.0),
            chars=chars,
            first_seen=track.times[0],
            last_seen=track.times[-1],
            observations=len(track.reads),
            best_crop=best.crop,
            box=best.box,
        )
