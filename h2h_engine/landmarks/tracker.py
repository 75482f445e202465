"""Follow one face through a shot: detect once, then seed each frame's box from the previous landmarks.

Per frame (tracked state) the 68 points are predicted from the box of the previous frame's points and
refined once from the box of the result (:class:`ShapePredictor`). The fit counts as *degraded*, and the
detector runs again, when any of these holds:

- self-consistency: the two predictor passes disagree by more than ``MAX_AGREEMENT`` inter-ocular distances
  (the seed box was off, e.g. fast motion, or the patch is no longer a face);
- appearance: the normalised cross-correlation of the 24 x 24 grey face patch with the previous frame's
  falls below ``MIN_NCC`` (a cut, an occlusion);
- drift from the last detection: the face's size (RMS radius of the expression-stable points) changed by
  more than ``SIZE_DRIFT`` times, or those points, aligned to the last detection's by a similarity
  transform, are off by more than ``SHAPE_DRIFT`` inter-ocular distances (RMS). The box -> points -> box loop
  can otherwise grow or shrink the shape over a few blurred frames while staying self-consistent;
- safety net: ``REDETECT_EVERY`` frames passed since the last detection.

Re-detection looks first in a window twice the face's size (fast), then over the whole frame (upsampling
once only if nothing is found, in frames up to ``UPSAMPLE_MAX_PIXELS``), and keeps the detection that
overlaps the tracked face. Elsewhere (first face, face lost, after a cut) the ``face`` policy picks among
the detections.

Confidence per frame: the smaller of a detector term and a self-consistency term. Detector term: the score
of the last detection that confirmed the face, mapped to [0.5, 1] (0.5 at the detection threshold), halved
each time a safety-net detection cannot confirm a face that still tracks consistently (e.g. a profile the
HOG detector misses; the face is kept). Self-consistency term: ``1 - agreement / (2 MAX_AGREEMENT)``, clipped
to [0, 1]. So a frame falls below ``LOW_CONFIDENCE`` (FLAG_LOW_CONFIDENCE) exactly when its predictor passes
disagree by more than ``MAX_AGREEMENT`` or the detector failed to confirm the face.
"""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import Empty, Full, Queue
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from ..errors import ConfigError, InputError, NoFaceError
from ..track import FLAG_LOW_CONFIDENCE, FLAG_NO_FACE, FLAG_REDETECTED
from .detect import Detection, FaceDetector
from .dlib_models import native_shape_model
from .pupils import PUPIL_IMPLS, locate_pupils
from ..geometry import RIGID, inter_ocular
from .shape import ShapeFit, ShapePredictor, box_from_points, points_frame

MAX_AGREEMENT = 0.04
MIN_NCC = 0.5
SIZE_DRIFT = 1.12
SHAPE_DRIFT = 0.05
REDETECT_EVERY = 30
# Frames up to this many pixels are searched again upsampled once (faces below the HOG window of 80 px) when
# nothing is found; larger frames only at full size (an upsampled 1080p search takes over a second).
UPSAMPLE_MAX_PIXELS = 1280 * 720
LOW_CONFIDENCE = 0.5
_PATCH = 24  # side of the grey face patch compared between frames, px


@dataclass
class LandmarkTrack:
    """Landmarks and pupils of one face over T frames.

    Attributes:
        frames: (T,) int64 frame numbers.
        landmarks: (T, 68, 2) float32 pixels (interpolated on no-face frames).
        pupils: (T, 2, 2) float32 pixels: [subject's right eye (points 36-41), left eye (42-47)].
        confidence: (T,) float32 in [0, 1].
        flags: (T,) uint8 bits from h2h_engine.track: FLAG_NO_FACE, FLAG_REDETECTED, FLAG_LOW_CONFIDENCE.
        image_size: (W, H) of the frames.
        pupil_confidence: (T, 2) float32 in [0, 1] per eye (0: closed eye / no iris found / no face).
    """

    frames: np.ndarray
    landmarks: np.ndarray
    pupils: np.ndarray
    confidence: np.ndarray
    flags: np.ndarray
    image_size: tuple[int, int]
    pupil_confidence: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frames)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _patch(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(24, 24) float32 zero-mean unit-norm grey patch of ``box``."""
    s = _PATCH / max(float(box[2] - box[0]), 1.0)
    warp = np.array([[s, 0.0, -s * box[0]], [0.0, s, -s * box[1]]], np.float32)
    p = cv2.warpAffine(gray, warp, (_PATCH, _PATCH), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    p = p.astype(np.float32) - p.mean()
    return p / max(float(np.linalg.norm(p)), 1e-6)


def shape_drift(landmarks: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Size ratio and RMS similarity-aligned residual (over inter-ocular distance) of the expression-stable
    points of (68, 2) ``landmarks`` against (68, 2) ``reference``."""
    a, b = landmarks[RIGID].astype(np.float64), reference[RIGID].astype(np.float64)
    a0, b0 = a - a.mean(0), b - b.mean(0)
    u, sv, vt = np.linalg.svd(a0.T @ b0)
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, d]) @ vt
    scale = (sv[0] + d * sv[1]) / max(float((a0 ** 2).sum()), 1e-9)
    resid = np.sqrt(((scale * a0 @ rot - b0) ** 2).sum(1).mean()) / max(float(inter_ocular(reference)), 1.0)
    return float(points_frame(landmarks)[1] / max(float(points_frame(reference)[1]), 1e-6)), float(resid)


def parse_face_policy(face: str) -> tuple[str, int]:
    """``"largest"`` | ``"center"`` | ``"index:N"`` -> (kind, N)."""
    if face in ("largest", "center"):
        return face, 0
    m = re.fullmatch(r"index:(\d+)", face)
    if m is None:
        raise ConfigError(f"face must be 'largest', 'center' or 'index:N' (N-th face from the left, from 0); "
                         f"got {face!r}")
    return "index", int(m.group(1))


class _Follower:
    """State of the face being followed; ``step`` handles one frame."""

    def __init__(self, detector: FaceDetector, face: str, predictor: str = "native") -> None:
        self.detector, self.predictor = detector, ShapePredictor(predictor)
        self.policy, self.index = parse_face_policy(face)
        self.prev: np.ndarray | None = None       # (68, 2) landmarks of the previous frame, None when lost
        self.last_box: np.ndarray | None = None   # (4,) box of the last frame with a face
        self.patch: np.ndarray | None = None
        self.detected: np.ndarray | None = None   # (68, 2) landmarks at the last detection
        self.det_conf = 0.0
        self.since_detection = 0

    def _choose(self, dets: list[Detection], gray: np.ndarray, frame_no: int) -> Detection:
        """Pick a detection by the ``face`` policy (first face / after a cut), or nearest the lost face."""
        if self.last_box is not None:  # lost the face: prefer a detection where it was
            best = max(dets, key=lambda d: _iou(d.box, self.last_box))
            if _iou(best.box, self.last_box) > 0.3:
                return best
        if self.policy == "largest":
            return max(dets, key=lambda d: d.side)
        if self.policy == "center":
            c = np.array(gray.shape[::-1], np.float32) / 2
            return min(dets, key=lambda d: float(np.linalg.norm(0.5 * (d.box[:2] + d.box[2:]) - c)))
        ordered = sorted(dets, key=lambda d: float(d.box[0] + d.box[2]))
        if self.index >= len(ordered):
            if self.last_box is None:
                raise InputError(f"face='index:{self.index}' asks for face {self.index} from the left (counting "
                                 f"from 0) but frame {frame_no}, the first with a face, shows {len(ordered)}")
            return max(dets, key=lambda d: d.side)
        return ordered[self.index]

    def _accept(self, gray: np.ndarray, fit: ShapeFit, det: Detection | None,
                box: np.ndarray | None = None, patch: np.ndarray | None = None) -> None:
        """Make ``fit`` the followed face (``box``/``patch``: its box and grey patch when already computed)."""
        self.prev = fit.landmarks
        self.last_box = box_from_points(fit.landmarks) if box is None else box
        self.patch = _patch(gray, self.last_box) if patch is None else patch
        if det is not None:
            self.det_conf = self.detector.confidence(det.score)
            self.detected = fit.landmarks
            self.since_detection = 0
        else:
            self.since_detection += 1

    def _confidence(self, fit: ShapeFit) -> float:
        return min(self.det_conf, float(np.clip(1.0 - fit.agreement / (2 * MAX_AGREEMENT), 0.0, 1.0)))

    def step(self, gray: np.ndarray, frame_no: int) -> tuple[np.ndarray | None, int, float]:
        """Landmarks (68, 2) or None, flags and confidence of one (H, W) uint8 frame."""
        if self.prev is not None:
            fit = self.predictor(gray, box_from_points(self.prev))
            box = box_from_points(fit.landmarks)
            patch = _patch(gray, box)
            ncc = float((patch * self.patch).sum())
            size_ratio, resid = shape_drift(fit.landmarks, self.detected)
            consistent = fit.agreement <= MAX_AGREEMENT and ncc >= MIN_NCC
            drifted = not 1 / SIZE_DRIFT <= size_ratio <= SIZE_DRIFT or resid > SHAPE_DRIFT
            if consistent and not drifted and self.since_detection < REDETECT_EVERY:
                self._accept(gray, fit, None, box, patch)
                return fit.landmarks, 0, self._confidence(fit)
            near = [d for d in self.detector.detect_near(gray, box) if _iou(d.box, box) > 0.3]
            if near:
                det = max(near, key=lambda d: _iou(d.box, box))
                fit = self.predictor(gray, det.box)
                self._accept(gray, fit, det)
                return fit.landmarks, FLAG_REDETECTED, self._confidence(fit)
            if consistent:  # detector could not confirm a face that still tracks well: keep it, trust it less
                self.det_conf *= 0.5
                self._accept(gray, fit, None, box, patch)
                self.since_detection = 0
                return fit.landmarks, 0, self._confidence(fit)
            self.prev = None
        dets = self.detector.detect(gray, (0, 1) if gray.size <= UPSAMPLE_MAX_PIXELS else (0,))
        if not dets:
            return None, FLAG_NO_FACE, 0.0
        det = self._choose(dets, gray, frame_no)
        fit = self.predictor(gray, det.box)
        self._accept(gray, fit, det)
        return fit.landmarks, FLAG_REDETECTED, self._confidence(fit)


def _fill_gaps(frames: np.ndarray, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Linearly interpolate (T, ...) ``values`` over frame numbers where ``valid`` is False; hold at the ends."""
    flat = values.reshape(len(values), -1)
    out = flat.copy()
    for j in range(flat.shape[1]):
        out[~valid, j] = np.interp(frames[~valid], frames[valid], flat[valid, j])
    return out.reshape(values.shape)


def _grey_frames(frames: Iterable[tuple[int, np.ndarray]], depth: int = 8
                 ) -> Iterator[tuple[int, tuple[int, int], np.ndarray]]:
    """``(frame_no, (W, H), grey (H, W) uint8)`` of ``frames``, decoded and converted ahead in a thread (PyAV
    and OpenCV release the GIL while the tracker runs), at most ``depth`` frames ahead; errors are re-raised
    here in order."""
    done = object()
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        it = iter(frames)
        try:
            for frame_no, rgb in it:
                gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else np.ascontiguousarray(rgb)
                item = (frame_no, (rgb.shape[1], rgb.shape[0]), gray)
                while not stop.is_set():
                    try:
                        queue.put(item, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(done)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it
            queue.put(e)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="h2h-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = queue.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                queue.get(timeout=0.1)
            except Empty:
                pass
        worker.join()


def track_landmarks(frames: Iterable[tuple[int, np.ndarray]], detector: str = "hog", face: str = "largest",
                    progress: Callable[[int, int, str], None] | None = None,
                    total: int | None = None, pupils: str = "iris", predictor: str = "native") -> LandmarkTrack:
    """68 landmarks and pupils of one face followed through a shot.

    Three stages overlap: frames are decoded and converted to grey in one thread, the face is followed in the
    calling thread (the native predictor releases the GIL), and the pupils of each frame are found in a
    third while the next frame is followed. Each stage sees exactly the inputs it would in sequence, so the
    result is the same as one loop's.

    Args:
        frames: iterable of ``(frame_no, rgb)`` with rgb (H, W, 3) uint8, e.g. a FrameSource.
        detector: ``"hog"`` (default) or ``"cnn"`` (dlib MMOD; slow, only runs on re-detections).
        face: which face to follow: ``"largest"`` or ``"center"`` on the first frame with a face, or
            ``"index:N"``, the N-th face from the left (counting from 0) on that frame.
        progress: ``progress(done, total, what)`` called after every frame.
        total: number of frames, for progress (taken from ``frames.frame_numbers()`` when available).
        pupils: ``"iris"`` (default) or ``"ref"`` (the authors' inverse-intensity centroid).
        predictor: ``"native"`` (default) or ``"dlib"``: which evaluator of dlib's 68-point model (same points).
    Raises:
        NoFaceError when no frame has a face; InputError when the frame size changes within the shot.
    """
    if predictor == "native":  # parse the predictor's model (GIL released) while dlib builds the detector
        loading = threading.Thread(target=native_shape_model, name="h2h-load")
        loading.start()
        face_detector = FaceDetector(detector)
        loading.join()
    else:
        face_detector = FaceDetector(detector)
    follower = _Follower(face_detector, face, predictor)
    if pupils not in PUPIL_IMPLS:
        raise ValueError(f"pupils must be one of {PUPIL_IMPLS}; got {pupils!r}")
    if total is None and hasattr(frames, "frame_numbers") and frames.frame_numbers() is not None:
        total = len(frames.frame_numbers())
    nos, lms, pups, confs, flags = [], [], [], [], []
    size: tuple[int, int] | None = None
    no_face = (np.zeros((2, 2), np.float32), np.zeros(2, np.float32))
    with ThreadPoolExecutor(1, thread_name_prefix="h2h-pupils") as pool:
        for i, (frame_no, frame_size, gray) in enumerate(_grey_frames(frames)):
            if size is None:
                size = frame_size
            elif frame_size != size:
                raise InputError(f"frame {frame_no} is {frame_size[0]}x{frame_size[1]}; the shot started at "
                                 f"{size[0]}x{size[1]}")
            lm, flag, conf = follower.step(gray, frame_no)
            if lm is None:
                lm, pup = np.zeros((68, 2), np.float32), None
            else:
                pup = pool.submit(locate_pupils, gray, lm, pupils)
                if conf < LOW_CONFIDENCE:
                    flag |= FLAG_LOW_CONFIDENCE
            nos.append(frame_no)
            lms.append(lm)
            pups.append(pup)
            confs.append(conf)
            flags.append(flag)
            if progress is not None:
                progress(i + 1, total if total is not None else i + 1, "landmarks")
        found = [no_face if p is None else p.result() for p in pups]
    frame_arr = np.array(nos, np.int64)
    flag_arr = np.array(flags, np.uint8)
    valid = (flag_arr & FLAG_NO_FACE) == 0
    if not valid.any():
        raise NoFaceError(f"no face found in any of the {len(frame_arr)} frames of "
                          f"{getattr(frames, 'path', 'the input')}")
    lm_arr = np.array(lms, np.float32)
    pup_arr = np.array([p for p, _ in found], np.float32)
    pconf = np.array([c for _, c in found], np.float32)
    if not valid.all():
        lm_arr, pup_arr = _fill_gaps(frame_arr, lm_arr, valid), _fill_gaps(frame_arr, pup_arr, valid)
    return LandmarkTrack(frame_arr, lm_arr, pup_arr, np.array(confs, np.float32), flag_arr,
                         size if size is not None else (0, 0), pconf)
